"""Run checks against one host or a roster of hosts.

One SSH connection per host, checks in prerequisite order; a failed (or
skipped) prerequisite skips its dependents with the reason, as check50 does,
instead of a cascade of errors. A host that cannot be reached gets every
host check reported as unreachable with the cause; cloud checks (image,
instance) still run, since they ask the EC2 API, not the host. Hosts of a
roster run in a bounded thread pool, each under its own deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from stemcell.checks.cloudfacts import CloudFacts
from stemcell.checks.model import Cause, CheckResult, HostReport, Report, Status, clean
from stemcell.checks.plan import PlannedCheck, order
from stemcell.checks.probe import CheckError, HostContext, NotApplicable, Probe
from stemcell.checks.registry import CLOUD_KINDS, KINDS
from stemcell.checks.ssh_remote import HostUnreachable, Remote, SshRemote, known_hosts_for
from stemcell.checks.targets import HostSpec, Route, UnknownHost, route
from stemcell.content.models import CheckSpec
from stemcell.remote.dialer import Dialer
from stemcell.remote.watchdog import Watchdog

# Opens the SSH connection for a host; tests hand in their own.
Connector = Callable[[HostSpec, Route, float], Remote]
OnResult = Callable[[CheckResult], None]


@dataclass
class CheckOptions:
    """How to reach hosts and judge them; shared by every host of a roster."""

    dialer: Dialer | None = None  # a sandbox's mapping; None: dial directly
    cloud: CloudFacts | None = None  # EC2 facts; None: image/instance checks skipped
    course_account: str | None = None
    deadline: float = 60.0  # wall seconds per host, connecting included
    command_timeout: float = 15.0
    known_hosts: Path | None = None
    key: Path | None = None  # default key when a host names none
    connector: Connector | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    # OpenSSH's accept-new: pin an unknown host's key once. Without it, a host needs a
    # pinned key or a console fingerprint to be trusted.
    accept_new: bool = False
    # The watchdogs of the hosts being checked now: Ctrl-C fires them all.
    live: set[Watchdog] = field(default_factory=set)
    live_lock: threading.Lock = field(default_factory=threading.Lock)

    def stop_everything(self) -> None:
        """Cancel the check run: every host's connections are closed at once."""
        self.cancel.set()
        with self.live_lock:
            watchdogs = list(self.live)
        for watchdog in watchdogs:
            watchdog.fire()


def ssh_connector(options: CheckOptions, watchdog: Watchdog | None = None) -> Connector:
    def connect(spec: HostSpec, where: Route, deadline: float) -> Remote:
        key_path = spec.key or options.key
        if key_path is None:
            raise HostUnreachable(
                "no private key given", hint="pass --key PATH (or a roster 'key' column)"
            )
        if not key_path.is_file():
            raise HostUnreachable(f"private key {key_path} not found", hint="check --key PATH")
        iid = _instance_id(options.cloud, spec)
        return SshRemote.connect(
            where.ssh,
            user=spec.user,
            key_path=key_path,
            label=spec.host if spec.port == 22 else f"{spec.host}:{spec.port}",
            known_hosts=known_hosts_for(spec.host, where.via, options.known_hosts),
            wall_seconds=deadline - time.monotonic(),
            cancel=options.cancel,
            fingerprints=_console_fingerprints(options.cloud, iid, deadline, options.cancel),
            watchdog=watchdog,
            accept_new=options.accept_new,
            # An instance id names the machine; its address may be reused.
            pin_as=iid,
        )

    return connect


def _instance_id(cloud: CloudFacts | None, spec: HostSpec) -> str | None:
    """The instance behind ``spec``: given, or found by its public address (EC2 API)."""
    if spec.is_instance_id:
        return spec.host
    if cloud is None:
        return None
    try:
        return cloud.instance_at(spec.host)
    except Exception:  # no permission, not this account: check by address alone
        return None


CONSOLE_WAIT = 180.0  # wall seconds, at most, to wait for the fingerprint block
CONSOLE_POLL = 2.0


