"""Shared pieces of the EC2/steps tests: a lab, a profile, moto seeding, an SSH server.

The SSH server is a real paramiko server on loopback that can first ignore
connections (network not up), then reset them (sshd not up), then talk SSH; it
runs commands with the local bash in a throwaway HOME (``sudo`` dropped), which
is enough for the test bake scripts and for the TA key script.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import paramiko

from stemcell.cloud.deleter import CloudDeleter
from stemcell.cloud.ec2 import Cloud
from stemcell.cloud.leftovers import find
from stemcell.content.models import Lab, Profile
from stemcell.engine.clock import ModelClock
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.state import RunState, StateStore
from stemcell.remote.dialer import Target

CANONICAL = "099720109477"
NOBLE = "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"

ALL_STEPS: list[dict[str, Any]] = [
    {"id": "intro", "title": "Intro", "kind": "explain"},
    {"id": "base", "title": "Find the base image", "kind": "find_base_image"},
    {"id": "key", "title": "Key pair", "kind": "key_pair"},
    {"id": "sg", "title": "Security group", "kind": "security_group"},
    {"id": "builder", "title": "Launch builder", "kind": "launch_builder"},
    {"id": "provision", "title": "Provision", "kind": "provision"},
    {"id": "ta", "title": "TA access", "kind": "grant_ta_access"},
    {"id": "stop", "title": "Stop builder", "kind": "stop_builder"},
    {"id": "image", "title": "Create image", "kind": "create_image"},
    {"id": "bundles", "title": "Upload bundles", "kind": "upload_bundles"},
    {"id": "setup1", "title": "Setup 1", "kind": "launch_roles",
     "params": {"setup": 1, "roles": ["web", "app-api"]}},
    {"id": "setup2", "title": "Setup 2", "kind": "launch_roles",
     "params": {"setup": 2, "roles": ["web", "app-api"]}},
    {"id": "lb", "title": "Load balancer", "kind": "load_balancer",
     "params": {"roles": ["web"], "setup": 2}},
    {"id": "share", "title": "Share", "kind": "share_image"},
    {"id": "cleanup", "title": "Clean up", "kind": "cleanup"},
]


def make_lab(steps: list[dict[str, Any]] | None = None, **extra: Any) -> Lab:
    return Lab(id="lab1-stem-cell", title="Stem cell", steps=steps or ALL_STEPS, **extra)


def make_profile(root: Path, bake: str = "echo installing apache\necho done\n") -> Profile:
    for role in ("web", "app-api"):
        folder = root / "bundles" / role
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "app.py").write_text(f"ROLE = {role!r}\n")
    return Profile(
        id="apache-python", title="Apache + Python",
        base_image={"owner": CANONICAL, "name": NOBLE, "architecture": "x86_64"},
        instance_type="t3.micro",
        packages=[{"name": "apache2", "download_kb": 1800}],
        bake_script=bake,
        roles={r: {"title": r, "bundle": f"bundles/{r}",
                   "health": {"path": "/health", "expect": "ok"}} for r in ("web", "app-api")},
        boot_scripts={r: "#!/bin/bash\ncurl -fsS '{{bundle_url}}' -o /tmp/{{role}}.tgz\n"
                      for r in ("web", "app-api")},
        install_scripts={r: "#!/bin/bash\napt-get install -y apache2\n"
                         "curl -fsS '{{bundle_url}}' -o /tmp/{{role}}.tgz\n"
                         for r in ("web", "app-api")},
    )


def seed_ubuntu(region: str = "us-east-1") -> tuple[str, str]:
    """Two Canonical noble images in moto (older, newer); returns their ids."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami

    backend = ec2_backends[DEFAULT_ACCOUNT_ID][region]
    ids = []
    for n, serial in enumerate(("20260901", "20261120")):
        ami_id = f"ami-0a1b2c3d4e5f6{n:04d}"
        backend.amis[ami_id] = Ami(
            backend, ami_id, name=NOBLE.replace("*", serial), owner_id=CANONICAL,
            public=True, virtualization_type="hvm", architecture="x86_64",
            creation_date=datetime(2026, 9 + 2 * n, 1, tzinfo=UTC),
            root_device_type="ebs", root_device_name="/dev/sda1", region_name=region,
        )
        ids.append(ami_id)
    return ids[0], ids[1]


def make_cloud(endpoint_url: str | None = None, region: str = "us-east-1") -> Cloud:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=region)
    return Cloud(session, region, endpoint_url)


