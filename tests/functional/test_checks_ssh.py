"""Checks over real SSH (paramiko server on loopback): connect, pin, fail, report.

The server here answers exact commands from a table; the sandbox tests
(test_checks_sandbox.py) run the same checks against simulated Ubuntu guests.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
from click.testing import CliRunner

from stemcell.checks import CheckOptions, HostSpec, Status, run_checks
from stemcell.checks.plan import order
from stemcell.cli import main
from stemcell.content.models import CheckSpec

Answer = tuple[int, str, str]


class _Server(paramiko.ServerInterface):
    def __init__(self, allowed: paramiko.PKey, handler: Callable[[str], Answer]) -> None:
        self.allowed = allowed
        self.handler = handler

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = username == "ubuntu" and key.asbytes() == self.allowed.asbytes()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else \
            paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        def reply() -> None:
            status, out, err = self.handler(command.decode())
            channel.sendall(out.encode())
            channel.sendall_stderr(err.encode())
            channel.send_exit_status(status)
            channel.shutdown_write()
            channel.close()

        # paramiko sends the exec request's success only after this returns;
        # closing the channel before that makes the client see "Channel closed".
        threading.Timer(0.02, reply).start()
        return True


class SshServer:
    """A loopback SSH server with its own host key, answering from ``handler``."""

    def __init__(self, allowed: paramiko.PKey, handler: Callable[[str], Answer]) -> None:
        self.host_key = paramiko.Ed25519Key.from_private_key(_fresh_ed25519())
        self.allowed, self.handler = allowed, handler
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            self.transports.append(transport)
            try:
                transport.start_server(server=_Server(self.allowed, self.handler))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()

    def close(self) -> None:
        self.sock.close()
        for t in self.transports:
            t.close()


def _pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode()


def _fresh_ed25519() -> io.StringIO:
    return io.StringIO(_pem())


def make_key(path: Path) -> paramiko.PKey:
    path.write_text(_pem())
    path.chmod(0o600)
    return paramiko.PKey.from_path(str(path))


@pytest.fixture
def ta_key(tmp_path: Path) -> tuple[Path, paramiko.PKey]:
    path = tmp_path / "ta_ed25519"
    return path, make_key(path)


ANSWERS: dict[str, Answer] = {
    "dpkg-query -W -f '${Status} ${Version}' apache2": (
        0, "install ok installed 2.4.58-1ubuntu8.5", ""),
    "systemctl is-active apache2": (3, "inactive\n", ""),
    "systemctl is-enabled apache2": (0, "enabled\n", ""),
    "echo hi; echo oops >&2; exit 4": (4, "hi\n", "oops\n"),
}


def answer(command: str) -> Answer:
    return ANSWERS.get(command, (127, "", f"unknown command {command}\n"))


@pytest.fixture
def server(ta_key: tuple[Path, paramiko.PKey]) -> Iterator[SshServer]:
    srv = SshServer(ta_key[1], answer)
    yield srv
    srv.close()


CHECKS = order([
    CheckSpec(id="apache-installed", kind="package", name="apache2", description="apache"),
    CheckSpec(id="apache-running", kind="service", name="apache2", depends=["apache-installed"],
              description="running", fail="apache2 is not running", hint="start it"),
    CheckSpec(id="apache-enabled", kind="service", name="apache2", enabled=True,
              depends=["apache-installed"], description="enabled"),
    CheckSpec(id="port", kind="socket", port=80, depends=["apache-running"], description="80"),
    CheckSpec(id="odd", kind="command", command="echo hi; echo oops >&2; exit 4",
              exit_status=4, stdout_contains="hi", description="odd"),
])


def host(server: SshServer, key: Path) -> HostSpec:
    return HostSpec(host="127.0.0.1", port=server.port, key=key)


def test_checks_over_real_ssh(server: SshServer, ta_key: tuple[Path, paramiko.PKey]) -> None:
    report = run_checks(CHECKS, host(server, ta_key[0]), CheckOptions(deadline=20, accept_new=True))
    statuses = {r.check_id: r.status for r in report.results}
    assert statuses == {"apache-installed": Status.PASSED, "apache-running": Status.FAILED,
                        "apache-enabled": Status.PASSED, "port": Status.SKIPPED,
                        "odd": Status.PASSED}
    odd = next(r for r in report.results if r.check_id == "odd")
    assert odd.exchanges[0].stdout == "hi" and odd.exchanges[0].stderr == "oops"
    assert odd.exchanges[0].exit_status == 4
    assert report.address == f"127.0.0.1:{server.port}"


def test_host_key_is_pinned_in_stemcells_own_file_and_a_change_is_refused(
    server: SshServer, ta_key: tuple[Path, paramiko.PKey], _isolated: Path,
) -> None:
    options = CheckOptions(deadline=20, accept_new=True)
    assert run_checks(CHECKS[:1], host(server, ta_key[0]), options).ok
    known = _isolated / "checks" / "known_hosts"
    assert f"[127.0.0.1]:{server.port}" in known.read_text()
    # Another server appears on the same address with another key: refuse it.
    server.host_key = paramiko.Ed25519Key.from_private_key(_fresh_ed25519())
    report = run_checks(CHECKS[:1], host(server, ta_key[0]), options)
    assert not report.reachable
    assert "changed since it was pinned" in report.error
    assert report.results[0].status is Status.UNREACHABLE


def test_wrong_key_is_unreachable_with_a_hint(server: SshServer, tmp_path: Path) -> None:
    path = tmp_path / "other"
    make_key(path)
    report = run_checks(CHECKS, host(server, path), CheckOptions(deadline=20, accept_new=True))
    assert not report.reachable and "does not accept the key" in report.error


def test_silent_and_closed_hosts_are_unreachable_by_the_deadline(
    ta_key: tuple[Path, paramiko.PKey],
) -> None:
    # Accepts, never speaks: what EC2 does before the instance's network is up.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        for port, words in ((silent.getsockname()[1], "timed out"), (closed_port, "refused")):
            started = time.monotonic()
            report = run_checks(CHECKS, HostSpec(host="127.0.0.1", port=port, key=ta_key[0]),
                                CheckOptions(deadline=2))
            took = time.monotonic() - started
            assert not report.reachable and words in report.error, report.error
            assert {r.status for r in report.results} == {Status.UNREACHABLE}
            assert took < 8
    finally:
        silent.close()


def test_cli_json_and_exit_codes(server: SshServer, ta_key: tuple[Path, paramiko.PKey],
                                 tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["check", "--host", "127.0.0.1", "--port", str(server.port), "--key", str(ta_key[0]),
            "--step", "install-stack", "--accept-new", "--format", "json", "--deadline", "20"]
    result = runner.invoke(main, args)
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    results = {r["name"]: r for r in data["hosts"][0]["results"]}
    assert results["apache-installed"]["passed"] is True
    assert results["apache-running"]["passed"] is False
    assert results["apache-running"]["cause"]["help"].startswith("Start it with")
    assert results["http-port-open"]["passed"] is None
    assert results["apache-running"]["log"][0] == "$ systemctl is-active apache2"

    out = tmp_path / "report.xml"
    result = runner.invoke(main, [*args[:-4], "--format", "junit", "--output", str(out)])
    assert result.exit_code == 1 and out.read_text().startswith("<?xml")

    assert runner.invoke(main, ["check", "--host", "x", "--step", "nope"]).exit_code == 2
    assert runner.invoke(main, ["check", "--host", "x", "--roster", "y"]).exit_code == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("student,host\nada\n")
    result = runner.invoke(main, ["check", "--roster", str(bad)])
    assert result.exit_code == 2 and f"{bad}:2: expected 2 fields" in result.output


def test_cancel_stops_knocking_at_once(ta_key: tuple[Path, paramiko.PKey]) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    options = CheckOptions(deadline=60)
    threading.Timer(0.3, options.cancel.set).start()
    started = time.monotonic()
    try:
        report = run_checks(CHECKS, HostSpec(host="127.0.0.1", port=silent.getsockname()[1],
                                             key=ta_key[0]), options)
    finally:
        silent.close()
    assert time.monotonic() - started < 5
    assert not report.reachable and "cancelled" in report.error