def _console_fingerprints(
    cloud: CloudFacts | None, instance_id: str | None, deadline: float,
    cancel: threading.Event,
) -> Callable[[], dict[str, str]] | None:
    """The host key fingerprints cloud-init printed on the console, when we can ask.

    A server that has just booted (``--launch``, a roster right after the lab) shows
    SSH before cloud-init prints the block, so the console is polled for it: up to
    ``CONSOLE_WAIT`` seconds, and never past half the host's remaining time (the
    checks need the rest).
    """
    if cloud is None or instance_id is None:
        return None

    def poll() -> dict[str, str]:
        until = time.monotonic() + min(CONSOLE_WAIT, (deadline - time.monotonic()) / 2)
        while True:
            found = cloud.console_fingerprints(instance_id)
            if found or time.monotonic() >= until:
                return found
            if cancel.wait(min(CONSOLE_POLL, max(0.0, until - time.monotonic()))):
                return {}

    return poll


def run_checks(
    checks: Sequence[PlannedCheck | CheckSpec],
    host: HostSpec,
    options: CheckOptions | None = None,
    *,
    on_result: OnResult | None = None,
) -> HostReport:
    """Run ``checks`` against ``host``; ``on_result`` hears each result as it is known."""
    options = options or CheckOptions()
    planned = order(checks)
    started = time.monotonic()
    deadline = started + options.deadline
    report = HostReport(name=host.label, host=host.host)
    needs_host = any(p.spec.kind not in CLOUD_KINDS for p in planned)
    # The host's whole time (connect, exec requests, every read, HTTP probes) is
    # bounded: when it is up the watchdog closes whatever is open.
    watchdog = Watchdog(max(0.0, deadline - time.monotonic())) if needs_host else None
    if watchdog is not None:
        with options.live_lock:
            options.live.add(watchdog)
        if options.cancel.is_set():
            watchdog.fire()

    def emit(result: CheckResult) -> None:
        # Everything a student's server said is sanitised and redacted before any
        # reporter, callback or UI sees it.
        result = clean(result)
        report.results.append(result)
        if on_result is not None:
            on_result(result)

    remote: Remote | None = None
    http = None
    unreachable: HostUnreachable | None = None
    if needs_host:
        try:
            lookup = options.cloud.public_ip if options.cloud else None
            where = route(host, options.dialer, lookup)
            report.address = f"{where.ssh[0]}:{where.ssh[1]}"
            http = where.http
            connector = options.connector or ssh_connector(options, watchdog)
            remote = connector(host, where, deadline)
        except HostUnreachable as exc:
            unreachable = exc
        except (UnknownHost, LookupError) as exc:
            unreachable = HostUnreachable(str(exc))
    ctx = HostContext(
        spec=host,
        remote=remote,
        http=http,
        cloud=options.cloud,
        course_account=options.course_account,
        deadline=deadline,
        command_timeout=options.command_timeout,
        watchdog=watchdog,
    )
    if unreachable is not None:
        report.reachable = False
        report.error = unreachable.cause
    statuses: dict[str, Status] = {}
    try:
        for p in planned:
            spec = p.spec
            blocked = [d for d in spec.depends if statuses.get(d) is not Status.PASSED]
            if unreachable is not None and spec.kind not in CLOUD_KINDS:
                result = _unreachable(p, unreachable)
            elif blocked:
                result = _skipped(p, blocked, statuses)
            elif options.cancel.is_set():
                result = _result(p, Status.SKIPPED, Cause("the check run was cancelled"))
            else:
                result = _judge(p, ctx)
                if result.status is Status.UNREACHABLE and unreachable is None:
                    report.reachable = False
                    report.error = result.cause.rationale if result.cause else "connection lost"
                    unreachable = HostUnreachable(report.error)
            statuses[spec.id] = result.status
            emit(result)
    finally:
        if remote is not None:
            remote.close()
        if watchdog is not None:
            watchdog.stop()
            with options.live_lock:
                options.live.discard(watchdog)
    report.seconds = time.monotonic() - started
    report.name, report.host, report.address, report.error = clean(
        [report.name, report.host, report.address, report.error])
    return report


