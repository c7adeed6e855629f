"""Measure every role server's boot: SSH marks, cloud-init's stages, bytes, HTTP health.

One watcher thread per instance, all at once (they mostly wait). A watcher
knocks on SSH until it answers (``tcp_refused``, ``ssh_accepting``), waits
for ``cloud-init status --wait``, reads the guest clock a few times to learn its
offset from ours, reads cloud-init's stages (``analyze dump``, else the log) and
apt's downloads, while a second thread polls the role's health URL until the
body holds the expected text (``http_healthy``).

A mark is only as good as the moment we started looking. ``watch`` can be
called by the launch step right after its instances run, so the knocking starts
at once; the measure step then only waits for the watchers. When the very first
look already finds a state reached, the mark is an upper bound: for HTTP we then
use cloud-init's own finish time (the boot scripts serve the page before they
end), and the timeline records which marks were first looks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stemcell.engine.context import Context
from stemcell.engine.errors import Interrupted, StemcellError, StepFailed
from stemcell.engine.events import TimingMark
from stemcell.engine.instance_records import need_role_servers, role_servers
from stemcell.engine.step import BaseStep
from stemcell.remote import http_probe
from stemcell.remote.dialer import Target
from stemcell.timing.cloudinit_log import Boot, CloudInitParseError, read_boot, shift
from stemcell.timing.downloads import parse_downloads
from stemcell.timing.marks import (
    CLOUD_INIT_DONE,
    HTTP_HEALTHY,
    RUNNING,
    SSH_ACCEPTING,
    TCP_REFUSED,
)
from stemcell.timing.phases import timeline as build_timeline
from stemcell.timing.skew import NO_OFFSET, Offset, Sample, estimate, parse_date_output

if TYPE_CHECKING:
    from stemcell.remote.ssh_client import SshClient  # paramiko: only once a boot is read

READY_DEADLINE = 1800.0  # modeled seconds from the watch's start to HTTP healthy
HTTP_POLL = 1.0  # modeled seconds between health probes
HTTP_TIMEOUT = 2.0  # modeled seconds a probe waits for an answer
CLOCK_SAMPLES = 3


@dataclass
class Watch:
    """What one instance's watcher found; written into its timeline when done."""

    instance_id: str
    role: str
    setup: str
    started: float
    first_knock_answered: bool = False  # SSH already accepting at our first look
    http_first: float | None = None  # when the first passing probe came back
    http_first_look: bool = False  # ... and it was our very first probe
    wait_returned: float | None = None
    cloud_init_status: str = ""
    boot: Boot | None = None
    boot_source: str = ""
    offset: Offset = NO_OFFSET
    downloads: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    done: threading.Event = field(default_factory=threading.Event)
    # Set by the run's cancel or by the launch step's cleanup: a watcher must not keep
    # knocking on servers that are being terminated.
    stop: threading.Event = field(default_factory=threading.Event)


_WATCHES: dict[tuple[str, str], tuple[Watch, threading.Thread]] = {}
_LOCK = threading.Lock()


def watch(ctx: Context, instance_ids: list[str] | None = None) -> list[Watch]:
    """Start watching the run's role servers (idempotent); return the watches."""
    instances = role_servers(ctx.state)
    wanted = instance_ids if instance_ids is not None else [
        iid for iid, info in instances.items() if str(info.get("setup")) in ("1", "2")]
    watches = []
    for iid in wanted:
        info = instances.get(iid)
        if info is None:
            continue
        key = (ctx.run_id, iid)
        with _LOCK:
            existing = _WATCHES.get(key)
            if existing is not None:
                watches.append(existing[0])
                continue
            ctx.track_instance(iid, str(info.get("role", "")), str(info.get("setup", "")),
                               str(info.get("image_id", "")))
            w = Watch(iid, str(info.get("role", "")), str(info.get("setup", "")),
                      started=ctx.clock.now())
            if ctx.cancel.is_set():
                w.stop.set()
            thread = threading.Thread(target=_run_watch, args=(ctx, w, dict(info), w.stop),
                                      name=f"measure-{iid}", daemon=True)
            _WATCHES[key] = (w, thread)
            # The runner owns them: stopped when cleanup starts, joined when the run ends.
            ctx.workers.add(f"measure-{iid}", w.stop, thread)
        thread.start()
        watches.append(w)
    return watches


def stop_watching(ctx: Context, instance_ids: list[str] | None = None) -> None:
    """Stop the watchers of these instances (all of the run's when None) and forget them."""
    with _LOCK:
        keys = [k for k in _WATCHES if k[0] == ctx.run_id
                and (instance_ids is None or k[1] in instance_ids)]
        for key in keys:
            _WATCHES.pop(key)[0].stop.set()


def _forget(ctx: Context, instance_ids: list[str]) -> None:
    with _LOCK:
        for iid in instance_ids:
            _WATCHES.pop((ctx.run_id, iid), None)


# --- one instance ------------------------------------------------------------------------


def _run_watch(ctx: Context, w: Watch, info: dict[str, Any], cancel: threading.Event) -> None:
    # Each watcher is an actor of its own: its host work counts (engine/clock.py).
    with ctx.clock.busy():
        _watch(ctx, w, info, cancel)


