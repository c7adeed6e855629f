"""The measure and compare steps against booting guests on loopback (real SSH and HTTP).

Each guest here follows a scripted boot on the modeled clock: the network comes
up (until then connections hang), sshd starts (until then they are reset),
cloud-init finishes and the page is served. Its clock may be skewed, and its
cloud-init log says when each stage ran on *its* clock. The steps must recover
the marks, correct the skew and compare the setups.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest

from stemcell.content.loader import load_lab, load_profile
from stemcell.content.shipped import shipped_dir
from stemcell.engine.clock import NO_HOLD, ModelClock, Releasable, release_later
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import StepFailed
from stemcell.engine.events import Comparison, Event
from stemcell.engine.instance_records import set_addresses
from stemcell.engine.state import RunState, StateStore
from stemcell.steps import step_measure_boots as measure_mod
from stemcell.steps.step_compare_setups import CompareStep
from stemcell.steps.step_measure_boots import MeasureStep
from stemcell.timing.phases import timeline

SPEED = 50.0


def _rst(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


class BootingGuest:
    """One instance's boot, scripted in modeled seconds after ``t0``."""

    def __init__(self, clock: ModelClock, t0: float, *, net: float, sshd: float,
                 http: float | None, done: float, expect: str, skew: float = 0.0,
                 fetched: str = "", raw_log: bool = False, kernel: float = 0.5) -> None:
        self.clock, self.t0, self.skew, self.expect = clock, t0, skew, expect
        self.net, self.sshd, self.http, self.done = t0 + net, t0 + sshd, None, t0 + done
        if http is not None:
            self.http = t0 + http
        self.fetched = fetched
        self.raw_log, self.kernel = raw_log, t0 + kernel
        self.host_key = _ed25519()
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self.ssh_sock = self._listen(self._ssh_conn)
        self.http_sock = self._listen(self._http_conn)

    def _listen(self, handler: Any) -> socket.socket:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                threading.Thread(target=handler, args=(conn,), daemon=True).start()

        threading.Thread(target=loop, daemon=True).start()
        return sock

    def close(self) -> None:
        self._stop.set()
        for s in (self.ssh_sock, self.http_sock, *self._held):
            s.close()

    def _gate(self, conn: socket.socket, up: float | None) -> bool:
        now = self.clock.now()
        if now < self.net:
            self._held.append(conn)  # accepted, never answered: the network is not up
            return False
        if up is None or now < up:
            _rst(conn)  # network up, service not running: refused
            return False
        return True

    # --- HTTP ---
    def _http_conn(self, conn: socket.socket) -> None:
        if not self._gate(conn, self.http):
            return
        try:
            conn.recv(4096)
            body = f"<h1>{self.expect}</h1>".encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode()
                         + b"\r\nConnection: close\r\n\r\n" + body)
        finally:
            conn.close()

    # --- SSH ---
    def _ssh_conn(self, conn: socket.socket) -> None:
        if not self._gate(conn, self.sshd):
            return
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        server = _Server(self.clock)
        try:
            transport.start_server(server=server)
            while transport.is_active():
                chan = transport.accept(timeout=5)
                if chan is None:
                    break
                server.got.wait(5)
                server.got.clear()
                with self.clock.busy():
                    server.hold.release()
                    self._exec(chan, server.command)
                    release_later(self.clock.hold(), 0.05)
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            transport.close()

    def _exec(self, chan: paramiko.Channel, command: str) -> None:
        status, out = 0, ""
        if command == "cloud-init status --wait":
            self.clock.sleep_until(self.done)
            out = "..\nstatus: done\n"
        elif command == "date +%s.%N":
            out = f"{self.clock.now() + self.skew:.9f}\n"
        elif command == "cloud-init analyze dump":
            out = json.dumps(self._events(), indent=1)
        elif command == "cat /var/log/cloud-init.log" and self.raw_log:
            out = self._raw_log()
        elif command.endswith("cat /var/log/cloud-init-output.log"):
            out = ("Cloud-init v. 24.1 running 'init' at Sat, 28 Nov 2026 01:02:05 +0000. "
                   "Up 6.0 seconds.\n" + self.fetched)
        else:
            status, out = 127, f"not here: {command}\n"
        chan.sendall(out.encode())
        chan.send_exit_status(status)
        chan.close()

    def _raw_log(self) -> str:
        """The same boot as cloud-init.log lines, with the banners' uptimes."""
        import time

        lines = []
        for ev in self._events():
            at = ev["timestamp"]
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))
            stamp += f",{int(at % 1 * 1000):03d}"
            if ev["event_type"] == "start":
                lines.append(f"{stamp} - util.py[DEBUG]: Cloud-init v. 24.1 running "
                             f"'{ev['name']}' at Sat, 28 Nov 2026 01:02:03 +0000. "
                             f"Up {at - self.skew - self.kernel:.2f} seconds.")
            else:
                lines.append(f"{stamp} - handlers.py[DEBUG]: finish: {ev['name']}: "
                             f"SUCCESS: {ev['description']}")
        return "\n".join(lines) + "\n"

    def _events(self) -> list[dict[str, Any]]:
        g = self.skew
        local = self.net - 2
        stages = [("init-local", local, local + 1), ("init-network", self.net, self.sshd),
                  ("modules-config", self.sshd, self.sshd + 1),
                  ("modules-final", self.sshd + 1, self.done)]
        out = []
        for name, start, end in stages:
            out.append({"name": name, "description": name, "timestamp": start + g,
                        "origin": "cloudinit", "event_type": "start"})
            out.append({"name": name, "description": name, "timestamp": end + g,
                        "origin": "cloudinit", "event_type": "finish", "result": "SUCCESS"})
        return out


