"""``stemcell check``: TA checks over SSH for one host, a class roster, or a launch.

Exit 0 when every check passed, 1 when any failed (or a host was unreachable),
2 for bad input (unknown step, bad roster: file:line message), 130 interrupted.

Everything a student's server sends is hostile input: it is sanitised and
redacted before it reaches the terminal or a report, and every student-supplied
string is printed as text, never as Rich markup.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from stemcell.checks import (
    FORMATS,
    CheckOptions,
    HostReport,
    HostSpec,
    PlanError,
    PlannedCheck,
    Report,
    RosterError,
    Status,
    load_roster,
    run_roster,
    running_sandbox,
    select,
)
from stemcell.checks.cloudfacts import CloudFacts
from stemcell.checks.reporters.text import print_report
from stemcell.checks.targets import RunningSandbox
from stemcell.content import ContentError, Lab, load_lab
from stemcell.content.names import UnknownContent, content_path
from stemcell.engine.errors import ConfigError, Interrupted, StemcellError


@click.command()
@click.option("--host", default=None, help="Public address or instance id of the server.")
@click.option(
    "--roster",
    type=click.Path(path_type=Path),
    default=None,
    help="YAML or CSV with columns student, host, user, key, ami (optional).",
)
@click.option("--user", default="ubuntu", show_default=True, help="SSH user.")
@click.option(
    "--key",
    type=click.Path(path_type=Path),
    default=None,
    help="Private key to log in with (a roster's 'key' column overrides it).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=22, show_default=True)
@click.option("--lab", default="lab1-stem-cell", show_default=True, help="Lab id or YAML path.")
@click.option("--step", "steps", multiple=True, help="Only this step's checks (repeatable).")
@click.option(
    "--role",
    default=None,
    help="The server's role (web, app-api, app-worker): adds that role's checks.",
)
@click.option("--ami", default=None, help="The student's AMI, for the image/instance checks.")
@click.option("--account", default=None, help="The student's AWS account id (12 digits).")
@click.option("--course-account", default=None, help="Account the AMI must be shared with.")
@click.option(
    "--aws-profile",
    default=None,
    help="Credentials for cloud checks (image, instance) and instance ids.",
)
@click.option("--region", default="us-east-1", show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(sorted(FORMATS)), default="text", show_default=True
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the report to FILE instead of the terminal.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=20,
    show_default=True,
    help="Hosts checked at the same time (roster).",
)
@click.option(
    "--deadline",
    type=click.FloatRange(1, 3600),
    default=None,
    help="Seconds allowed per host, connecting included [default: 60; 600 with --launch, "
    "which waits for the boot].",
)
@click.option(
    "--known-hosts",
    type=click.Path(path_type=Path),
    default=None,
    help="known_hosts file to pin host keys in (default: stemcell's own).",
)
@click.option(
    "--accept-new",
    is_flag=True,
    help="Trust a host seen for the first time and pin its key (OpenSSH's accept-new); "
    "a changed key is still refused. Without it a host needs a pinned key or console "
    "fingerprints.",
)
@click.option("--yes", is_flag=True, help="With --launch on AWS: accept the cost without asking.")
@click.option("--verbose", "-v", is_flag=True, help="Show the commands of passing checks too.")
@click.option(
    "--launch",
    "launch_ami",
    default=None,
    metavar="AMI",
    help="Launch AMI with --user-data, check it, terminate it.",
)
@click.option(
    "--user-data",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The student's boot script, with --launch.",
)
@click.option(
    "--backend",
    type=click.Choice(["sandbox", "aws"]),
    default="sandbox",
    show_default=True,
    help="Where --launch launches.",
)
@click.option("--security-group", default=None, help="With --launch on AWS: the group to use.")
@click.option(
    "--instance-type", default="t3.micro", show_default=True, help="With --launch: the type."
)
@click.option(
    "--trust-student-code",
    is_flag=True,
    help="With --launch on the sandbox: run the student's code even where it cannot be "
    "isolated (no bubblewrap, not Linux).",
)
@click.option("--tui", is_flag=True, help="Watch the roster's progress live in the app.")
def check(
    host: str | None,
    roster: Path | None,
    user: str,
    key: Path | None,
    port: int,
    lab: str,
    steps: tuple[str, ...],
    role: str | None,
    ami: str | None,
    account: str | None,
    course_account: str | None,
    aws_profile: str | None,
    region: str,
    fmt: str,
    output: Path | None,
    jobs: int,
    deadline: float | None,
    known_hosts: Path | None,
    accept_new: bool,
    yes: bool,
    verbose: bool,
    launch_ami: str | None,
    user_data: Path | None,
    backend: str,
    security_group: str | None,
    instance_type: str,
    trust_student_code: bool = False,
    tui: bool = False,
) -> None:
    """Check a student's server(s) over SSH against the lab's checks."""
    err = Console(stderr=True, highlight=False)
    chosen = [n for n, v in (("--host", host), ("--roster", roster), ("--launch", launch_ami)) if v]
    if len(chosen) != 1:
        _bad(
            "give exactly one of --host, --roster or --launch"
            + (f" (got {', '.join(chosen)})" if chosen else ""),
        )
    if launch_ami and user_data is None:
        _bad("--launch needs --user-data FILE (the student's boot script)")
    if account and not (account.isdigit() and len(account) == 12):
        _bad(f"--account must be a 12-digit AWS account id, not {account!r}")
    if key is not None and not key.is_file():
        _bad(f"--key {key}: no such file")
    if user_data is not None and not user_data.is_file():
        _bad(f"--user-data {user_data}: no such file")
    if launch_ami and backend == "sandbox" and not trust_student_code:
        # The sandbox runs the student's programs on this machine: only isolated.
        from stemcell.sandbox.machine.worker_sandbox import isolation

        iso = isolation()
        if not iso.isolated:
            _bad(f"refusing to run a student's code unisolated on this machine: "
                 f"{iso.reason}. Install bubblewrap, or pass --trust-student-code.")
    lab_model = _load_lab(err, lab)
    try:
        planned = select(lab_model, steps, role)
    except PlanError as exc:
        _bad(str(exc))
    if not planned:
        _bad("no checks selected (try without --step, or with --role)")

    cancel = threading.Event()
    options = CheckOptions(
        deadline=deadline or (600.0 if launch_ami else 60.0),
        known_hosts=known_hosts,
        key=key,
        cancel=cancel,
        course_account=course_account or lab_model.course_account,
        # --launch checks a server this very command created: its first key is the
        # one to pin (the console is asked first all the same).
        accept_new=accept_new or bool(launch_ami),
    )
    try:
        sandbox = running_sandbox()
        options.dialer = sandbox.dialer if sandbox else None
        options.cloud = _cloud_facts(aws_profile, region, sandbox)
        if launch_ami:
            spec = HostSpec(host="", user=user, key=key, role=role, account=account)
            report = _launch(
                launch_ami,
                user_data or Path(),
                planned,
                options,
                backend,
                region,
                aws_profile,
                security_group,
                instance_type,
                spec,
                err,
                lab_model.id,
                yes,
            )
        else:
            hosts = _hosts(err, host, roster, user, key, port, ami, role, account)
            report = _run(hosts, lab_model, options, jobs, steps, role, err, fmt,
                          tui=tui, source=str(roster or host or ""))
    except KeyboardInterrupt:
        options.stop_everything()
        err.print("interrupted")
        raise SystemExit(130) from None
    except ConfigError as exc:
        _bad(exc.message, exc.hint)
    except Interrupted as exc:  # e.g. the cost was not confirmed
        err.print(escape(exc.message))
        raise SystemExit(1) from None
    except StemcellError as exc:
        err.print(f"[red]error:[/] {escape(exc.message)}")
        if exc.hint:
            err.print(f"[yellow]hint:[/] {escape(exc.hint)}")
        raise SystemExit(1) from None
    report.lab = lab_model.id
    _emit(report, fmt, output, verbose)
    raise SystemExit(0 if report.ok else 1)


def _launch(
    ami: str,
    user_data: Path,
    planned: list[PlannedCheck],
    options: CheckOptions,
    backend: str,
    region: str,
    aws_profile: str | None,
    security_group: str | None,
    instance_type: str,
    host: HostSpec,
    err: Console,
    lab: str = "",
    yes: bool = False,
) -> Report:
    from stemcell.checks.launch_and_check import (
        confirm_cost,
        launch_and_check,
        require_security_group,
    )
    from stemcell.cloud.backend import open_backend
    from stemcell.engine.context import RunConfig

    require_security_group(backend, security_group)
    opened = open_backend(RunConfig(backend=backend, region=region, aws_profile=aws_profile))
    try:
        options.dialer = opened.dialer if opened.simulated else None
        options.cloud = CloudFacts(opened.cloud.ec2)
        return launch_and_check(
            opened.cloud,
            ami,
            user_data.read_text(encoding="utf-8"),
            planned,
            options,
            host=host,
            instance_type=instance_type,
            security_group=security_group,
            say=lambda line: err.print(line, highlight=False, markup=False),
            lab=lab,
            approve=confirm_cost(backend, region, yes, _ask if sys.stdin.isatty() else None),
        )
    finally:
        opened.close()


def _ask(question: str) -> bool:
    click.echo(question.rsplit("\n", 1)[0], err=True)  # the estimate
    return click.confirm(question.rsplit("\n", 1)[-1], default=False, err=True)


def _bad(message: str, hint: str = "") -> None:
    # Plain echo: a file:line message must stay on one line for editors to jump to.
    click.echo(f"error: {message}", err=True)
    if hint:
        click.echo(f"hint: {hint}", err=True)
    raise SystemExit(2)


def _load_lab(err: Console, name: str) -> Lab:
    try:  # the same names as `stemcell run --lab` (lab1 is lab1-stem-cell)
        path = content_path("lab", name)
    except UnknownContent as exc:
        _bad(str(exc))
    try:
        return load_lab(path)
    except ContentError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(2) from None


def _cloud_facts(
    aws_profile: str | None, region: str, sandbox: RunningSandbox | None
) -> CloudFacts | None:
    """EC2 facts from AWS when a profile is named, else from a running sandbox."""
    if aws_profile:
        from stemcell.cloud.backend import open_backend
        from stemcell.engine.context import RunConfig

        backend = open_backend(RunConfig(backend="aws", aws_profile=aws_profile, region=region))
        return CloudFacts(backend.cloud.ec2)
    if sandbox is not None:
        from stemcell.cloud.clients import sandbox_session
        from stemcell.cloud.ec2 import Cloud

        session = sandbox_session(region, sandbox.credentials)
        return CloudFacts(Cloud(session, region, sandbox.endpoint_url).ec2)
    return None


def _hosts(
    err: Console,
    host: str | None,
    roster: Path | None,
    user: str,
    key: Path | None,
    port: int,
    ami: str | None,
    role: str | None,
    account: str | None,
) -> list[HostSpec]:
    if roster is not None:
        try:
            return load_roster(roster)
        except RosterError as exc:
            _bad(str(exc))
    return [
        HostSpec(
            host=host or "", user=user, key=key, port=port, ami=ami, role=role, account=account
        )
    ]


def _run(
    hosts: list[HostSpec],
    lab: Lab,
    options: CheckOptions,
    jobs: int,
    steps: tuple[str, ...],
    role: str | None,
    err: Console,
    fmt: str,
    *,
    tui: bool = False,
    source: str = "",
) -> Report:
    # A roster row may name its own role, which adds that role's checks.
    plans = {r: select(lab, steps, r) for r in {h.role or role for h in hosts}}
    if tui:
        from stemcell.tui.roster_view import RosterApp

        app = RosterApp(hosts, lambda h: plans[h.role or role], options, jobs=jobs,
                        source=source)
        app.run()
        if app.report is None:  # quit before the end: nothing complete to report
            options.stop_everything()  # the hosts still being checked stop now
            raise SystemExit(130)
        return app.report
    progress = len(hosts) > 1 and (sys.stderr.isatty() or fmt != "text")

    def finished(spec: HostSpec, host_report: HostReport) -> None:
        if not progress:
            return
        if not host_report.reachable:
            state = f"unreachable ({host_report.error})"
        elif host_report.ok:
            state = "all good"
        else:
            state = f"{host_report.count(Status.FAILED)} failed"
        # Names and errors come from the roster and the student's server: never markup.
        err.print(f"checked {host_report.name}: {state} [{host_report.seconds:.1f} s]",
                  markup=False)

    return run_roster(
        hosts, lambda h: plans[h.role or role], options, jobs=jobs, on_host_finished=finished
    )


def _emit(report: Report, fmt: str, output: Path | None, verbose: bool) -> None:
    if fmt == "text" and output is None:
        print_report(report, Console(highlight=False), verbose=verbose)
        return
    if fmt == "text":
        from stemcell.checks.reporters.text import render

        text = render(report, verbose=verbose)
    else:
        text = FORMATS[fmt](report)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        Console(stderr=True, highlight=False).print(f"report written to {output}")
