"""Guest programs run for real in the guest's isolated worker: python3 over a
shell, Python services while their unit is active (journal, ps), WSGI apps that
reload when their file changes; files flow both ways between the worker and the
guest's disk; a worker that dies is replaced."""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import (
    IO,
    Disk,
    Guest,
    Shell,
    System,
    worker,
    worker_sandbox,
    worker_units,
)
from stemcell.sandbox.machine.processes import Journal, ProcessTable

isolated = pytest.mark.skipif(not worker_sandbox.isolation().isolated,
                              reason="needs bubblewrap (apt-get install bubblewrap)")

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
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
    system = System(Disk.ubuntu(), ModelClock.starting_now(1e7), hostname="ip-172-31-5-6")
    worker.attach(system)
    yield system
    worker.shutdown(system)


def test_journal_and_process_table() -> None:
    clock = iter(range(100))
    journal = Journal(now=lambda: float(next(clock)))
    for i in range(5):
        journal.append("a.service" if i % 2 else "b.service", f"line {i}")
    assert [e.message for e in journal.snapshot()] == [f"line {i}" for i in range(5)]
    assert [(e.time, e.message) for e in journal.snapshot("a.service")] == [
        (1.0, "line 1"), (3.0, "line 3")]
    table = ProcessTable()
    p = table.spawn("/usr/bin/python3 x.py", user="www-data", started=5.0, unit="x.service")
    assert table.by_unit("x.service") == [p]
    table.kill(p.pid)
    assert table.by_unit("x.service") == []


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
    # Programs leave the process table when they end (only Ubuntu's own daemons stay).
    assert not [p.command for p in m.processes.list()
                if any(mark in p.command for mark in ("s.py", "/tmp/made", "--version"))]


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
    lines = [e.message for e in m.journal.snapshot("loop.service")]
    assert "started hello www-data" in lines and "to stderr" in lines
    status = run(m, "systemctl status loop")[1]
    assert f"Main PID: {procs[0].pid} (python3)" in status
    assert f"python3[{procs[0].pid}]: started hello www-data" in status
    # Files written on the guest's disk reach the running program.
    m.disk.write("/var/spool/app/quit", "")
    assert wait_for(lambda: not m.is_active("loop.service"))
    assert "loop.service" in m.failed
    assert any("status=3/FAILURE" in e.message for e in m.journal.snapshot("loop.service"))
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
    assert any("UNISOLATED" in e.message for e in m.journal.snapshot("stemcell-worker"))


BUNDLE = Path(__file__).resolve().parents[2] / "profiles/bundles/python/app-worker"


def _boot_script() -> str:
    """The Python profile's app-worker boot script, with the bundle written in place
    of the download (the lab fetches it from S3)."""
    files = "".join(f"cat > /opt/stemcell/app-worker/{name} <<'BUNDLE_EOF'\n"
                    f"{(BUNDLE / name).read_text()}BUNDLE_EOF\n"
                    for name in ("status.wsgi", "worker.py", "stemcell-worker.conf",
                                 "stemcell-worker.service"))
    return ("#!/bin/bash\nset -eux\napt-get update\n"
            "apt-get install -y apache2 libapache2-mod-wsgi-py3\na2enmod wsgi\n"
            "mkdir -p /opt/stemcell/app-worker /var/spool/stemcell/jobs\n"
            "chown -R www-data:www-data /var/spool/stemcell\n" + files +
            "cp /opt/stemcell/app-worker/stemcell-worker.service "
            "/etc/systemd/system/stemcell-worker.service\n"
            "cp /opt/stemcell/app-worker/stemcell-worker.conf "
            "/etc/apache2/conf-available/stemcell-worker.conf\n"
            "systemctl daemon-reload\nsystemctl enable stemcell-worker\n"
            "systemctl start stemcell-worker\na2enconf stemcell-worker\n"
            "systemctl reload apache2\n")


