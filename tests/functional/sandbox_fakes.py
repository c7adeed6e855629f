"""A stand-in guest for control-plane tests that need no SSH or cloud-init.

It holds two real loopback listeners (so the dialer maps to real ports) and
records what the control plane asked of it. The real guest is exercised by the
sandbox end-to-end tests.
"""

from __future__ import annotations

import base64
import socket
from typing import Any


class FakeDisk:
    def __init__(self, release: str = "24.04", arch: str = "x86_64",
                 files: dict[str, str] | None = None) -> None:
        self.release, self.arch = release, arch
        self.files = dict(files or {})

    def copy(self) -> FakeDisk:
        return FakeDisk(self.release, self.arch, self.files)

    def used_bytes(self) -> int:
        return 1_000_000 + sum(len(v) for v in self.files.values())


class FakeModel:
    """Long modeled delays, so each state is observable at test speeds."""

    def __init__(self, pending_to_running: float = 60.0, stop_duration: float = 60.0,
                 image_base: float = 60.0) -> None:
        self.run_instances_api = 1.5
        self.pending_to_running = pending_to_running
        self.stop_duration = stop_duration
        self.image_base = image_base

    def snapshot_seconds(self, extra_bytes: int) -> float:
        return self.image_base + extra_bytes / 40_000_000


class FakeGuest:
    instances: dict[str, FakeGuest] = {}

    def __init__(self, instance_id: str, disk: FakeDisk, clock: Any, model: Any, *,
                 user_data: str | None, hostname: str, private_ip: str, public_ip: str,
                 launch_key: str | None, image_id: str = "") -> None:
        self.instance_id, self.disk, self.clock = instance_id, disk, clock
        self.image_id = image_id
        # The API carries user data base64-encoded; cloud-init decodes it.
        self.user_data = base64.b64decode(user_data).decode() if user_data else None
        self.hostname = hostname
        self.private_ip, self.public_ip, self.launch_key = private_ip, public_ip, launch_key
        self.calls: list[str] = []
        self._phase = "off"
        self.serving = True
        self._socks = []
        for _ in range(2):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            self._socks.append(s)
        self.ssh_port = self._socks[0].getsockname()[1]
        self.http_port = self._socks[1].getsockname()[1]
        FakeGuest.instances[instance_id] = self

    @property
    def phase(self) -> str:
        return self._phase

    def boot(self) -> None:
        self.calls.append("boot")
        self._phase = "ready"
        self.disk.files["/var/log/cloud-init.log"] = "booted"

    def shutdown(self) -> None:
        self.calls.append("shutdown")
        self._phase = "stopped"

    def destroy(self) -> None:
        self.calls.append("destroy")
        self._phase = "destroyed"
        for s in self._socks:
            s.close()

    def snapshot(self) -> FakeDisk:
        self.calls.append("snapshot")
        return self.disk.copy()

    def console_output(self) -> str:
        if self._phase != "ready":
            return ""
        return ("-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
                f"256 SHA256:fake root@{self.hostname} (ED25519)\n"
                "-----END SSH HOST KEY FINGERPRINTS-----\n")

    def http_ok(self, path: str) -> tuple[int, str]:
        if self._phase != "ready":
            raise ConnectionRefusedError("apache2 not running")
        return (200, "ok") if self.serving else (503, "down")


def fake_parts() -> dict[str, Any]:
    return {"guest_factory": FakeGuest,
            "disk_factory": lambda release, arch: FakeDisk(release, arch),
            "model": FakeModel()}
