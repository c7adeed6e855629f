"""A simulated guest over real sockets: phases on its ports, SSH (paramiko and OpenSSH),
HTTP, user data fetching a bundle from a loopback server, stop/start, destroy."""

from __future__ import annotations

import dataclasses
import http.server
import io
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, BootModel, Disk, Guest, Shell, System
from stemcell.sandbox.machine.host_key_files import fingerprint

FAST = 500.0
IP = "172.31.5.6"
PROMPT = "ubuntu@ip-172-31-5-6:~$ "
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclasses.dataclass
class KeyPair:
    pkey: paramiko.PKey
    public: str
    pem: str


@pytest.fixture(scope="module")
def keypair() -> KeyPair:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                        serialization.PublicFormat.OpenSSH).decode()
    return KeyPair(paramiko.Ed25519Key(file_obj=io.StringIO(pem)), pub + " student", pem)


@pytest.fixture
def guests() -> Iterator[list[Guest]]:
    made: list[Guest] = []
    yield made
    for g in made:
        g.destroy()


def new_guest(guests: list[Guest], keypair: KeyPair, *, speed: float = FAST,
              disk: Disk | None = None, user_data: str | None = None,
              model: BootModel | None = None) -> Guest:
    g = Guest("i-0123456789abcdef0", disk or Disk.ubuntu(), ModelClock.starting_now(speed),
              model or BootModel.default(), user_data=user_data, private_ip=IP,
              public_ip="54.1.2.3", launch_key=keypair.public)
    guests.append(g)
    return g


def wait_for(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.005)
    raise AssertionError("condition not met in time")