@isolated
def test_app_worker_status_page_is_the_deployed_workers_answer_over_ssh_and_http() -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                        serialization.PublicFormat.OpenSSH).decode()
    g = Guest("i-0feedfacefeedface", Disk.ubuntu(), ModelClock.starting_now(200.0),
              user_data=_boot_script(), private_ip="172.31.7.7", launch_key=pub)
    try:
        g.boot()
        assert wait_for(lambda: g.phase == "ready", 120)
        assert g.system.cloud_init.status == "done", g.system.cloud_init.errors

        def status() -> tuple[int, str]:
            try:
                with NO_PROXY.open(f"http://127.0.0.1:{g.http_port}/worker/status",
                                   timeout=10) as resp:
                    return resp.status, resp.read().decode()
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode()

        assert wait_for(lambda: status()[0] == 200)
        _, body = status()
        pid = int(body.split("pid: ")[1].split()[0])
        assert body.startswith("worker: ready\n") and pid > 1
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect("127.0.0.1", port=g.ssh_port, username="ubuntu",
                       pkey=paramiko.Ed25519Key(file_obj=io.StringIO(pem)),
                       look_for_keys=False, allow_agent=False, timeout=10, banner_timeout=10)
        try:
            _, out, err = client.exec_command(
                "python3 -c 'import socket, sys; print(socket.gethostname()); "
                "print(\"e\", file=sys.stderr); sys.exit(7)'", timeout=60)
            assert out.read().decode() == "ip-172-31-7-7\n"
            assert err.read().decode() == "e\n" and out.channel.recv_exit_status() == 7
            # A job dropped into the spool is processed by the running worker.
            _, out, _ = client.exec_command(
                "echo '{\"text\": \"three little words\"}' | "
                "sudo -u www-data tee /var/spool/stemcell/jobs/j1.json", timeout=60)
            out.channel.recv_exit_status()
            assert wait_for(lambda: g.disk.is_file("/var/spool/stemcell/jobs/j1.done"))
            assert '"words": 3' in g.disk.read_text("/var/spool/stemcell/jobs/j1.done")
            assert "processed j1.json" in [e.message for e in
                                           g.system.journal.snapshot("stemcell-worker.service")]
            _, out, _ = client.exec_command("sudo systemctl stop stemcell-worker", timeout=60)
            assert out.channel.recv_exit_status() == 0
        finally:
            client.close()
        assert wait_for(lambda: status() == (503, "worker: not running\n"
                                             "queue: /var/spool/stemcell/jobs\n"))
    finally:
        g.destroy()


@isolated
def test_restart_on_failure_until_the_start_limit() -> None:
    """Restart=on-failure restarts a crashing program after RestartSec=, five times in
    ten seconds at most (systemd.unit(5) StartLimitBurst=), then the unit fails."""
    system = System(Disk.ubuntu(), ModelClock.starting_now(1.0))
    try:
        system.disk.mkdir("/opt/app")
        system.disk.write("/opt/app/crash.py", "import sys\nprint('crashing')\nsys.exit(1)\n")
        system.disk.write("/etc/systemd/system/crash.service",
                          "[Service]\nExecStart=/usr/bin/python3 /opt/app/crash.py\n")
        system.start_service("crash.service", modeled=False)  # the unit; the program:
        worker.worker_for(system).start_service(
            "crash.service", ["/usr/bin/python3", "/opt/app/crash.py"], user="www-data",
            restart="on-failure", restart_sec=0.05)
        assert wait_for(lambda: "crash.service" in system.failed)
        lines = [e.message for e in system.journal.snapshot("crash.service")]
        assert lines.count("crashing") == 6  # the first start and five restarts
        assert "crash.service: Scheduled restart job, restart counter is at 5." in lines
        assert lines[-1] == "crash.service: Failed with result 'start-limit-hit'."
        assert not system.is_active("crash.service")
    finally:
        worker.shutdown(system)


def test_unit_restart_settings_are_read() -> None:
    system = System(Disk.ubuntu(), ModelClock.starting_now(1e7))
    system.disk.write("/etc/systemd/system/w.service",
                      "[Service]\nExecStart=/usr/bin/python3 /opt/w.py --x 'a b'\n"
                      "Restart=on-failure\nRestartSec=2s\nUser=www-data\n")
    spec = worker_units.service_spec(system, "w.service")
    assert spec is not None
    assert (spec.argv, spec.restart, spec.restart_sec, spec.user) == (
        ["/usr/bin/python3", "/opt/w.py", "--x", "a b"], "on-failure", 2.0, "www-data")
    assert worker_units.restarts("on-failure", 1) and not worker_units.restarts("on-failure", 0)
    assert worker_units.restarts("always", 0) and not worker_units.restarts("no", -9)
