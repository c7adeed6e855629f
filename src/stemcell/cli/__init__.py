"""The ``stemcell`` command. One module per subcommand; this file only wires them.

Exit codes: 0 success, 1 the lab or a check failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import click

from stemcell import __version__


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="stemcell")
@click.pass_context
def main(ctx: click.Context) -> None:
    """stemcell: bake one image, launch every server from it, measure why it is faster.

    With no command, opens the lab in the terminal app (sandbox backend).
    """
    if ctx.invoked_subcommand is None:
        from stemcell.cli.tui import open_app

        open_app()


def _register() -> None:
    # Each subcommand lives in its own module; add one line per command here.
    from stemcell.cli.run import run
    from stemcell.cli.validate import validate

    main.add_command(run)
    main.add_command(validate)


_register()
