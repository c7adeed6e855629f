"""The SSH client against a real paramiko server on loopback."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from ec2_support import SshTestServer

from stemcell.engine.clock import ModelClock
from stemcell.engine.errors import Interrupted
from stemcell.remote.host_keys import HostKeyMismatch, sha256_fingerprint
from stemcell.remote.ssh_client import SshAuthFailed, SshTimeout, connect


def _keypair(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private = folder / "id_ed25519"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.OpenSSH,
                                          serialization.NoEncryption()))
    public = folder / "id_ed25519.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                     serialization.PublicFormat.OpenSSH))
    return private, public


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return _keypair(tmp_path / "keys")


def test_knocks_through_hang_and_refusal_then_runs(tmp_path: Path,
                                                  keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public, hang_first=2, refuse_first=3)
    marks: list[tuple[str, float]] = []
    clock = ModelClock.starting_now(100.0)
    client = connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                     clock=clock, cancel=threading.Event(), deadline=120,
                     on_mark=lambda m: marks.append((m, clock.now())))
    with client:
        assert [m for m, _ in marks if m == "ssh_accepting"] == ["ssh_accepting"]
        assert marks[0][0] == "tcp_refused"
        assert server.connections == 6  # 2 ignored, 3 reset, 1 served
        lines: list[tuple[str, str]] = []
        status, last = client.exec("echo one; echo two >&2; printf 'no newline'; exit 3",
                                   lambda line, stream: lines.append((stream, line)))
        assert status == 3
        assert ("stdout", "one") in lines and ("stderr", "two") in lines
        assert last[-1] == "no newline"
        status, out, err = client.run("bash -s", stdin="echo from stdin\n")
        assert (status, out, err) == (0, "from stdin", "")
    server.close()


def test_console_fingerprint_mismatch_stops_at_once(tmp_path: Path,
                                                   keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public)
    with pytest.raises(HostKeyMismatch):
        connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                clock=ModelClock.starting_now(100.0), cancel=threading.Event(),
                fingerprints=lambda: {"ED25519": "SHA256:" + "x" * 43})
    # One knock (closed while the console is asked, so no socket idles past the
    # server's login grace time), one handshake; no retry after a mismatch.
    assert server.connections == 2
    ok = connect(server.address, key_path=private, known_hosts=tmp_path / "kh2",
                 clock=ModelClock.starting_now(100.0), cancel=threading.Event(),
                 fingerprints=lambda: {"ED25519": sha256_fingerprint(server.host_key)})
    ok.close()
    server.close()


def test_wrong_key_is_refused_clearly(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, _ = keys
    _, other_public = _keypair(tmp_path / "other")
    server = SshTestServer(tmp_path / "guest", other_public)
    with pytest.raises(SshAuthFailed, match="does not accept the key"):
        connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                clock=ModelClock.starting_now(1000.0), cancel=threading.Event())
    server.close()


def test_never_up_times_out_at_the_modeled_deadline(tmp_path: Path,
                                                    keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public, never=True)
    clock = ModelClock.starting_now(200.0)
    start = clock.now()
    with pytest.raises(SshTimeout, match="within 60 s"):
        connect(server.address, key_path=private, known_hosts=tmp_path / "kh", clock=clock,
                cancel=threading.Event(), deadline=60)
    assert 60 <= clock.now() - start < 90
    server.close()


def test_cancel_interrupts_the_knocking(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public, hang_first=10_000)
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    wall = time.monotonic()
    with pytest.raises(Interrupted):
        connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                clock=ModelClock.starting_now(1.0), cancel=cancel, deadline=3600)
    assert time.monotonic() - wall < 5
    server.close()


def test_cancel_interrupts_a_running_command(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public)
    cancel = threading.Event()
    client = connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                     clock=ModelClock.starting_now(1.0), cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(Interrupted):
        client.exec("sleep 5")
    client.close()
    server.close()
    assert isinstance(server.host_key, paramiko.PKey)


# --- reach: the console is asked before a key is trusted ---------------------------------
class _Console:
    """GetConsoleOutput as EC2 answers it: empty until the guest prints the block;
    ``refuse_latest`` models an instance type (t2) without the newest-output console."""

    def __init__(self, clock: ModelClock, block: str, after: float | None,
                 refuse_latest: bool = False) -> None:
        self.clock, self.block, self.refuse_latest = clock, block, refuse_latest
        self.shows_at = None if after is None else clock.now() + after
        self.calls: list[dict[str, object]] = []

    def get_console_output(self, **kwargs: object) -> dict[str, str]:
        from botocore.exceptions import ClientError

        self.calls.append(kwargs)
        if kwargs.get("Latest") and self.refuse_latest:
            raise ClientError({"Error": {"Code": "UnsupportedOperation",
                                         "Message": "Latest is not supported"}},
                              "GetConsoleOutput")
        shown = self.shows_at is not None and self.clock.now() >= self.shows_at
        return {"Output": "booting\n" + (self.block if shown else "")}


class _Ctx:
    """The slice of the engine's Context that ``remote.reach`` uses."""

    def __init__(self, tmp: Path, key: Path, server: SshTestServer, console: _Console,
                 clock: ModelClock) -> None:
        from types import SimpleNamespace

        self.run_dir, self.clock, self.cancel = tmp, clock, threading.Event()
        self.bag: dict[str, object] = {"key_path": str(key)}
        self.logs: list[tuple[str, str]] = []
        self.store = SimpleNamespace(lock=threading.RLock())
        self.dialer = SimpleNamespace(ssh_address=lambda target: server.address)
        self.cloud = SimpleNamespace(ec2=console)

    def require_dialer(self) -> object:
        return self.dialer

    def need(self, key: str) -> object:
        return self.bag[key]

    def get(self, key: str, default: object = None) -> object:
        return self.bag.get(key, default)

    def put(self, key: str, value: object) -> None:
        self.bag[key] = value

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append((level, message))

    def mark(self, instance_id: str, mark: str) -> None:
        pass

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Interrupted()

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds, self.cancel)