def _watch(ctx: Context, w: Watch, info: dict[str, Any], cancel: threading.Event) -> None:
    http = threading.Thread(target=_poll_http, args=(ctx, w, info, cancel),
                            name=f"health-{w.instance_id}", daemon=True)
    http.start()
    try:
        _over_ssh(ctx, w, info)
    except Interrupted:
        w.error = "interrupted"
    except StemcellError as exc:
        w.error = exc.message
    except Exception as exc:  # a bug or a broken guest: report it, never hang the run
        w.error = f"{type(exc).__name__}: {exc}"
    with ctx.clock.idle():
        http.join()
    try:
        _record(ctx, w)
    finally:
        w.done.set()


def _over_ssh(ctx: Context, w: Watch, info: dict[str, Any]) -> None:
    from stemcell.remote.reach import ssh_to

    remaining = max(1.0, w.started + READY_DEADLINE - ctx.clock.now())
    client = ssh_to(ctx, w.instance_id, str(info.get("public_ip", "")),
                    str(info.get("private_ip", "")), deadline=remaining, cancel=w.stop)
    marks = ctx.state.timings.get("instances", {}).get(w.instance_id, {}).get("marks", {})
    # No refusal before the banner: sshd was up before our first knock.
    w.first_knock_answered = TCP_REFUSED not in marks
    with client:
        remaining = max(1.0, w.started + READY_DEADLINE - ctx.clock.now())
        status, out, _err = client.run("cloud-init status --wait", timeout=remaining)
        w.cloud_init_status = (out.strip().splitlines() or [f"exit {status}"])[-1]
        # 0 done, 1 error, 2 done with recoverable errors; anything else means the
        # command itself did not work, so its return says nothing about cloud-init.
        if status in (0, 1, 2):
            w.wait_returned = ctx.clock.now()
        w.offset = _clock_offset(ctx, client)
        w.boot, w.boot_source = _read_boot(client)
        output_log = _read_file(client, "/var/log/cloud-init-output.log")
        if output_log is not None:
            w.downloads = parse_downloads(output_log).to_dict()


def _clock_offset(ctx: Context, client: SshClient) -> Offset:
    samples = []
    for _ in range(CLOCK_SAMPLES):
        sent = ctx.clock.now()
        status, out, _ = client.run("date +%s.%N", timeout=60)
        received = ctx.clock.now()
        guest = parse_date_output(out) if status == 0 else None
        if guest is None:
            break
        samples.append(Sample(sent, received, guest))
    return estimate(samples)


def _read_boot(client: SshClient) -> tuple[Boot | None, str]:
    """Stages from ``analyze dump`` (else the raw log); the kernel's start from the log."""
    boot: Boot | None = None
    source = ""
    status, out, _ = client.run("cloud-init analyze dump", timeout=120)
    if status == 0:
        try:
            boot, source = read_boot(out)
        except CloudInitParseError:
            boot = None
    log = _read_file(client, "/var/log/cloud-init.log")
    if log is None:
        return boot, source
    try:
        from_log, log_source = read_boot(log)
    except CloudInitParseError:
        return boot, source
    if boot is None or not boot.stages:
        return from_log, log_source
    # Only the log's banners say how long the kernel had been up.
    boot.kernel_start = from_log.kernel_start
    return boot, source


def _read_file(client: SshClient, path: str) -> str | None:
    # Ubuntu's cloud-init logs are root:adm 0640; the default user is in adm, but
    # a TA's image may differ, so fall back to sudo.
    for command in (f"cat {path}", f"sudo cat {path}"):
        status, out, _ = client.run(command, timeout=120)
        if status == 0:
            return out
    return None


def _poll_http(ctx: Context, w: Watch, info: dict[str, Any], cancel: threading.Event) -> None:
    with ctx.clock.busy():
        _probe_health(ctx, w, info, cancel)


def _probe_health(ctx: Context, w: Watch, info: dict[str, Any],
                  cancel: threading.Event) -> None:
    role = ctx.profile.roles.get(w.role)
    if role is None:
        return
    health = role.health
    target = Target(w.instance_id, str(info.get("public_ip", "")),
                    str(info.get("private_ip", "")))
    interval = HTTP_POLL  # a probe is host work: it costs its wall time, not speed x it
    deadline = w.started + READY_DEADLINE
    looks = 0
    while not cancel.is_set():
        try:
            host, port = ctx.require_dialer().http_address(target, health.port)
            answer = http_probe.try_get(host, port, health.path, timeout=HTTP_TIMEOUT,
                                        clock=ctx.clock)
        except StemcellError:
            answer = None  # the guest is not known to the dialer yet
        looks += 1
        if answer is not None and answer[0] == 200 and health.expect in answer[1]:
            w.http_first = ctx.clock.now()
            w.http_first_look = looks == 1
            if not w.http_first_look:
                ctx.mark(w.instance_id, HTTP_HEALTHY, at=w.http_first)
            return
        if ctx.clock.now() >= deadline:
            return
        if not ctx.clock.sleep(interval, cancel):
            return


# --- into the timeline -----------------------------------------------------------------------


