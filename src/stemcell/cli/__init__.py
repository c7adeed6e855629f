"""The ``stemcell`` command. One module per subcommand; this file only wires them.

Subcommands are imported only when invoked (a lazy group), so ``stemcell`` with no
command pays for the TUI alone and draws its first frame sooner: importing every
command up front (paramiko, pydantic, boto3 ...) cost ~0.3 s.

Exit codes: 0 success, 1 the lab or a check failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import importlib

import click

from stemcell import __version__

# name -> "module:attribute"; add one line per command.
COMMANDS = {
    "check": "stemcell.cli.cmd_check:check",
    "cleanup": "stemcell.cli.cmd_cleanup:cleanup",
    "replay": "stemcell.cli.cmd_replay:replay",
    "report": "stemcell.cli.cmd_report:report",
    "run": "stemcell.cli.cmd_run:run",
    "runs": "stemcell.cli.cmd_runs:runs",
    "sandbox": "stemcell.cli.cmd_sandbox:sandbox",
    "serve": "stemcell.cli.cmd_serve:serve",
    "validate": "stemcell.cli.cmd_validate:validate",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, attr = COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, invoke_without_command=True)
@click.version_option(__version__, prog_name="stemcell")
@click.option("--lab", default=None, help="Lab for the app's start screen.")
@click.option("--profile", default=None, help="Profile: apache-python or apache-php.")
@click.option("--backend", type=click.Choice(["sandbox", "aws"]), default=None)
@click.option("--region", default=None, help="AWS region (with --backend aws).")
@click.option("--aws-profile", default=None, help="AWS credentials profile.")
@click.option("--speed", type=float, default=None, help="Sandbox speed (modeled s per s).")
@click.option("--faults", default="", metavar="SPEC",
              help="Sandbox faults for the app's runs, e.g. throttle=0.3 (docs/sandbox.md).")
@click.pass_context
def main(ctx: click.Context, lab: str | None, profile: str | None, backend: str | None,
         region: str | None, aws_profile: str | None, speed: float | None,
         faults: str) -> None:
    """stemcell: bake one image, launch every server from it, measure why it is faster.

    With no command, opens the lab in the terminal app (sandbox backend).
    """
    if ctx.invoked_subcommand is None:
        from stemcell.cli.cmd_tui import open_app

        open_app(lab, profile, backend, region, aws_profile, speed, faults)
