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

from stemcell.engine.clock import ScaledClock
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
    clock = ScaledClock.starting_now(100.0)
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
                clock=ScaledClock.starting_now(100.0), cancel=threading.Event(),
                fingerprints=lambda: {"ED25519": "SHA256:" + "x" * 43})
    assert server.connections == 1
    ok = connect(server.address, key_path=private, known_hosts=tmp_path / "kh2",
                 clock=ScaledClock.starting_now(100.0), cancel=threading.Event(),
                 fingerprints=lambda: {"ED25519": sha256_fingerprint(server.host_key)})
    ok.close()
    server.close()


def test_wrong_key_is_refused_clearly(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, _ = keys
    _, other_public = _keypair(tmp_path / "other")
    server = SshTestServer(tmp_path / "guest", other_public)
    with pytest.raises(SshAuthFailed, match="does not accept the key"):
        connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                clock=ScaledClock.starting_now(1000.0), cancel=threading.Event())
    server.close()


def test_never_up_times_out_at_the_modeled_deadline(tmp_path: Path,
                                                    keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public, never=True)
    clock = ScaledClock.starting_now(200.0)
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
                clock=ScaledClock.starting_now(1.0), cancel=cancel, deadline=3600)
    assert time.monotonic() - wall < 5
    server.close()


def test_cancel_interrupts_a_running_command(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public)
    cancel = threading.Event()
    client = connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                     clock=ScaledClock.starting_now(1.0), cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    with pytest.raises(Interrupted):
        client.exec("sleep 5")
    client.close()
    server.close()
    assert isinstance(server.host_key, paramiko.PKey)


def test_run_keeps_carriage_returns_that_exec_collapses_for_display(
        tmp_path: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    server = SshTestServer(tmp_path / "guest", public)
    client = connect(server.address, key_path=private, known_hosts=tmp_path / "kh",
                     clock=ScaledClock.starting_now(100.0), cancel=threading.Event())
    with client:
        command = r"printf 'progress 10%%\rprogress 100%%\nwindows line\r\n'"
        shown: list[str] = []
        client.exec(command, lambda line, stream: shown.append(line))
        assert shown == ["progress 100%", "windows line"]  # what a live pane shows
        status, out, _ = client.run(command)  # a log file read back: every byte
        assert (status, out) == (0, "progress 10%\rprogress 100%\nwindows line\r")
    server.close()
