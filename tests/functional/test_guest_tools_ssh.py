"""A guest from a baked image (apache2 installed) reached the way a TA's tools reach
a server: a stock pytest-testinfra suite over SSH, OpenSSH scp/sftp through the
guest's SFTP subsystem, and full-screen editors driven over a PTY."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paramiko
import pytest
import testinfra
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, BootModel, Disk, Guest, Shell, System

# testinfra's paramiko backend warns about every new host key (WarningPolicy).
pytestmark = pytest.mark.filterwarnings("ignore:Unknown ssh-ed25519 host key:UserWarning")

SPEED = 500.0
SSH = shutil.which("ssh") or "/usr/bin/ssh"
SCP = shutil.which("scp") or "/usr/bin/scp"
SFTP = shutil.which("sftp") or "/usr/bin/sftp"


def baked_disk() -> Disk:
    """The bake step's result: a noble cloud image with apache2 installed."""
    system = System(Disk.ubuntu(), ModelClock.starting_now(1e7))
    out: list[bytes] = []
    code = Shell(system).run("sudo apt-get update -qq && sudo apt-get install -y -qq apache2",
                             IO(b"", out.append, out.append))
    assert code == 0, b"".join(out).decode()
    return system.disk.copy()


def wait_for(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError("condition not met in time")


class Server:
    def __init__(self, guest: Guest, keyfile: Path, pkey: paramiko.PKey) -> None:
        self.guest = guest
        self.keyfile = keyfile
        self.pkey = pkey

    @property
    def port(self) -> int:
        return self.guest.ssh_port

    def openssh(self, *extra: str) -> list[str]:
        return ["-i", str(self.keyfile), "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", *extra]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                            serialization.NoEncryption()).decode()
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                        serialization.PublicFormat.OpenSSH).decode()
    keyfile = tmp_path_factory.mktemp("keys") / "id_ed25519"
    keyfile.write_text(pem)
    os.chmod(keyfile, 0o600)
    g = Guest("i-0feedc0ffee000001", baked_disk(), ModelClock.starting_now(SPEED),
              BootModel.default(), private_ip="172.31.5.6", public_ip="54.1.2.3",
              launch_key=pub + " ta")
    try:
        g.boot()
        wait_for(lambda: g.phase == "ready")
        yield Server(g, keyfile, paramiko.Ed25519Key(file_obj=io.StringIO(pem)))
    finally:
        g.destroy()


# --- testinfra -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def host(server: Server) -> testinfra.host.Host:
    return testinfra.get_host(f"paramiko://ubuntu@127.0.0.1:{server.port}",
                              ssh_identity_file=str(server.keyfile), timeout=20)


def test_testinfra_package_and_service(host: testinfra.host.Host) -> None:
    apache = host.package("apache2")
    assert apache.is_installed
    assert apache.version.startswith("2.4.58")
    assert not host.package("nginx").is_installed
    svc = host.service("apache2")
    assert svc.is_running
    assert svc.is_enabled
    assert svc.exists
    assert host.service("ssh").is_running
    assert not host.service("apache-htcacheclean").is_enabled


def test_testinfra_socket_and_process(host: testinfra.host.Host) -> None:
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert host.socket("tcp://0.0.0.0:22").is_listening
    assert not host.socket("tcp://0.0.0.0:3306").is_listening
    workers = host.process.filter(comm="apache2")
    assert len(workers) == 3
    assert {p.user for p in workers} == {"root", "www-data"}
    assert host.process.get(pid=1).comm == "init"
    assert host.process.filter(user="www-data", comm="apache2")


def test_testinfra_files_users_sudo(host: testinfra.host.Host) -> None:
    conf = host.file("/etc/apache2/apache2.conf")
    assert conf.exists and conf.is_file
    assert conf.user == "root" and conf.group == "root"
    assert conf.mode == 0o644
    assert conf.contains("IncludeOptional sites-enabled")
    assert host.file("/var/www/html").is_directory
    assert host.file("/etc/apache2/sites-enabled/000-default.conf").is_symlink
    assert host.file("/etc/apache2/sites-enabled/000-default.conf").linked_to == \
        "/etc/apache2/sites-available/000-default.conf"
    ubuntu = host.user("ubuntu")
    assert ubuntu.exists
    assert ubuntu.uid == 1000 and ubuntu.home == "/home/ubuntu"
    assert "sudo" in ubuntu.groups and "adm" in ubuntu.groups
    assert host.user("www-data").shell == "/usr/sbin/nologin"
    assert not host.user("mallory").exists
    assert host.group("sudo").exists
    logins = host.check_output("journalctl -u ssh -o cat --no-pager")
    assert re.search(r"Accepted publickey for ubuntu from 127\.0\.0\.1 port \d+ ssh2: "
                     r"ED25519 SHA256:[\w+/]{43}", logins)
    with host.sudo():
        assert host.check_output("whoami") == "root"
        assert host.file("/etc/shadow").mode == 0o640
    with host.sudo("www-data"):
        assert host.check_output("id -un") == "www-data"