class FixedDialer:
    """Every instance is the one test SSH server (addresses stay what EC2 said)."""

    def __init__(self, ssh: tuple[str, int], http: tuple[str, int] = ("127.0.0.1", 9)) -> None:
        self.ssh = ssh
        self.http = http
        self.asked: list[Target] = []

    def ssh_address(self, target: Target) -> tuple[str, int]:
        self.asked.append(target)
        return self.ssh

    def http_address(self, target: Target, port: int = 80) -> tuple[str, int]:
        return self.http


def make_ctx(tmp_path: Path, cloud: Cloud, dialer: Any, lab: Lab | None = None,
             speed: float = 2000.0, **config: Any) -> Context:
    run_id = "20261128-010203-abc123"
    run_dir = tmp_path / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    profile_dir = tmp_path / "profile"
    profile = config.pop("profile", None) or make_profile(profile_dir)
    store = StateStore(run_dir / "state.json", RunState(run_id=run_id))
    ctx = Context(
        run_id=run_id, run_dir=run_dir, config=RunConfig(**{"region": cloud.region, **config}),
        lab=lab or make_lab(),
        profile=profile, profile_dir=profile_dir, store=store,
        clock=ModelClock.starting_now(speed),
    )
    cloud.on_call = ctx.count_api_call
    cloud.retries.clock = ctx.clock  # as the backend wires it: back-offs are modeled waits
    ctx.cloud = cloud
    ctx.dialer = dialer
    ctx.deleter = CloudDeleter()
    return ctx


def leftovers(cloud: Cloud, run_id: str) -> list[str]:
    return [f"{r.rtype} {r.rid}" for r in find(cloud, run_id)]


# --- a loopback SSH server ----------------------------------------------------------------


class _Server(paramiko.ServerInterface):
    def __init__(self, owner: SshTestServer) -> None:
        self.owner = owner
        self.command: bytes = b""
        self.event = threading.Event()

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        allowed = self.owner.allowed_key()
        if username == "ubuntu" and allowed is not None and key.asbytes() == allowed:
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.command = command
        self.event.set()
        return True


class SshTestServer:
    """Loopback SSH: ``hang_first`` connections ignored, ``refuse_first`` reset, then SSH."""

    def __init__(self, home: Path, key_file: Path | None = None, *, refuse_first: int = 0,
                 hang_first: int = 0, never: bool = False) -> None:
        self.home = home
        self.home.mkdir(parents=True, exist_ok=True)
        self.key_file = key_file
        self.host_key = paramiko.Ed25519Key.from_private_key_file(_host_key_file(home))
        self.refuse_first = refuse_first
        self.hang_first = hang_first
        self.never = never
        self.connections = 0
        self.commands: list[str] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.address = self.sock.getsockname()
        self._stop = threading.Event()
        self._hanging: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def allowed_key(self) -> bytes | None:
        if self.key_file is None or not self.key_file.exists():
            return None
        return base64.b64decode(self.key_file.read_text().split()[1])

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for s in self._hanging:
            s.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            n = self.connections
            if n <= self.hang_first:
                self._hanging.append(conn)  # accepted, never answered
                continue
            if self.never or n <= self.hang_first + self.refuse_first:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # RST: what a host with no sshd yet answers
                continue
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        transport = paramiko.Transport(conn)
        transport.add_server_key(self.host_key)
        server = _Server(self)
        try:
            transport.start_server(server=server)
            while transport.is_active():
                chan = transport.accept(timeout=5)
                if chan is None:
                    break
                server.event.wait(5)
                server.event.clear()
                self._exec(chan, server.command.decode())
        except (paramiko.SSHException, EOFError, OSError):
            pass
        finally:
            transport.close()

    def _exec(self, chan: paramiko.Channel, command: str) -> None:
        self.commands.append(command)
        if command.startswith("cloud-init status"):
            chan.sendall(b"\nstatus: done\n")
            chan.send_exit_status(0)
            chan.close()
            return
        command = command.removeprefix("sudo ")
        stdin = b""
        if command.endswith("-s"):
            chunks = []
            while True:
                data = chan.recv(65536)
                if not data:
                    break
                chunks.append(data)
            stdin = b"".join(chunks)
        env = {"HOME": str(self.home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        proc = subprocess.run(["bash", "-c", command], input=stdin, capture_output=True,
                              env=env, cwd=self.home, timeout=30, check=False)
        chan.sendall(proc.stdout)
        chan.sendall_stderr(proc.stderr)
        chan.send_exit_status(proc.returncode)
        chan.close()


def _host_key_file(home: Path) -> str:
    path = home / "host_ed25519"
    if not path.exists():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption())
        path.write_bytes(pem)
    return str(path)