def _ed25519() -> paramiko.PKey:
    import io

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode()
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


class _Server(paramiko.ServerInterface):
    """Holds the modeled clock from the exec request on, as the sandbox's sshd does
    (engine/clock.py): answering is host work, and takes no modeled time."""

    def __init__(self, clock: ModelClock) -> None:
        self.clock = clock
        self.command = ""
        self.got = threading.Event()
        self.hold: Releasable = NO_HOLD

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL if username == "ubuntu" else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.hold = self.clock.hold()
        self.command = command.decode()
        self.got.set()
        return True


class Dialer:
    def __init__(self) -> None:
        self.guests: dict[str, BootingGuest] = {}

    def ssh_address(self, target: Any) -> tuple[str, int]:
        return self.guests[target.instance_id].ssh_sock.getsockname()

    def http_address(self, target: Any, port: int = 80) -> tuple[str, int]:
        return self.guests[target.instance_id].http_sock.getsockname()


class Cloud:
    def console_output(self, instance_id: str) -> str:
        return ""  # no fingerprints printed yet: the key is pinned on first use


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    profile = load_profile(shipped_dir("profiles") / "apache-python.yaml")
    lab = load_lab(shipped_dir("labs") / "lab1-stem-cell.yaml")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    key = run_dir / "key"
    key.write_text(_private_key_text())
    key.chmod(0o600)
    store = StateStore(run_dir / "state.json", RunState(run_id="measure-test"))
    context = Context(run_id="measure-test", run_dir=run_dir, config=RunConfig(), lab=lab,
                      profile=profile, profile_dir=shipped_dir("profiles"), store=store,
                      clock=ModelClock.starting_now(SPEED))
    context.dialer = Dialer()
    context.cloud = Cloud()
    context.put("key_path", str(key))
    yield context
    context.cancel.set()
    for guest in context.dialer.guests.values():
        guest.close()


def _private_key_text() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode()


def launch(ctx: Context, iid: str, role: str, setup: str, running_seen: float = 0.0,
           **boot: Any) -> BootingGuest:
    t0 = ctx.clock.now()
    expect = ctx.profile.roles[role].health.expect
    guest = BootingGuest(ctx.clock, t0, expect=expect, **boot)  # type: ignore[arg-type]
    ctx.dialer.guests[iid] = guest
    ctx.track_instance(iid, role, setup, "ami-test")
    ctx.mark(iid, "run_instances_sent", at=t0 - 1.0)
    ctx.mark(iid, "run_instances_returned", at=t0 - 0.5)
    ctx.mark(iid, "running", at=t0 + running_seen)  # a poll may see it late
    set_addresses(ctx.state, iid, "198.51.100.7", "172.31.0.7")
    return guest


APT = ("Fetched 24.1 MB in 3s (8,038 kB/s)\nNeed to get 2,345 kB of archives.\n"
       "Fetched 2,345 kB in 1s (2,101 kB/s)\n")