def test_testinfra_system_info(host: testinfra.host.Host) -> None:
    info = host.system_info
    assert info.type == "linux"
    assert info.distribution == "ubuntu"
    assert info.release == "24.04"
    assert info.codename == "noble"
    assert info.arch == "x86_64"


# --- scp and sftp --------------------------------------------------------------------


def test_scp_round_trip(server: Server, tmp_path: Path) -> None:
    local = tmp_path / "app.py"
    payload = b"print('hello from the stem cell')\n" * 200
    local.write_bytes(payload)
    local.chmod(0o640)
    up = subprocess.run([SCP, *server.openssh("-P", str(server.port)), str(local),
                         "ubuntu@127.0.0.1:app.py"],
                        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert up.returncode == 0, up.stderr
    disk = server.guest.disk
    node = disk.get("/home/ubuntu/app.py")
    assert node is not None and node.data == payload
    assert node.owner == "ubuntu" and node.mode & 0o777 == 0o640
    back = tmp_path / "back.py"
    down = subprocess.run([SCP, *server.openssh("-P", str(server.port)),
                           "ubuntu@127.0.0.1:/home/ubuntu/app.py", str(back)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert down.returncode == 0, down.stderr
    assert back.read_bytes() == payload
    # The user's permissions hold: ubuntu cannot write root's places.
    denied = subprocess.run([SCP, *server.openssh("-P", str(server.port)), str(local),
                             "ubuntu@127.0.0.1:/etc/app.py"],
                            capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL)
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr
    assert disk.get("/etc/app.py") is None


def test_sftp_batch(server: Server, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>uploaded</h1>\n")
    batch = tmp_path / "batch"
    batch.write_text(f"mkdir site\ncd site\nput {tmp_path / 'index.html'}\nls -l\n"
                     f"rename index.html home.html\nget home.html {tmp_path / 'got.html'}\n"
                     "pwd\n")
    run = subprocess.run([SFTP, *server.openssh("-P", str(server.port), "-b", str(batch)),
                          "ubuntu@127.0.0.1"], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert "Remote working directory: /home/ubuntu/site" in run.stdout
    assert "index.html" in run.stdout
    assert (tmp_path / "got.html").read_text() == "<h1>uploaded</h1>\n"
    assert server.guest.disk.read_text("/home/ubuntu/site/home.html") == "<h1>uploaded</h1>\n"


# --- full-screen editors over the PTY ------------------------------------------------


class Pty:
    """An interactive login over a PTY, driven key by key as a person would."""

    def __init__(self, server: Server) -> None:
        self.client = paramiko.SSHClient()
        self.client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        self.client.connect("127.0.0.1", server.port, username="ubuntu", pkey=server.pkey,
                            timeout=10, banner_timeout=10, auth_timeout=10,
                            look_for_keys=False, allow_agent=False)
        self.chan = self.client.invoke_shell(term="xterm", width=80, height=24)
        self.chan.settimeout(0.2)
        self.seen = b""

    def expect(self, needle: bytes, timeout: float = 20.0) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not seen; got {self.seen[-400:]!r}")
            try:
                data = self.chan.recv(65536)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError(f"session closed; got {self.seen[-400:]!r}")
            self.seen += data
        before, _, self.seen = self.seen.partition(needle)
        return before

    def send(self, keys: str | bytes) -> None:
        self.chan.sendall(keys.encode() if isinstance(keys, str) else keys)

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def pty(server: Server) -> Iterator[Pty]:
    session = Pty(server)
    session.expect(b"ubuntu@ip-172-31-5-6:~$ ")
    yield session
    session.close()


def test_nano_edits_an_apache_config_over_the_pty(server: Server, pty: Pty) -> None:
    pty.send("sudo nano /etc/apache2/ports.conf\r")
    screen = pty.expect(b"[ Read 6 lines ]")
    assert b"\x1b[?1049h" in screen and b"GNU nano 7.2" in screen
    assert b"/etc/apache2/ports.conf" in screen
    pty.send("\x17Listen 80\r")  # ^W search
    pty.expect(b"^X")
    pty.send("\x1b[F\x7f\x7f8080")  # End, two backspaces, type
    pty.expect(b"Modified")
    pty.send("\x0f")  # ^O
    pty.expect(b"File Name to Write: /etc/apache2/ports.conf")
    pty.send("\r")
    pty.expect(b"[ Wrote 6 lines ]")
    pty.send("\x18")  # ^X: nothing modified since the write, so it just exits
    pty.expect(b"\x1b[?1049l")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")
    assert "Listen 8080\n" in server.guest.disk.read_text("/etc/apache2/ports.conf")
    # Without sudo the same save is refused, as nano reports it.
    pty.send("nano /etc/apache2/ports.conf\r")
    pty.expect(b"[ Read 6 lines ]")
    pty.send("# mine\x18y\r")
    pty.expect(b"[ Error writing /etc/apache2/ports.conf: Permission denied ]")
    pty.send("\x18n")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")
    assert "# mine" not in server.guest.disk.read_text("/etc/apache2/ports.conf")
    pty.send("sudo sed -i 's/Listen 8080/Listen 80/' /etc/apache2/ports.conf\r")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")


def test_vi_basics_over_the_pty(server: Server, pty: Pty) -> None:
    pty.send("vi notes.txt\r")
    pty.expect(b'"notes.txt" [New]')
    pty.send("ihello\rworld\x1b")
    pty.expect(b"\x1b[K")
    pty.send(":q\r")
    pty.expect(b"E37: No write since last change (add ! to override)")
    pty.send("ggdd")  # delete the first line
    pty.send("Otop\x1bx")  # open a line above, type, Esc, delete the char under the cursor
    pty.send(":wq\r")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")
    assert server.guest.disk.read_text("/home/ubuntu/notes.txt") == "to\nworld\n"
    pty.send("vi /etc/hosts\r")
    pty.expect(b'"/etc/hosts" 1L')
    pty.send("A # x\x1b:w\r")
    pty.expect(b"E212: Can't open file for writing")
    pty.send(":q!\r")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")
    assert "# x" not in server.guest.disk.read_text("/etc/hosts")


def test_follow_modes_end_on_ctrl_c(server: Server, pty: Pty) -> None:
    assert server.guest.http_ok("/")[0] == 200  # the log exists once Apache served a page
    pty.send("tail -f /var/log/apache2/access.log\r")
    pty.expect(b'"GET / HTTP/1.1" 200')
    assert server.guest.http_ok("/followed")[0] == 404
    pty.expect(b'"GET /followed HTTP/1.1" 404')
    pty.send("\x03")
    pty.expect(b"^C")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")
    pty.send("journalctl -f -u cron\r")
    pty.expect(b"Started cron.service")
    pty.send("sudo systemctl restart cron\r")  # typed while following: stays queued
    time.sleep(0.3)
    server.guest.system.stop_service("cron", modeled=False)
    pty.expect(b"Stopped cron.service - Regular background program processing daemon.")
    pty.send("\x03")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")  # the queued restart ran after the interrupt
    assert server.guest.system.is_active("cron")


def test_top_full_screen_until_q(pty: Pty) -> None:
    pty.send("top\r")
    screen = pty.expect(b"    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     "
                        b"TIME+ COMMAND")
    assert b"\x1b[?1049h" in screen and b"Tasks:" in screen
    pty.send("q")
    pty.expect(b"\x1b[?1049l")
    pty.expect(b"ubuntu@ip-172-31-5-6:~$ ")


def test_sessions_in_ps_and_uptime(server: Server, pty: Pty) -> None:
    # Earlier tests' sessions end asynchronously once their clients close.
    wait_for(lambda: server.guest.system.processes.logins() == 1)
    second = Pty(server)
    try:
        second.expect(b"ubuntu@ip-172-31-5-6:~$ ")
        second.send("ps; uptime\r")
        out = second.expect(b"ubuntu@ip-172-31-5-6:~$ ").decode()
        mine = re.search(r"\n +\d+ (pts/\d+) +00:00:00 bash\r\n +\d+ (pts/\d+) +00:00:00 ps\r\n",
                         out)
        assert mine and mine.group(1) == mine.group(2)
        assert re.search(r"up .+,  2 users,  load average", out)
        pty.send("ps\r")
        first = pty.expect(b"ubuntu@ip-172-31-5-6:~$ ").decode()
        assert f" {mine.group(1)} " not in first  # each session has its own terminal
        pty.send("ps -ef | grep -c 'sshd: ubuntu@pts/'\r")
        assert pty.expect(b"ubuntu@ip-172-31-5-6:~$ ").decode().splitlines()[-1] == "2"
    finally:
        second.close()
