"""The TA's chair: a student's server is hostile, and `stemcell check` holds.

Each attack runs the real CLI against a real SSH server on 127.0.0.1
(``hostile_sshd``): terminal escape sequences in its output, an exec request
never answered, endless output, a host key that changes type, a roster whose
names are Rich markup, and a Ctrl-C in the middle of a roster.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hostile_sshd import HostileSshd, pem, rsa_host_key

from stemcell.cli import main

CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def ta_key(tmp_path: Path) -> Path:
    path = tmp_path / "ta_ed25519"
    path.write_text(pem())
    path.chmod(0o600)
    return path


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[HostileSshd] = []

    def start(behaviour: str, **kwargs: Any) -> HostileSshd:
        server = HostileSshd(behaviour, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _args(server: HostileSshd, key: Path, *more: str) -> list[str]:
    return ["check", "--host", "127.0.0.1", "--port", str(server.port), "--key", str(key),
            "--step", "install-stack", *more]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _cli(home: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, STEMCELL_HOME=str(home))
    return subprocess.Popen([sys.executable, "-m", "stemcell", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes], limit: float) -> tuple[int, float, int, str, str]:
    """Wait (at most ``limit`` s); (exit code, seconds, peak RSS in KB, stdout, stderr)."""
    started = time.monotonic()
    # Read the pipes on a thread so a chatty child never blocks on a full pipe.
    import threading

    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=lambda: out.append(proc.stdout.read())),  # type: ignore[union-attr]
               threading.Thread(target=lambda: err.append(proc.stderr.read()))]  # type: ignore[union-attr]
    for r in readers:
        r.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > limit:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            pytest.fail(f"stemcell check still running after {limit:.0f} s")
        time.sleep(0.05)
    took = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join(10)
    return (proc.returncode, took, usage.ru_maxrss, b"".join(out).decode("utf-8", "replace"),
            b"".join(err).decode("utf-8", "replace"))


def test_escape_sequences_never_reach_the_terminal_or_a_report(
    serve: Any, ta_key: Path, tmp_path: Path,
) -> None:
    server = serve("escapes")
    runner = CliRunner()
    text = runner.invoke(main, _args(server, ta_key, "--accept-new", "-v", "--deadline", "20"))
    assert text.exit_code in (0, 1), text.output
    assert "before" in text.output and "after" in text.output  # the text itself is shown
    assert not CONTROL.search(text.output), repr(CONTROL.findall(text.output))

    for fmt in ("json", "junit", "html"):
        out = tmp_path / f"report.{fmt}"
        result = runner.invoke(main, _args(server, ta_key, "--accept-new", "--format", fmt,
                                           "--output", str(out), "--deadline", "20"))
        assert result.exit_code in (0, 1), result.output
        body = out.read_text(encoding="utf-8")
        if fmt == "json":
            strings = list(_strings(json.loads(body)))
            assert any("before" in s for s in strings)
            assert not [s for s in strings if CONTROL.search(s)]
        else:
            assert "before" in body
            assert not CONTROL.search(body.replace("\n", "").replace("\t", ""))


def test_a_server_that_never_answers_exec_costs_only_the_deadline(
    serve: Any, ta_key: Path, _isolated: Path,
) -> None:
    server = serve("hang")
    proc = _cli(_isolated, *_args(server, ta_key, "--accept-new", "--deadline", "4",
                                  "--format", "json"))
    code, took, _, out, err = _finish(proc, 60)
    assert code == 1, err
    assert took < 4 + 10, took  # the deadline, plus the interpreter's start-up under load
    host = json.loads(out)["hosts"][0]
    assert not host["ok"]
    assert "deadline" in json.dumps(host)


def test_endless_output_is_capped_in_memory_and_time(
    serve: Any, ta_key: Path, _isolated: Path,
) -> None:
    baseline = _finish(_cli(_isolated, *_args(serve("ok"), ta_key, "--accept-new",
                                             "--deadline", "20", "--format", "json")), 120)
    flood = serve("flood")
    code, took, peak_kb, out, err = _finish(
        _cli(_isolated, *_args(flood, ta_key, "--accept-new", "--deadline", "10",
                               "--format", "json")), 120)
    assert code == 1, err
    assert took < 10 + 15, took
    # Each command keeps at most 1 MB; a few commands' worth on top of the baseline,
    # never the gigabyte an unbounded buffer reaches in seconds.
    assert peak_kb - baseline[2] < 80_000, (peak_kb, baseline[2])
    data = json.loads(out)
    stdout = [e["stdout"] for r in data["hosts"][0]["results"] for e in r["exchanges"]]
    assert any("output truncated after 1 MB" in s for s in stdout)
    # The report keeps a 64 KB head and tail of each answer, not the whole 1 MB.
    assert any("characters not kept" in s for s in stdout)
    assert max(len(s) for s in stdout) <= 70_000


def test_an_unknown_host_needs_accept_new_and_a_changed_key_type_is_refused(
    serve: Any, ta_key: Path,
) -> None:
    server = serve("ok")
    runner = CliRunner()
    refused = runner.invoke(main, _args(server, ta_key, "--format", "json", "--deadline", "20"))
    assert refused.exit_code == 1
    host = json.loads(refused.stdout)["hosts"][0]
    assert not host["reachable"] and "is not known" in host["error"]

    first = runner.invoke(main, _args(server, ta_key, "--accept-new", "--format", "json",
                                      "--deadline", "20"))
    assert json.loads(first.stdout)["hosts"][0]["reachable"], first.output
    # Pinned now: no --accept-new needed.
    again = runner.invoke(main, _args(server, ta_key, "--format", "json", "--deadline", "20"))
    assert json.loads(again.stdout)["hosts"][0]["reachable"], again.output

    # The same address now offers an RSA key: not "another key to pin", a mismatch,
    # even with --accept-new (OpenSSH's accept-new refuses changed keys too).
    server.host_key = rsa_host_key()
    changed = runner.invoke(main, _args(server, ta_key, "--accept-new", "--format", "json",
                                        "--deadline", "20"))
    host = json.loads(changed.stdout)["hosts"][0]
    assert not host["reachable"]
    assert "RSA host key" in host["error"] and "ssh-ed25519 key is pinned" in host["error"]


def test_markup_in_roster_names_is_printed_as_text(ta_key: Path, tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    roster = tmp_path / "class.yaml"
    where = f"host: 127.0.0.1, port: {port}, key: {ta_key}"
    roster.write_text(
        f"- {{student: 'alice [/]', {where}}}\n"
        f"- {{student: '[bold red]bob[/bold red]', {where}}}\n"
        f"- {{student: \"eve \\e]52;c;eA==\\a\", {where}}}\n")
    result = CliRunner().invoke(main, ["check", "--roster", str(roster), "--step",
                                       "install-stack", "--deadline", "2", "--jobs", "3"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "alice [/]" in result.output
    assert "[bold red]bob[/bold red]" in result.output
    assert "eve" in result.output and "\x1b" not in result.output


def test_ctrl_c_ends_a_roster_check_at_once(
    serve: Any, ta_key: Path, tmp_path: Path, _isolated: Path,
) -> None:
    server = serve("hang")
    roster = tmp_path / "class.csv"
    roster.write_text("student,host,port,key\n" + "".join(
        f"s{n},127.0.0.1,{server.port},{ta_key}\n" for n in range(6)))
    # Pin the key first, so every host gets as far as the hanging exec request.
    CliRunner().invoke(main, ["check", "--host", "127.0.0.1", "--port", str(server.port),
                              "--key", str(ta_key), "--accept-new", "--step", "install-stack",
                              "--deadline", "3"])
    proc = _cli(_isolated, "check", "--roster", str(roster), "--step", "install-stack",
                "--deadline", "300", "--jobs", "6")
    time.sleep(4.0)  # start-up, connect, and sit in the unanswered exec requests
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    code, _, _, _, err = _finish(proc, 60)
    assert code == 130, err
    assert time.monotonic() - interrupted < 10