def test_measure_then_compare_two_setups(ctx: Context) -> None:
    slow = launch(ctx, "i-slow", "web", "1", net=15, sshd=30, http=120, done=122,
                  fetched=APT, skew=45.0)
    launch(ctx, "i-fast", "web", "2", net=15, sshd=30, http=40, done=41)
    events: list[Event] = []
    ctx.bus.subscribe(events.append)

    MeasureStep(ctx.lab.step("measure")).run(ctx)

    timings = ctx.state.timings["instances"]
    fast, slow_entry = timings["i-fast"], timings["i-slow"]
    for entry in (fast, slow_entry):
        assert set(entry["marks"]) >= {"tcp_refused", "ssh_accepting", "cloud_init_done",
                                       "http_healthy"}
        tl = timeline(entry["marks"])
        assert entry["ready_s"] == tl.ready_s
        assert all(v is None or v >= 0 for v in entry["phases"].values())
    # The network came up 15 s after running, sshd 15 s later: the knocks saw both.
    t0 = slow.t0
    assert slow_entry["marks"]["tcp_refused"] == pytest.approx(t0 + 15, abs=6)
    assert slow_entry["marks"]["ssh_accepting"] == pytest.approx(t0 + 30, abs=6)
    # cloud-init's own finish time, moved onto our clock despite the 45 s skew.
    assert slow_entry["cloud_init"]["clock_offset"]["significant"] is True
    assert slow_entry["cloud_init"]["clock_offset"]["seconds"] == pytest.approx(45, abs=3)
    assert slow_entry["marks"]["cloud_init_done"] == pytest.approx(t0 + 122, abs=3)
    assert slow_entry["cloud_init"]["source"] == "analyze-dump"
    assert slow_entry["cloud_init"]["stages"]["modules-final"]["seconds"] == pytest.approx(91)
    assert slow_entry["bytes_downloaded"] == 24_100_000 + 2_345_000
    assert fast["bytes_downloaded"] == 0
    assert fast["ready_s"] < slow_entry["ready_s"]
    assert slow_entry["measure"]["http_first_look"] is False
    marks = [e for e in events if e.kind == "timing_mark"]
    assert {getattr(m, "mark", "") for m in marks} >= {"tcp_refused", "http_healthy"}

    CompareStep(ctx.lab.step("compare")).run(ctx)
    comparison = ctx.state.timings["comparison"]
    web = comparison["roles"][0]
    assert web["role"] == "web" and web["ratio"] > 2
    assert comparison["simulated"] is True
    emitted = [e for e in events if isinstance(e, Comparison)]
    assert emitted and emitted[-1].data == comparison
    saved = json.loads((ctx.run_dir / "state.json").read_text())
    assert saved["timings"]["comparison"]["roles"][0]["ratio"] == web["ratio"]


def test_already_healthy_at_the_first_look_uses_cloud_inits_finish(ctx: Context) -> None:
    guest = launch(ctx, "i-early", "app-api", "2", net=3, sshd=5, http=6, done=7,
                   running_seen=20, raw_log=True, kernel=1.0, skew=-30.0)
    ctx.clock.sleep(30)  # we only start looking long after it was ready
    MeasureStep(ctx.lab.step("measure")).run(ctx)
    entry = ctx.state.timings["instances"]["i-early"]
    assert entry["measure"]["http_first_look"] is True
    assert entry["measure"]["ssh_first_look"] is True
    # Our late looks are replaced by the guest's own account, skew-corrected.
    t0 = guest.t0
    assert set(entry["measure"]["from_guest"]) == {"running", "tcp_refused", "ssh_accepting"}
    assert entry["marks"]["running"] == pytest.approx(t0 + 1.0, abs=1)
    assert entry["marks"]["tcp_refused"] == pytest.approx(t0 + 3, abs=1)
    assert entry["marks"]["ssh_accepting"] == pytest.approx(t0 + 5, abs=1)
    assert entry["cloud_init"]["kernel_start"] == pytest.approx(t0 + 1.0, abs=1)
    assert entry["marks"]["http_healthy"] == pytest.approx(t0 + 7, abs=1)
    assert entry["ready_s"] == pytest.approx(8, abs=1)
    phases = entry["phases"]
    assert phases["pending"] == pytest.approx(1.5, abs=1)
    assert phases["network"] == pytest.approx(2, abs=1)


def test_a_server_that_never_serves_fails_the_step_with_its_name(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure_mod, "READY_DEADLINE", 60.0)
    launch(ctx, "i-broken", "app-worker", "1", net=2, sshd=4, http=None, done=10)
    with pytest.raises(StepFailed) as info:
        MeasureStep(ctx.lab.step("measure")).run(ctx)
    assert "i-broken" in info.value.message and "app-worker" in info.value.message
    entry = ctx.state.timings["instances"]["i-broken"]
    assert "cloud_init_done" in entry["marks"] and entry["ready_s"] is None


def test_compare_refuses_when_there_is_nothing_to_compare(ctx: Context) -> None:
    with pytest.raises(StepFailed):
        CompareStep(ctx.lab.step("compare")).run(ctx)
    with pytest.raises(StepFailed):
        MeasureStep(ctx.lab.step("measure")).run(ctx)  # no instances in the bag
