"""A student's code attacks the machine the sandbox runs on, and fails.

A hostile WSGI app (served by the guest's Apache) and hostile ``python3 -c``
programs (typed in a guest shell) try to write a host file, read the run keys
under STEMCELL_HOME and the host's AWS secrets, reach a host loopback port,
fork-bomb, allocate 10 GB and loop forever. Each is refused or bounded, and the
guest still serves afterwards. Runs as root in CI: the isolation must hold for
root too.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, Disk, Shell, System, worker, worker_sandbox
from stemcell.sandbox.machine.web import WebServer


def _available() -> list[str]:
    """The isolations this machine gives (bubblewrap, and unshare as its fallback)."""
    kinds = []
    for kind in ("bwrap", "unshare"):
        if worker_sandbox._probe(kind).kind == kind:
            kinds.append(kind)
    return kinds


MODES = _available()
pytestmark = pytest.mark.skipif(not MODES, reason="needs bubblewrap or unprivileged user "
                                "namespaces (apt-get install bubblewrap)")

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def sh(system: System, script: str, user: str = "root") -> tuple[int, str]:
    out: list[bytes] = []
    code = Shell(system, user=user).run(script, IO(b"", out.append, out.append))
    return code, b"".join(out).decode("utf-8", "replace")


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The TA's machine: a run key under STEMCELL_HOME and AWS secrets in the env."""
    home = tmp_path / "stemcell-home"
    (home / "runs" / "r1").mkdir(parents=True)
    (home / "runs" / "r1" / "key.pem").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    monkeypatch.setenv("STEMCELL_HOME", str(home))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    return tmp_path


@pytest.fixture(params=MODES or ["none"])
def guest(host: Path, request: pytest.FixtureRequest,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[System, WebServer]]:
    monkeypatch.setenv(worker_sandbox.ENV_FORCE, request.param)
    system = System(Disk.ubuntu(), ModelClock.starting_now(1e7), hostname="ip-172-31-9-9",
                    private_ip="172.31.9.9")
    code, out = sh(system, "apt-get update -qq && apt-get install -y -qq apache2 "
                   "libapache2-mod-wsgi-py3 && mkdir -p /opt/app && echo static > "
                   "/var/www/html/index.html")
    assert code == 0, out
    yield system, WebServer(system)
    assert worker.worker_for(system).isolation.kind == request.param
    worker.shutdown(system)


def deploy(system: System, source: str) -> None:
    system.disk.write("/opt/app/app.wsgi", source)
    system.disk.write("/etc/apache2/conf-enabled/app.conf",
                      "WSGIScriptAlias /app /opt/app/app.wsgi\n")


def get(web: WebServer, path: str = "/app") -> tuple[int, str]:
    resp = web.handle("GET", path, {"Host": "x"})
    return resp.status, resp.body.decode("utf-8", "replace")


def still_serving(system: System, web: WebServer) -> None:
    assert get(web, "/") == (200, "static\n")
    deploy(system, "def application(e, sr):\n    sr('200 OK', [])\n    return [b'alive']\n")
    assert get(web) == (200, "alive")


def app_printing(expr: str) -> str:
    return ("import os, socket\n"
            "def application(environ, start_response):\n"
            "    try:\n"
            f"        value = repr({expr})\n"
            "    except BaseException as exc:\n"
            "        value = 'refused: ' + type(exc).__name__\n"
            "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
            "    return [value.encode()]\n")


def test_wsgi_app_cannot_write_a_host_file(guest: tuple[System, WebServer],
                                           host: Path) -> None:
    system, web = guest
    target = host / "pwned-by-wsgi"
    deploy(system, app_printing(f"open({str(target)!r}, 'w').write('x')"))
    status, body = get(web)
    assert status == 200
    assert not target.exists()
    # What it wrote (if anything) stayed in the guest; the host's tree is not there.
    assert body.startswith("refused") or system.disk.is_file(str(target))
    still_serving(system, web)


def test_wsgi_app_cannot_read_run_keys_or_host_environment(guest: tuple[System, WebServer],
                                                           host: Path) -> None:
    system, web = guest
    key = host / "stemcell-home" / "runs" / "r1" / "key.pem"
    deploy(system, app_printing(f"open({str(key)!r}).read()"))
    assert get(web) == (200, "refused: FileNotFoundError")
    deploy(system, app_printing("sorted(k for k in os.environ if k.startswith(('AWS', "
                                "'STEMCELL')))"))
    assert get(web) == (200, "[]")
    deploy(system, app_printing("open('/proc/1/environ', 'rb').read()"))
    assert SECRET not in get(web)[1]
    # The guest's own files are what it sees: its /etc/hostname, not the host's.
    deploy(system, app_printing("sorted(os.listdir('/'))"))
    top = get(web)[1]
    assert "'etc'" in top and "'opt'" in top and "stemcell-home" not in top
    deploy(system, app_printing("open('/etc/hostname').read()"))
    assert get(web) == (200, repr(system.disk.read_text("/etc/hostname")))


def test_wsgi_app_cannot_reach_a_host_loopback_port(guest: tuple[System, WebServer]) -> None:
    system, web = guest
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        listener.settimeout(5)
        try:
            accepted.append(listener.accept())
        except OSError:
            pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        deploy(system, app_printing(f"socket.create_connection(('127.0.0.1', {port}), 3)"))
        status, body = get(web)
        assert status == 200 and body.startswith("refused"), body
        t.join(6)
        assert accepted == []
    finally:
        listener.close()


