"""The ``stemcell`` console script.

``stemcell`` alone opens the app straight away: parsing an empty command line
does not need click, whose import (~0.1 s) would delay the app's first frame.
Anything else (options, subcommands, ``--help``) goes to the CLI in ``stemcell.cli``.
"""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1:
        from stemcell.cli import main as cli

        cli()
        return
    from stemcell.engine.context import RunConfig
    from stemcell.tui.launch import open_app

    open_app(RunConfig())