def _record(ctx: Context, w: Watch) -> None:
    boot = shift(w.boot, w.offset.seconds) if w.boot is not None else None
    done_at = w.wait_returned
    if boot is not None and boot.end is not None:
        # cloud-init's own finish time is exact; our wait only noticed it later.
        end = min(boot.end, ctx.clock.now())
        done_at = end if done_at is None else min(done_at, end)
    if done_at is not None:
        ctx.mark(w.instance_id, CLOUD_INIT_DONE, at=done_at)
    if w.http_first is not None and w.http_first_look:
        # Healthy at our first probe: it became healthy earlier. The boot scripts
        # finish after serving the page, so cloud-init's end is a closer bound.
        at = w.http_first if done_at is None else min(w.http_first, done_at)
        ctx.mark(w.instance_id, HTTP_HEALTHY, at=at)
    estimated = _from_guest(ctx, w, boot)
    with ctx.store.lock:
        entry = ctx.state.timings.setdefault("instances", {}).setdefault(
            w.instance_id, {"role": w.role, "setup": w.setup, "image_id": "", "marks": {}})
        tl = build_timeline(entry.get("marks", {}))
        entry["phases"] = tl.seconds()
        entry["ready_s"] = tl.ready_s
        if w.downloads:
            entry["bytes_downloaded"] = w.downloads["bytes"]
            entry["downloads"] = w.downloads
        entry["cloud_init"] = {
            "status": w.cloud_init_status,
            "source": w.boot_source,
            "clock_offset": w.offset.to_dict(),
            **(boot.to_dict() if boot is not None else {}),
        }
        entry["measure"] = {
            "watch_started": w.started,
            "ssh_first_look": w.first_knock_answered,
            "http_first_look": w.http_first_look,
            "from_guest": estimated,
        }
        if w.error:
            entry["error"] = w.error
        ctx.store.save()


def _from_guest(ctx: Context, w: Watch, boot: Boot | None) -> dict[str, str]:
    """Tighten late observations with the guest's own (offset-corrected) account.

    Each of our marks is an upper bound: we saw the state at that moment or later.
    The kernel cannot start before the instance runs, and cloud-init's network
    stage starts only once the network is online, so those two guest times are
    upper bounds too and the earlier of the two bounds is kept. sshd starts around
    the end of cloud-init's network stage (it generates the host keys), which is
    an estimate, not a bound: it is used only when our first knock already found
    SSH up, i.e. when we never saw the moment itself.
    """
    if boot is None:
        return {}
    now = ctx.clock.now()
    network = boot.stages.get("init-network")
    candidates: list[tuple[str, float | None, str]] = [
        (RUNNING, boot.kernel_start, "kernel start (cloud-init banner uptime)"),
        (TCP_REFUSED, network.start if network else None, "cloud-init init-network start"),
    ]
    if w.first_knock_answered:
        candidates.append((SSH_ACCEPTING, network.end if network else None,
                           "cloud-init init-network end (SSH was up at the first knock)"))
    used: dict[str, str] = {}
    with ctx.store.lock:
        entry = ctx.state.timings.setdefault("instances", {}).setdefault(
            w.instance_id, {"role": w.role, "setup": w.setup, "image_id": "", "marks": {}})
        marks = entry.setdefault("marks", {})
        for mark, at, why in candidates:
            if at is None or at > now:
                continue
            if mark in marks and marks[mark] <= at:
                continue
            marks[mark] = at
            used[mark] = why
        if used:
            ctx.store.save()
    for mark in used:
        ctx.emit(TimingMark(instance_id=w.instance_id, mark=mark, at=marks[mark],
                            role=w.role, setup=w.setup))
    return used


class MeasureStep(BaseStep):
    def run(self, ctx: Context) -> None:
        instances = need_role_servers(ctx.state)
        ids = [iid for iid, info in instances.items() if str(info.get("setup")) in ("1", "2")]
        if not ids:
            raise StepFailed("no role servers to measure",
                             hint="The launch_roles steps should run before this one.")
        ctx.log(f"measuring {len(ids)} server(s) until each serves its health check")
        watches = watch(ctx, ids)
        try:
            for w in watches:
                with ctx.clock.idle():  # the watchers work; this thread only waits
                    while not w.done.wait(0.05):
                        ctx.check_cancel()
        finally:
            if ctx.cancel.is_set():
                stop_watching(ctx, ids)
        _forget(ctx, ids)
        failed = []
        for w in watches:
            entry = ctx.state.timings.get("instances", {}).get(w.instance_id, {})
            ready = entry.get("ready_s")
            if ready is None:
                failed.append(f"{w.instance_id} ({w.role}, setup #{w.setup}): "
                              f"{w.error or 'never served its health check'}")
            else:
                ctx.log(f"{w.role} setup #{w.setup} {w.instance_id}: ready after {ready:.1f} s")
        if failed:
            raise StepFailed("not every server became ready: " + "; ".join(failed),
                             hint="Look at the server's /var/log/cloud-init-output.log "
                                  "(its boot script's output) for the first error.")


__all__ = ["MeasureStep", "Watch", "stop_watching", "watch"]