def test_python_c_cannot_write_host_files_or_read_secrets(guest: tuple[System, WebServer],
                                                          host: Path) -> None:
    system, web = guest
    target = host / "pwned-by-python"
    key = host / "stemcell-home" / "runs" / "r1" / "key.pem"
    _code, out = sh(system, f"python3 -c 'open(\"{target}\", \"w\").write(\"x\")'; "
                   f"python3 -c 'print(open(\"{key}\").read())'; "
                   "python3 -c 'import os; print(sorted(k for k in os.environ if "
                   "k.startswith((\"AWS\", \"STEMCELL\"))))'", user="ubuntu")
    assert not target.exists()
    assert "BEGIN OPENSSH" not in out and SECRET not in out
    assert "FileNotFoundError" in out and "[]" in out
    still_serving(system, web)


def test_fork_bomb_is_bounded(guest: tuple[System, WebServer]) -> None:
    system, web = guest
    code, _out = sh(system, "python3 -c 'import os\nwhile True:\n    try:\n        os.fork()\n"
                   "    except OSError:\n        pass'", user="ubuntu")
    assert code != 0  # killed (the pid namespace counts its processes) or refused
    still_serving(system, web)


def test_ten_gigabytes_are_refused(guest: tuple[System, WebServer]) -> None:
    system, web = guest
    code, out = sh(system, "python3 -c 'x = bytearray(10 * 1024 ** 3)'", user="ubuntu")
    assert code == 1 and "MemoryError" in out
    deploy(system, app_printing("len(bytearray(10 * 1024 ** 3))"))
    assert get(web) == (200, "refused: MemoryError")
    still_serving(system, web)


def test_endless_loops_are_bounded(guest: tuple[System, WebServer],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    system, web = guest
    monkeypatch.setitem(worker.PROGRAM_LIMITS, "cpu", 2)
    code, _out = sh(system, "python3 -c 'while True: pass'", user="ubuntu")
    assert code == 128 + 24  # SIGXCPU at RLIMIT_CPU, as the kernel does
    monkeypatch.setattr(worker, "REQUEST_TIMEOUT", 2.0)
    deploy(system, "def application(e, sr):\n    while True:\n        pass\n")
    status, _ = get(web)
    assert status == 504
    still_serving(system, web)


def test_a_crashing_app_costs_one_request(guest: tuple[System, WebServer]) -> None:
    system, web = guest
    deploy(system, "import os\ndef application(e, sr):\n    os._exit(3)\n")
    assert get(web)[0] == 500
    log = system.disk.read_text("/var/log/apache2/error.log")
    assert "Truncated or oversized response headers" in log
    still_serving(system, web)


def test_check_launch_refuses_unisolated_student_code(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from stemcell.cli import main

    script = tmp_path / "boot.sh"
    script.write_text("#!/bin/bash\necho hi\n")
    monkeypatch.setenv(worker_sandbox.ENV_FORCE, "none")
    result = CliRunner().invoke(main, ["check", "--launch", "ami-0123456789abcdef0",
                                       "--user-data", str(script), "--backend", "sandbox"])
    assert result.exit_code == 2
    assert "unisolated" in result.output and "--trust-student-code" in result.output


def test_php_has_no_way_to_the_host(guest: tuple[System, WebServer], host: Path) -> None:
    """PHP is an evaluator inside the sandbox, not a host program: no file, process or
    host-environment functions at all (php.py)."""
    system, web = guest
    code, out = sh(system, "apt-get install -y -qq libapache2-mod-php && a2enmod php8.3")
    assert code == 0, out
    key = host / "stemcell-home" / "runs" / "r1" / "key.pem"
    for probe in (f"echo file_get_contents('{key}');", "echo getenv('AWS_SECRET_ACCESS_KEY');",
                  "echo shell_exec('id');", f"include '{key}';"):
        system.disk.write("/var/www/html/x.php", f"<?php {probe} ?>")
        status, body = get(web, "/x.php")
        assert "BEGIN OPENSSH" not in body and SECRET not in body and "uid=" not in body
        assert status in (200, 500)
    still_serving(system, web)


def test_a_program_that_stops_or_kills_its_worker_costs_only_itself(
        guest: tuple[System, WebServer], monkeypatch: pytest.MonkeyPatch) -> None:
    system, web = guest
    monkeypatch.setattr(worker, "REQUEST_TIMEOUT", 2.0)
    for sig in ("SIGKILL", "SIGSTOP"):
        code, _ = sh(system, f"python3 -c 'import os, signal; "
                     f"os.kill(os.getppid(), signal.{sig})'", user="ubuntu")
        assert code == 137  # the worker went (or was put) away; the shell says Killed
        still_serving(system, web)


def test_a_response_cannot_be_split(guest: tuple[System, WebServer]) -> None:
    system, web = guest
    deploy(system, "def application(e, sr):\n"
                   "    sr('200 OK', [('X-A', 'a\\r\\nSet-Cookie: stolen=1')])\n"
                   "    return [b'x']\n")
    resp = web.handle("GET", "/app", {"Host": "x"})
    assert resp.status == 500
    assert all("stolen" not in v for _, v in resp.headers)
    still_serving(system, web)
