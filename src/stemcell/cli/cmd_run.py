"""``stemcell run``: the lab, headless, with plain progress; ``--json`` for scripts."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from typing import TYPE_CHECKING

import click
from rich.console import Console

from stemcell.cli.printer import Printer
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import ConfigError, Interrupted, StateError
from stemcell.engine.runner import interrupt_on_signals
from stemcell.engine.statuses import RunStatus

if TYPE_CHECKING:
    from stemcell.engine.events import Event
    from stemcell.session import LabSession

EXIT = {RunStatus.SUCCEEDED: 0, RunStatus.FAILED: 1, RunStatus.INTERRUPTED: 130}


def backend_options(fn):  # type: ignore[no-untyped-def]
    """Options every command that talks to a cloud shares."""
    for option in reversed(
        [
            click.option("--backend", type=click.Choice(["sandbox", "aws"]), default="sandbox",
                         show_default=True, help="Where to run: offline sandbox or real AWS."),
            click.option("--region", default=None,
                         help="Region (default: the AWS session's, from --aws-profile, "
                         "AWS_REGION or the profile's config; else us-east-1 in the sandbox)."),
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
@click.option("--hands-on", is_flag=True, help="You do each step (AWS CLI, ssh); stemcell "
              "shows the commands, recognises what you made and checks it. With --json: one "
              "{\"step\", \"commands\"} object per line as each step begins.")
def run(
    lab: str,
    profile: str,
    backend: str,
    region: str | None,
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
    hands_on: bool,
) -> None:
    """Run a lab headless, from start to cleanup. Exit 0 on success."""
    from stemcell.session import dump_summary, prepare

    console = Console(stderr=as_json, highlight=False, soft_wrap=True)
    config = RunConfig(
        lab=lab, profile=profile, backend=backend, region=region or "", aws_profile=aws_profile,
        speed=speed, keep=keep, yes=yes, ssh_cidr=ssh_cidr,
        allow_ssh_from_anywhere=allow_ssh_from_anywhere, instance_type=instance_type,
        repeat=repeat, ta_keys=list(ta_keys), course_account=course_account, faults=faults,
        hands_on=hands_on,
    )
    _check_faults(console, config)
    try:
        session = prepare(config, resume=resume)
    except (ConfigError, StateError) as exc:
        _bad_input(console, exc.message, exc.hint)
    session.bus.subscribe(Printer(console, verbose=verbose))
    hands = session.ctx.config.hands_on
    if hands and as_json:
        session.bus.subscribe(_step_commands)
    try:
        try:
            _check_mode(session.ctx)  # a resumed run too: the course policy holds
            if not resume:
                _check_config(session.ctx)
            session.open()
        except ConfigError as exc:
            _bad_input(console, exc.message, exc.hint)
        if session.ctx.config.backend == "aws":
            _approve_cost(session, console)
        if hands:
            # To the terminal, never to stdout: the lines may hold sandbox credentials.
            setup_out = Console(stderr=True, highlight=False, soft_wrap=True)
            for line in student_setup(session):
                setup_out.print(line, markup=False)
        with interrupt_on_signals(session.ctx):
            try:
                status = session.run()
            except StateError as exc:  # the run is being run by another process
                _bad_input(console, exc.message, exc.hint)
        if as_json and hands:  # JSON Lines: every line of stdout is one object
            click.echo(json.dumps(session.summary(), sort_keys=True, default=str))
        elif as_json:
            click.echo(dump_summary(session.summary()))
        else:
            console.print(f"recording: {session.ctx.folder.recording}")
    finally:
        session.close()
        if session.ctx.state.status is RunStatus.CREATED and not session.ctx.state.resources:
            # Refused before the first step (cost not confirmed, no credentials): a run
            # that never ran is no run to list, resume or clean up.
            shutil.rmtree(session.ctx.folder.path, ignore_errors=True)
    raise SystemExit(EXIT.get(status, 1))


def _step_commands(event: Event) -> None:
    """--hands-on --json: as a student's step begins, its commands as one line of stdout."""
    from stemcell.engine.events import StudentTask

    if isinstance(event, StudentTask):
        click.echo(json.dumps({"step": event.step_id, "commands": event.commands}))
        sys.stdout.flush()


def student_setup(session: LabSession) -> list[str]:
    """What the student's shell needs once, before the first command (to the console).

    Shell lines, so ``eval`` or copy-paste both work. A background sandbox: its
    ``stemcell sandbox env``; this process's own sandbox: its endpoint and
    credentials.
    """
    ctx = session.ctx
    key = ctx.folder.key
    lines = ["# hands-on: you type each step's commands; stemcell checks what you made.",
             "# In the shell where you type them, first run:"]
    handle = session.backend.sandbox if session.backend is not None else None
    if handle is not None and handle.background:
        lines.append('eval "$(stemcell sandbox env)"')
    elif handle is not None:
        from stemcell.sandbox.credentials import aws_env

        # Every sandbox has its own credentials (a background one without them is
        # never joined: sandbox/connect.connect_or_start).
        env = aws_env(handle.endpoint_url, handle.credentials, ctx.config.region)
        lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    else:
        if ctx.config.aws_profile:
            lines.append(f"export AWS_PROFILE={shlex.quote(ctx.config.aws_profile)}")
        lines.append(f"export AWS_DEFAULT_REGION={shlex.quote(ctx.config.region)}")
    lines.append(f"# Your SSH key will live at {key} (mode 0600); the files the commands "
                 f"name are in {ctx.folder.handson}.")
    return lines


def _check_mode(ctx: Context) -> None:
    """The course's autopilot policy: guided mode only where the lab file allows it."""
    from stemcell.session import autopilot_refusal

    refusal = autopilot_refusal(ctx.config, ctx.lab)
    if refusal:
        raise ConfigError(refusal, hint="In hands-on mode you type each step's commands "
                          "and stemcell checks them (docs/handson.md).")


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
