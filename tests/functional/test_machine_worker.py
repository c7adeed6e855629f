"""Guest programs run for real in the guest's isolated worker: python3 over a
shell, Python services while their unit is active (journal, ps), WSGI apps that
reload when their file changes; files flow both ways between the worker and the
guest's disk; a worker that dies is replaced."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from stemcell.engine.clock import ScaledClock
from stemcell.sandbox.machine import IO, Disk, Shell, System, worker, worker_sandbox
from stemcell.sandbox.machine.processes import Journal, ProcessTable

isolated = pytest.mark.skipif(not worker_sandbox.isolation().isolated,
                              reason="needs bubblewrap (apt-get install bubblewrap)")

UNIT = ("[Unit]\nDescription=job worker\n[Service]\n"
        "ExecStart=/usr/bin/python3 /opt/app/loop.py\nUser=www-data\n"
        "Environment=GREETING=hello\n[Install]\nWantedBy=multi-user.target\n")
LOOP = ("import os, time, sys\n"
        "print('started', os.environ['GREETING'], os.environ['USER'], flush=True)\n"
        "print('to stderr', file=sys.stderr, flush=True)\n"
        "n = 0\n"
        "while True:\n"
        "    n += 1\n"
        "    open('/var/spool/app/beat', 'w').write(str(n))\n"
        "    if os.path.exists('/var/spool/app/quit'):\n"
        "        sys.exit(3)\n"
        "    time.sleep(0.1)\n")


def run(system: System, script: str, *, user: str = "ubuntu",
        stdin: bytes = b"") -> tuple[int, str, str]:
    out: list[bytes] = []
    err: list[bytes] = []
    code = Shell(system, user=user).run(script, IO(stdin, out.append, err.append))
    return code, b"".join(out).decode(), b"".join(err).decode()


def wait_for(what: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def m() -> Iterator[System]:
    system = System(Disk.ubuntu(), ScaledClock.starting_now(1e7), hostname="ip-172-31-5-6")
    worker.attach(system)
    yield system
    worker.shutdown(system)


def test_journal_and_process_table() -> None:
    clock = iter(range(100))
    journal = Journal(lambda: float(next(clock)), limit=3)
    for i in range(5):
        journal.append("a.service" if i % 2 else "b.service", f"line {i}")
    assert [e.line for e in journal.entries()] == ["line 2", "line 3", "line 4"]
    assert [e.line for e in journal.entries("a.service")] == ["line 3"]
    table = ProcessTable()
    p = table.spawn("www-data", "/usr/bin/python3 x.py", 5.0, unit="x.service")
    assert table.by_unit("x.service") == [p] and p.pid >= ProcessTable.FIRST_PID
    table.exit(p.pid)
    assert table.running() == []


@isolated
def test_python3_runs_programs_with_output_status_and_files(m: System) -> None:
    code, out, err = run(m, "python3 -c 'import sys, os; print(os.getcwd(), sys.argv[1:]); "
                            "print(\"oops\", file=sys.stderr); sys.exit(5)' a b")
    assert (code, out, err) == (5, "/home/ubuntu ['a', 'b']\n", "oops\n")
    code, out, _ = run(m, "printf 'import sys\\nprint(sys.stdin.read()[::-1])\\n' > rev.py && "
                          "echo abc | python3 rev.py")
    assert (code, out) == (0, "\ncba\n")
    # What a program writes where its user may write lands on the guest's disk...
    assert run(m, "python3 -c 'open(\"/tmp/made\", \"w\").write(\"x\")' && cat /tmp/made")[1] \
        == "x"
    assert m.disk.get("/tmp/made").owner == "ubuntu"  # type: ignore[union-attr]
    # ... and what Ubuntu would refuse is not kept, and said so.
    code, _, err = run(m, "python3 -c 'open(\"/etc/evil\", \"w\").write(\"x\")'")
    assert not m.disk.exists("/etc/evil") and "/etc/evil" in err
    code, out, _ = run(m, "printf '#!/usr/bin/env python3\\nprint(\"hi\")\\n' > s.py && "
                          "chmod +x s.py && ./s.py")
    assert (code, out) == (0, "hi\n")
    assert run(m, "python3 missing.py")[0] == 2
    assert run(m, "python3 --version")[1] == "Python 3.12.3\n"
    assert m.processes.running() == []


@isolated
def test_a_python_service_runs_while_its_unit_is_active(m: System) -> None:
    m.disk.mkdir("/opt/app")
    m.disk.write("/opt/app/loop.py", LOOP)
    m.disk.mkdir("/var/spool/app", owner="www-data")
    m.disk.write("/etc/systemd/system/loop.service", UNIT)
    assert run(m, "sudo systemctl start loop")[0] == 0
    assert wait_for(lambda: m.disk.is_file("/var/spool/app/beat"))
    procs = m.processes.by_unit("loop.service")
    assert len(procs) == 1 and procs[0].user == "www-data"
    assert procs[0].command == "/usr/bin/python3 /opt/app/loop.py"
    lines = [e.line for e in m.journal.entries("loop.service")]
    assert "started hello www-data" in lines and "to stderr" in lines
    # Files written on the guest's disk reach the running program.
    m.disk.write("/var/spool/app/quit", "")
    assert wait_for(lambda: not m.is_active("loop.service"))
    assert "loop.service" in m.failed
    assert any("status=3/FAILURE" in e.line for e in m.journal.entries("loop.service"))
    m.disk.remove("/var/spool/app/quit")
    assert run(m, "sudo systemctl start loop")[0] == 0
    assert wait_for(lambda: len(m.processes.by_unit("loop.service")) == 1)
    assert run(m, "sudo systemctl stop loop")[0] == 0
    assert wait_for(lambda: m.processes.by_unit("loop.service") == [])


@isolated
def test_wsgi_reloads_on_change_and_a_hung_request_spares_services(
        m: System, monkeypatch: pytest.MonkeyPatch) -> None:
    w = worker.worker_for(m)
    m.disk.mkdir("/opt/app")
    m.disk.write("/opt/app/loop.py", LOOP)
    m.disk.mkdir("/var/spool/app", owner="www-data")
    m.disk.write("/etc/systemd/system/loop.service", UNIT)
    assert run(m, "sudo systemctl start loop")[0] == 0
    m.disk.write("/opt/app/a.wsgi", "def application(e, sr):\n    sr('200 OK', [])\n"
                                    "    return [b'one']\n")
    assert w.wsgi("/opt/app/a.wsgi", [], {}, b"").body == b"one"
    m.disk.write("/opt/app/a.wsgi", "import time\ndef application(e, sr):\n"
                                    "    time.sleep(60)\n")
    monkeypatch.setattr(worker, "REQUEST_TIMEOUT", 1.0)
    with pytest.raises(worker.WorkerError) as info:
        w.wsgi("/opt/app/a.wsgi", [], {}, b"")
    assert info.value.kind == "timeout"
    m.disk.write("/opt/app/a.wsgi", "def application(e, sr):\n    sr('201 Created', [])\n"
                                    "    return [b'two']\n")
    reply = w.wsgi("/opt/app/a.wsgi", [], {}, b"")
    assert (reply.status, reply.body) == ("201 Created", b"two")
    assert m.is_active("loop.service") and len(m.processes.by_unit("loop.service")) == 1
    starts = w.starts
    # The whole worker dying (the guest's programs killed it) costs one request.
    w._restart()
    assert w.wsgi("/opt/app/a.wsgi", [], {}, b"").body == b"two"
    assert w.starts == starts + 1


def test_unisolated_worker_runs_and_says_so(m: System, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(worker_sandbox.ENV_FORCE, "none")
    code, out, _ = run(m, "python3 -c 'print(6 * 7)'")
    assert (code, out) == (0, "42\n")
    assert any("UNISOLATED" in e.line for e in m.journal.entries("stemcell-worker"))
