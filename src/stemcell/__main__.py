from stemcell.console import main

main()