def _block(server: SshTestServer) -> str:
    fp = sha256_fingerprint(server.host_key)
    return ("ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
            f"ec2: 256 {fp} root@ip-172-31-5-6 (ED25519)\n"
            "ec2: -----END SSH HOST KEY FINGERPRINTS-----\n")


@pytest.mark.parametrize("refuse_latest", [False, True])
def test_reach_waits_for_the_console_and_verifies(
    tmp_path: Path, keys: tuple[Path, Path], refuse_latest: bool,
) -> None:
    from stemcell.engine.runner import _host_keys
    from stemcell.remote.reach import ssh_to

    private, public = keys
    server = SshTestServer(tmp_path / "guest", public)
    clock = ModelClock.starting_now(1000.0)
    console = _Console(clock, _block(server), after=60.0, refuse_latest=refuse_latest)
    ctx = _Ctx(tmp_path, private, server, console, clock)
    with ssh_to(ctx, "i-0123456789abcdef0"):
        pass
    assert _host_keys(ctx.bag) == {"verified": 1, "pinned_on_first_use": 0}
    assert len(console.calls) > 1  # it polled until the block appeared
    assert console.calls[0].get("Latest") is True
    if refuse_latest:  # t2: Latest refused, the buffered output asked for instead
        assert any("Latest" not in call for call in console.calls)
    # Pinned under the instance id, not the address (public IPs are reused).
    pins = (tmp_path / "ssh" / "known_hosts").read_text()
    assert pins.startswith("i-0123456789abcdef0 ssh-ed25519 ")  # as HostKeyAlias finds it
    assert not [m for level, m in ctx.logs if level == "warning"]
    server.close()


def test_reach_pins_only_when_the_console_never_shows_then_rechecks(
    tmp_path: Path, keys: tuple[Path, Path],
) -> None:
    from stemcell.engine.runner import _host_keys
    from stemcell.remote.reach import CONSOLE_WAIT, ssh_to

    private, public = keys
    server = SshTestServer(tmp_path / "guest", public)
    clock = ModelClock.starting_now(1000.0)
    console = _Console(clock, _block(server), after=None)
    ctx = _Ctx(tmp_path, private, server, console, clock)
    started = clock.now()
    with ssh_to(ctx, "i-0123456789abcdef0"):
        pass
    assert clock.now() - started >= CONSOLE_WAIT  # it waited the whole bound ...
    assert _host_keys(ctx.bag) == {"verified": 0, "pinned_on_first_use": 1}
    assert any(level == "warning" and "pinned on first use" in m for level, m in ctx.logs)
    # The console shows the keys later: the next connection re-checks the pin.
    console.shows_at = clock.now()
    with ssh_to(ctx, "i-0123456789abcdef0"):
        pass
    assert _host_keys(ctx.bag) == {"verified": 1, "pinned_on_first_use": 0}
    server.close()


def test_reach_rechecking_a_pin_against_a_different_console_refuses(
    tmp_path: Path, keys: tuple[Path, Path],
) -> None:
    from stemcell.remote.reach import HOST_KEYS, ssh_to

    private, public = keys
    server = SshTestServer(tmp_path / "guest", public)
    clock = ModelClock.starting_now(1000.0)
    console = _Console(clock, _block(server), after=None)
    ctx = _Ctx(tmp_path, private, server, console, clock)
    with ssh_to(ctx, "i-0123456789abcdef0"):  # pinned on first use
        pass
    assert ctx.bag[HOST_KEYS] == {"i-0123456789abcdef0": "pinned"}
    # The console now shows another key than the one pinned: someone is in the middle.
    console.block = _block(server).replace(sha256_fingerprint(server.host_key),
                                           "SHA256:" + "x" * 43)
    console.shows_at = clock.now()
    with pytest.raises(HostKeyMismatch, match="does not match its console output"):
        ssh_to(ctx, "i-0123456789abcdef0")


def test_run_keeps_the_text_before_carriage_returns_that_exec_collapses(
        tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public)
    client = connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                     clock=ModelClock.starting_now(100.0), cancel=threading.Event())
    with client:
        command = r"printf 'progress 10%%\rprogress 100%%\nwindows line\r\n'"
        shown: list[str] = []
        client.exec(command, lambda line, stream: shown.append(line))
        assert shown == ["progress 100%", "windows line"]  # what a live pane shows
        # A log file read back keeps every frame; a bare \r (a terminal control a
        # hostile server could use to overwrite a line) becomes a line break.
        status, out, _ = client.run(command)
        assert (status, out) == (0, "progress 10%\nprogress 100%\nwindows line")
    server.close()