def _judge(p: PlannedCheck, ctx: HostContext) -> CheckResult:
    spec = p.spec
    probe = Probe(ctx)
    started = time.monotonic()
    try:
        verdict = KINDS[spec.kind](spec, probe)
    except NotApplicable as exc:
        result = _result(p, Status.SKIPPED, Cause(f"not checked: {exc}"))
    except CheckError as exc:
        result = _result(p, Status.ERROR, Cause(str(exc), spec.hint))
    except HostUnreachable as exc:
        result = _result(p, Status.UNREACHABLE, Cause(exc.cause, exc.hint))
    except Exception as exc:  # output no parser foresaw: report it, keep checking
        result = _result(p, Status.ERROR, Cause(f"could not judge: {type(exc).__name__}: {exc}"))
    else:
        if verdict.passed:
            result = _result(p, Status.PASSED, None)
        else:
            rationale = spec.fail or f"{spec.description}: not so"
            if verdict.detail:
                rationale = f"{rationale} ({verdict.detail})"
            cause = Cause(rationale, spec.hint, verdict.expected, verdict.actual)
            result = _result(p, Status.FAILED, cause)
    result.exchanges = probe.exchanges
    result.seconds = time.monotonic() - started
    return result


def _result(p: PlannedCheck, status: Status, cause: Cause | None) -> CheckResult:
    return CheckResult(
        check_id=p.spec.id,
        kind=p.spec.kind,
        description=p.spec.description,
        status=status,
        step_id=p.step_id,
        cause=cause,
    )


def _skipped(p: PlannedCheck, blocked: list[str], statuses: dict[str, Status]) -> CheckResult:
    why = ", ".join(f"{d} {statuses.get(d, Status.SKIPPED).value}" for d in blocked)
    return _result(p, Status.SKIPPED, Cause(f"can't check until a prerequisite passes ({why})"))


def _unreachable(p: PlannedCheck, exc: HostUnreachable) -> CheckResult:
    return _result(p, Status.UNREACHABLE, Cause(f"host unreachable: {exc.cause}", exc.hint))


OnHost = Callable[[HostSpec], None]
OnHostResult = Callable[[HostSpec, CheckResult], None]
OnHostDone = Callable[[HostSpec, HostReport], None]


Plan = Sequence[PlannedCheck | CheckSpec] | Callable[[HostSpec], Sequence[PlannedCheck]]


def run_roster(
    hosts: Sequence[HostSpec],
    checks: Plan,
    options: CheckOptions | None = None,
    *,
    jobs: int = 20,
    on_host_started: OnHost | None = None,
    on_result: OnHostResult | None = None,
    on_host_finished: OnHostDone | None = None,
) -> Report:
    """Check every host, ``jobs`` at a time; the report keeps the roster's order.

    A host's time goes almost all to waiting (SSH round trips, the deadline of
    an unreachable host), so the pool is sized for a section of a class, not
    for the number of cores.

    ``checks`` is one list for every host, or a function giving each host its
    own (a roster row's role adds that role's checks). Callbacks run on worker
    threads (a UI must hop to its own thread).
    """
    options = options or CheckOptions()
    shared = None if callable(checks) else order(checks)
    started = time.monotonic()

    def one(host: HostSpec) -> HostReport:
        planned = shared if shared is not None else order(checks(host))  # type: ignore[operator]
        if on_host_started is not None:
            on_host_started(host)
        hear = (lambda r: on_result(host, r)) if on_result is not None else None
        try:
            host_report = run_checks(planned, host, options, on_result=hear)
        except Exception as exc:  # a bug in one host's run must not lose the others
            host_report = HostReport(
                name=host.label,
                host=host.host,
                reachable=False,
                error=f"internal error: {type(exc).__name__}: {exc}",
            )
            for p in planned:
                host_report.results.append(_result(p, Status.ERROR, Cause(host_report.error)))
        if on_host_finished is not None:
            on_host_finished(host, host_report)
        return host_report

    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="check")
    try:
        reports = list(pool.map(one, hosts))
    except BaseException:
        # Ctrl-C (or a bug): queued hosts never start, and every running host's
        # connections are closed now (whatever call they block in), instead of
        # waiting out each host's deadline.
        options.stop_everything()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return Report(hosts=reports, seconds=time.monotonic() - started)
