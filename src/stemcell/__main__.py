from stemcell.cli import main

main()
