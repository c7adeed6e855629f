"""``stemcell run``: the lab, headless, with plain progress; ``--json`` for scripts."""

from __future__ import annotations

import shutil
import sys

import click
from rich.console import Console

from stemcell.cli.printer import Printer
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import ConfigError, Interrupted, StateError
from stemcell.engine.runner import interrupt_on_signals

EXIT = {"succeeded": 0, "failed": 1, "interrupted": 130}


def backend_options(fn):  # type: ignore[no-untyped-def]
    """Options every command that talks to a cloud shares."""
    for option in reversed(
        [
            click.option("--backend", type=click.Choice(["sandbox", "aws"]), default="sandbox",
                         show_default=True, help="Where to run: offline sandbox or real AWS."),
            click.option("--region", default="us-east-1", show_default=True),
            click.option("--aws-profile", default=None, help="Named AWS profile (aws only)."),
            click.option("--speed", type=float, default=None,
                         help="Sandbox only: how much faster than real time modeled time runs."),
        ]
    ):
        fn = option(fn)
    return fn


@click.command()
@click.option("--lab", default="lab1-stem-cell", show_default=True, help="Lab id or YAML path.")
@click.option("--profile", default="apache-python", show_default=True,
              help="Profile id (apache-python, apache-php) or YAML path.")
@backend_options
@click.option("--keep", is_flag=True, help="Skip the final cleanup (clean up later).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before launching on AWS.")
@click.option("--verbose", "-v", is_flag=True, help="Show SSH output line by line.")
@click.option("--ssh-cidr", default=None, help="Who may reach port 22 (default: sandbox "
              "loopback; required on AWS), e.g. 203.0.113.7/32.")
@click.option("--allow-ssh-from-anywhere", is_flag=True,
              help="Allow SSH from 0.0.0.0/0 (not recommended).")
@click.option("--instance-type", default=None, help="Instance type (from the allowlist).")
@click.option("--repeat", type=click.IntRange(1, 20), default=1, show_default=True,
              help="Launch each role N times per setup; report median and spread.")
@click.option("--ta-key", "ta_keys", multiple=True, help="A TA's public key (repeatable).")
@click.option("--course-account", default=None, help="Account id to share the image with.")
@click.option("--faults", default="", metavar="SPEC",
              help="Sandbox only: inject AWS-like faults, e.g. throttle=0.3,capacity=1 "
              "(docs/sandbox.md).")
@click.option("--resume", default=None, metavar="RUN", help="Resume a run by id.")
def run(
    lab: str,
    profile: str,
    backend: str,
    region: str,
    aws_profile: str | None,
    speed: float | None,
    keep: bool,
    as_json: bool,
    yes: bool,
    verbose: bool,
    ssh_cidr: str | None,
    allow_ssh_from_anywhere: bool,
    instance_type: str | None,
    repeat: int,
    ta_keys: tuple[str, ...],
    course_account: str | None,
    faults: str,
    resume: str | None,
) -> None:
    """Run a lab headless, from start to cleanup. Exit 0 on success."""
    from stemcell.session import dump_summary, prepare

    console = Console(stderr=as_json, highlight=False, soft_wrap=True)
    config = RunConfig(
        lab=lab, profile=profile, backend=backend, region=region, aws_profile=aws_profile,
        speed=speed, keep=keep, yes=yes, ssh_cidr=ssh_cidr,
        allow_ssh_from_anywhere=allow_ssh_from_anywhere, instance_type=instance_type,
        repeat=repeat, ta_keys=list(ta_keys), course_account=course_account, faults=faults,
    )
    _check_faults(console, config)
    try:
        session = prepare(config, resume=resume)
    except (ConfigError, StateError) as exc:
        _bad_input(console, exc.message, exc.hint)
    session.bus.subscribe(Printer(console, verbose=verbose))
    try:
        try:
            if not resume:
                _check_config(session.ctx)
            session.open()
        except ConfigError as exc:
            _bad_input(console, exc.message, exc.hint)
        if session.ctx.config.backend == "aws":
            _approve_cost(session, console)
        with interrupt_on_signals(session.ctx):
            try:
                status = session.run()
            except StateError as exc:  # the run is being run by another process
                _bad_input(console, exc.message, exc.hint)
        if as_json:
            click.echo(dump_summary(session.summary()))
        else:
            console.print(f"recording: {session.ctx.run_dir / 'recording.jsonl'}")
    finally:
        session.close()
        if session.ctx.state.status == "created" and not session.ctx.state.resources:
            # Refused before the first step (cost not confirmed, no credentials): a run
            # that never ran is no run to list, resume or clean up.
            shutil.rmtree(session.ctx.run_dir, ignore_errors=True)
    raise SystemExit(EXIT.get(status, 1))


def _check_config(ctx: Context) -> None:
    """Bad flags are bad input (exit 2) before anything starts, not a failed step.

    A run refused here never ran: the ``finally`` in ``run`` removes its folder.
    """
    from stemcell.cloud.pricing import choose_instance_type
    from stemcell.steps.step_create_security_group import ssh_cidr

    config, profile = ctx.config, ctx.profile
    ssh_cidr(config, config.backend == "sandbox")
    choose_instance_type(config.instance_type, profile.instance_type,
                         profile.base_image.architecture)


def _check_faults(console: Console, config: RunConfig) -> None:
    """A bad --faults spec is bad input (exit 2) before a run folder exists."""
    if not config.faults:
        return
    from stemcell.sandbox.faults import FaultSpec, FaultSpecError

    if config.backend != "sandbox":
        _bad_input(console, "--faults works with the sandbox backend only",
                   "AWS brings its own faults.")
    try:
        FaultSpec.parse(config.faults)
    except FaultSpecError as exc:
        _bad_input(console, f"--faults: {exc}")


def _bad_input(console: Console, message: str, hint: str = "") -> None:
    console.print(f"[red]error:[/] {message}", highlight=False)
    if hint:
        console.print(f"[yellow]hint:[/] {hint}")
    raise SystemExit(2)


def _approve_cost(session, console: Console) -> None:  # type: ignore[no-untyped-def]
    """Show what will be created and what it costs; ask unless --yes.

    No terminal to ask on and no --yes is bad input (exit 2); a "no" is a decision
    (exit 1). Either way nothing has been created yet.
    """
    from stemcell.cloud.pricing import confirm_launch, estimate

    ctx = session.ctx
    quote = estimate(ctx.lab, ctx.profile, ctx.config)
    console.print("This run creates, on your AWS account:")
    for line in quote.lines:
        console.print(f"  {line}")
    console.print(f"  [bold]estimated total: ${quote.usd:.2f}[/]")

    def ask(_question: str) -> bool:  # the estimate is on screen already
        return click.confirm("Launch these resources on your AWS account?", default=False,
                             err=True)

    # The policy (--yes, nobody to ask, a "no") is pricing's; the words are ours.
    try:
        confirm_launch(ctx.lab, ctx.profile, ctx.config, ask if sys.stdin.isatty() else None)
    except ConfigError:
        _bad_input(console, "on AWS, confirm the cost at a terminal or pass --yes",
                   "Nothing was launched.")
    except Interrupted:
        console.print("Nothing was launched.")
        raise SystemExit(1) from None
