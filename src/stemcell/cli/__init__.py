"""The ``stemcell`` command. One module per subcommand; this file only wires them.

Exit codes: 0 success, 1 the lab or a check failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import click

from stemcell import __version__


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="stemcell")
@click.option("--lab", default=None, help="Lab for the app's start screen.")
@click.option("--profile", default=None, help="Profile: apache-python or apache-php.")
@click.option("--backend", type=click.Choice(["sandbox", "aws"]), default=None)
@click.option("--region", default=None, help="AWS region (with --backend aws).")
@click.option("--aws-profile", default=None, help="AWS credentials profile.")
@click.option("--speed", type=float, default=None, help="Sandbox speed (modeled s per s).")
@click.pass_context
def main(ctx: click.Context, lab: str | None, profile: str | None, backend: str | None,
         region: str | None, aws_profile: str | None, speed: float | None) -> None:
    """stemcell: bake one image, launch every server from it, measure why it is faster.

    With no command, opens the lab in the terminal app (sandbox backend).
    """
    if ctx.invoked_subcommand is None:
        from stemcell.cli.tui import open_app

        open_app(lab, profile, backend, region, aws_profile, speed)


def _register() -> None:
    # Each subcommand lives in its own module; add one line per command here.
    from stemcell.cli.report import report
    from stemcell.cli.run import run
    from stemcell.cli.sandbox import sandbox
    from stemcell.cli.validate import validate

    main.add_command(report)
    main.add_command(run)
    main.add_command(sandbox)
    main.add_command(validate)
    from stemcell.cli.check import check; main.add_command(check)  # noqa: E702, I001
    from stemcell.cli.replay import replay; main.add_command(replay)  # noqa: E702, I001
    from stemcell.cli.runs import runs; main.add_command(runs)  # noqa: E702, I001
    from stemcell.cli.serve import serve; main.add_command(serve)  # noqa: E702, I001
    from stemcell.cli.cleanup import cleanup; main.add_command(cleanup)  # noqa: E702, I001


_register()