def probe(port: int, timeout: float = 0.08) -> str:
    """What a client sees on a port: timeout, reset, refused or banner."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "timeout"
    try:
        data = s.recv(64)
        return "banner" if data else "closed"
    except TimeoutError:
        return "timeout"
    except ConnectionResetError:
        return "reset"
    finally:
        s.close()


def connect(g: Guest, keypair: KeyPair) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect("127.0.0.1", port=g.ssh_port, username="ubuntu", pkey=keypair.pkey,
                   look_for_keys=False, allow_agent=False, timeout=5, banner_timeout=5)
    return client


def exec_(client: paramiko.SSHClient, command: str) -> tuple[int, str, str]:
    _, out, err = client.exec_command(command, timeout=30)
    o, e = out.read().decode(), err.read().decode()
    return out.channel.recv_exit_status(), o, e


def http_get(port: int, path: str = "/") -> tuple[int, dict[str, str], bytes]:
    try:
        with NO_PROXY.open(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def test_ssh_port_times_out_then_resets_then_speaks_ssh(guests: list[Guest],
                                                        keypair: KeyPair) -> None:
    model = dataclasses.replace(BootModel.default(), running_to_network=6.0,
                                network_to_sshd=12.0)
    g = new_guest(guests, keypair, speed=20, model=model)
    assert g.phase == "off"
    assert probe(g.ssh_port) == "timeout"
    assert probe(g.http_port) == "timeout"
    g.boot()
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        r = probe(g.ssh_port)
        if not seen or seen[-1] != r:
            seen.append(r)
        if r == "banner":
            break
    assert seen == ["timeout", "reset", "banner"], seen
    # apache is not installed: once the network is up, port 80 is refused, not dark
    assert probe(g.http_port) == "reset"
    assert g.http_ok("/") == (0, "connection refused")


def test_exec_apt_install_streams_and_then_serves_the_default_page(guests: list[Guest],
                                                                  keypair: KeyPair) -> None:
    g = new_guest(guests, keypair, speed=50)
    g.boot()
    wait_for(lambda: g.phase in ("sshd", "ready"))
    client = connect(g, keypair)
    _, out, _ = client.exec_command("sudo apt-get update && sudo apt-get install -y apache2")
    chan = out.channel
    first_line_at = None
    lines = []
    for line in out:
        if first_line_at is None:
            first_line_at = time.monotonic()
        lines.append(line.rstrip("\n"))
    status = chan.recv_exit_status()
    done_at = time.monotonic()
    assert status == 0
    assert first_line_at is not None and done_at - first_line_at > 0.1  # streamed, not batched
    assert any(ln.startswith("Get:") and " apache2-bin amd64 " in ln for ln in lines)
    assert "Setting up apache2 (2.4.58-1ubuntu8.5) ..." in lines
    assert exec_(client, "systemctl is-active apache2") == (0, "active\n", "")
    assert exec_(client, "echo x > /etc/nope")[0] == 1
    assert exec_(client, "exit 7")[0] == 7
    code, headers, body = http_get(g.http_port)
    assert code == 200 and b"Apache2 Ubuntu Default Page" in body
    assert headers["Server"] == "Apache/2.4.58 (Ubuntu)"
    assert http_get(g.http_port, "/nope")[0] == 404
    assert g.http_ok("/")[0] == 200
    client.close()


def test_user_data_fetches_a_bundle_over_loopback_and_serves_it(guests: list[Guest],
                                                                keypair: KeyPair) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("index.html", "<h1>stem cell web role</h1>\n")
    bundle = buf.getvalue()

    class Bucket(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path.startswith("/bucket/web.zip?")
            self.send_response(200 if ok else 403)
            self.send_header("Content-Length", str(len(bundle) if ok else 0))
            self.end_headers()
            if ok:
                self.wfile.write(bundle)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bucket)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = (f"http://127.0.0.1:{server.server_address[1]}/bucket/web.zip?X-Amz-Algorithm=AWS4-"
           "HMAC-SHA256&X-Amz-Signature=0123456789abcdef0123456789abcdef")
    user_data = ("#!/bin/bash\nset -eux\napt-get update\n"
                 "DEBIAN_FRONTEND=noninteractive apt-get install -y apache2 unzip\n"
                 f'curl -fsSL "{url}" -o /tmp/web.zip\n'
                 "unzip -o /tmp/web.zip -d /var/www/html\n")
    try:
        g = new_guest(guests, keypair, user_data=user_data)
        g.boot()
        wait_for(lambda: g.phase in ("sshd", "ready"))
        client = connect(g, keypair)
        assert exec_(client, "cloud-init status --wait")[1].endswith("status: done\n")
        assert g.phase == "ready"
        code, _, body = http_get(g.http_port)
        assert code == 200 and body == b"<h1>stem cell web role</h1>\n"
        log = exec_(client, "cat /var/log/cloud-init-output.log")[1]
        assert "Get:" in log and "inflating: /var/www/html/index.html" in log
        assert "0123456789abcdef0123456789abcdef" not in log  # signatures never in logs
        client.close()
    finally:
        server.shutdown()
        server.server_close()


def test_real_openssh_client_on_a_baked_image(guests: list[Guest], keypair: KeyPair,
                                              tmp_path: Path) -> None:
    ssh = shutil.which("ssh") or "/usr/bin/ssh"
    if not os.path.exists(ssh):
        pytest.skip("OpenSSH client not installed")
    # bake: a disk where apache2 was installed earlier (as an AMI from the builder)
    builder = System(Disk.ubuntu(), ModelClock.starting_now(1e7))
    assert Shell(builder, user="root").run("apt-get update && apt-get install -y apache2",
                                           IO()) == 0
    g = new_guest(guests, keypair, disk=builder.disk.copy())
    g.boot()
    wait_for(lambda: g.phase == "ready")
    keyfile = tmp_path / "id_ed25519"
    keyfile.write_text(keypair.pem)
    keyfile.chmod(0o600)
    result = subprocess.run(
        [ssh, "-i", str(keyfile), "-p", str(g.ssh_port), "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
         "-o", "ConnectTimeout=5", "ubuntu@127.0.0.1", "systemctl is-active apache2"],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "active\n"
    assert http_get(g.http_port)[0] == 200
    # a login shell on a pty, lines typed ahead (piped), exit status carried back
    shell = subprocess.run(
        [ssh, "-tt", "-i", str(keyfile), "-p", str(g.ssh_port), "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
         "ubuntu@127.0.0.1"],
        input=b"whoami\ncd /var/www/html\nls\nexit 3\n", capture_output=True, timeout=30)
    out = shell.stdout.decode()
    assert shell.returncode == 3, out
    assert "ubuntu@ip-172-31-5-6:~$ whoami\r\nubuntu\r\n" in out
    assert "ubuntu@ip-172-31-5-6:/var/www/html$ ls\r\nindex.html\r\n" in out


def test_exec_reads_stdin_only_when_the_command_wants_it(guests: list[Guest],
                                                         keypair: KeyPair) -> None:
    g = new_guest(guests, keypair)
    g.boot()
    wait_for(lambda: g.phase in ("sshd", "ready"))
    client = connect(g, keypair)
    transport = client.get_transport()
    assert transport is not None
    chan = transport.open_session()
    chan.exec_command("sudo bash -s")  # how the provision step sends the bake script
    chan.sendall(b"set -e\nwhoami\nmkdir -p /opt/baked\n")
    chan.shutdown_write()
    assert chan.recv_exit_status() == 0
    assert chan.recv(100) == b"root\n"
    assert g.disk.is_dir("/opt/baked")
    # a command that ignores stdin does not wait for an EOF the client never sends
    # (exec_ reads with a timeout: a hang fails the test)
    assert exec_(client, "hostname") == (0, "ip-172-31-5-6\n", "")
    client.close()


def test_interactive_shell_prompt_editing_ctrl_c_and_exit(guests: list[Guest],
                                                         keypair: KeyPair) -> None:
    g = new_guest(guests, keypair)
    g.boot()
    wait_for(lambda: g.phase in ("sshd", "ready"))
    client = connect(g, keypair)
    chan = client.invoke_shell(term="xterm")
    chan.settimeout(5)
    buf = b""

    def read_until(marker: str) -> str:
        nonlocal buf
        while marker.encode() not in buf:
            buf += chan.recv(4096)
        head, _, rest = buf.partition(marker.encode())
        buf = rest
        return head.decode()

    assert "Welcome to Ubuntu 24.04" in read_until(PROMPT)
    chan.send(b"echoo\x7f\x7f hi\r")
    assert "hi\r\n" in read_until(PROMPT)
    chan.send(b"cd /etc\r")
    read_until("ubuntu@ip-172-31-5-6:/etc$ ")
    chan.send(b"sleep 100000\r")
    time.sleep(0.2)
    chan.send(b"\x03")
    read_until("ubuntu@ip-172-31-5-6:/etc$ ")
    chan.send(b"if true; then\r")
    read_until("> ")
    chan.send(b"echo multi; fi\r")
    assert "multi" in read_until("$ ")
    chan.send(b"sudo -i\r")
    read_until("root@ip-172-31-5-6:~# ")
    chan.send(b"whoami; exit\r")
    assert "root" in read_until("logout")
    read_until("ubuntu@ip-172-31-5-6:/etc$ ")
    chan.send(b"sudo -i\r")
    read_until("root@ip-172-31-5-6:~# ")
    chan.send(b"whoami; exit\r")
    assert "root" in read_until("logout")
    read_until("ubuntu@ip-172-31-5-6:/etc$ ")
    chan.send(b"exit\r")
    read_until("logout")
    wait_for(lambda: chan.exit_status_ready(), 5)
    assert chan.recv_exit_status() == 0
    client.close()


def test_host_key_matches_the_console_and_wrong_keys_are_refused(guests: list[Guest],
                                                                keypair: KeyPair) -> None:
    g = new_guest(guests, keypair)
    g.boot()
    wait_for(lambda: g.phase == "ready")
    client = connect(g, keypair)
    transport = client.get_transport()
    assert transport is not None
    seen = fingerprint(transport.get_remote_server_key())
    assert f"256 {seen} root@ip-172-31-5-6 (ED25519)" in g.console_output()
    client.close()
    other = paramiko.Ed25519Key(file_obj=io.StringIO(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption()).decode()))
    bad = paramiko.SSHClient()
    bad.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    with pytest.raises(paramiko.AuthenticationException):
        bad.connect("127.0.0.1", port=g.ssh_port, username="ubuntu", pkey=other,
                    look_for_keys=False, allow_agent=False, timeout=5)
    bad.close()


def test_many_concurrent_sessions(guests: list[Guest], keypair: KeyPair) -> None:
    g = new_guest(guests, keypair)
    g.boot()
    wait_for(lambda: g.phase == "ready")
    results: list[tuple[int, str, str]] = []

    def one(i: int) -> None:
        c = connect(g, keypair)
        results.append(exec_(c, f"echo session-{i}; hostname"))
        c.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r[1] for r in results) == sorted(f"session-{i}\nip-172-31-5-6\n"
                                                   for i in range(8))


def test_stop_goes_dark_and_start_brings_enabled_services_back(guests: list[Guest],
                                                              keypair: KeyPair) -> None:
    g = new_guest(guests, keypair, user_data="#!/bin/bash\napt-get update\n"
                                             "apt-get install -y apache2\necho ran-once\n")
    g.boot()
    wait_for(lambda: g.phase == "ready")
    client = connect(g, keypair)
    g.shutdown()
    assert g.phase == "stopped"
    transport = client.get_transport()
    wait_for(lambda: transport is None or not transport.is_active(), 5)
    assert probe(g.ssh_port) == "timeout"
    assert probe(g.http_port) == "timeout"
    snap = g.snapshot()
    assert "apache2" in snap.packages
    g.boot()
    wait_for(lambda: g.phase == "ready")
    assert http_get(g.http_port)[0] == 200  # apache2 is enabled, so it starts at boot
    client = connect(g, keypair)
    out = exec_(client, "grep -c ran-once /var/log/cloud-init-output.log")[1]
    assert out == "1\n"  # user data is per instance: not run again
    client.close()
    snap.write("/etc/marker", "only in the snapshot")
    assert not g.disk.exists("/etc/marker")


def test_destroy_releases_ports_and_threads(keypair: KeyPair) -> None:
    before = threading.active_count()
    g = Guest("i-0destroy", Disk.ubuntu(), ModelClock.starting_now(FAST), private_ip=IP,
              launch_key=keypair.public)
    g.boot()
    wait_for(lambda: g.phase == "ready")
    client = connect(g, keypair)
    assert exec_(client, "true")[0] == 0
    ssh_port, http_port = g.ssh_port, g.http_port
    g.destroy()
    assert g.phase == "destroyed"
    client.close()
    assert probe(ssh_port) == "refused" and probe(http_port) == "refused"
    wait_for(lambda: threading.active_count() <= before, 5)


def test_guest_curl_retries_transient_errors_as_curl_does() -> None:
    """`curl --retry N` (curl(1)): a 503 is transient, retried after 1 s, doubling; the
    boot scripts rely on it so one S3 SlowDown does not leave a server without its code."""
    import http.server
    import threading

    from stemcell.engine.clock import ModelClock
    from stemcell.sandbox.machine import IO, Disk, Shell, System

    answers = [503, 503, 200]

    class Flaky(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = answers.pop(0) if answers else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        system = System(Disk.ubuntu(), ModelClock.starting_now(1000.0))
        out: list[bytes] = []
        err: list[bytes] = []
        url = f"http://127.0.0.1:{server.server_address[1]}/bundle"
        status = Shell(system).run(f"curl -fS --retry 5 {url}", IO(b"", out.append, err.append))
        assert status == 0 and b"".join(out) == b"ok" and not answers
        text = b"".join(err).decode()
        assert text.count("Will retry in") == 2 and "Will retry in 2 seconds" in text
        answers[:] = [503] * 10
        assert Shell(system).run(f"curl -fsS --retry 1 {url}", IO()) == 22
    finally:
        server.shutdown()
