"""How an instance's address is dialled.

On AWS an instance is reached at its public IP on the real ports. In the sandbox
every guest listens on loopback ports of its own; the sandbox dialer asks the
sandbox where. Steps and checks only ever ask the dialer, so they never need to
know which backend they run on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Target:
    """What we know of an instance when we want to reach it."""

    instance_id: str = ""
    public_ip: str = ""
    private_ip: str = ""


class Dialer(Protocol):
    def ssh_address(self, target: Target) -> tuple[str, int]:
        """(host, port) to open an SSH connection to."""
        ...

    def http_address(self, target: Target, port: int = 80) -> tuple[str, int]:
        """(host, port) to send an HTTP request to (the guest's ``port``)."""
        ...


class DirectDialer:
    """Real servers: the public address and the real ports."""

    def ssh_address(self, target: Target) -> tuple[str, int]:
        return (target.public_ip or target.private_ip, 22)

    def http_address(self, target: Target, port: int = 80) -> tuple[str, int]:
        return (target.public_ip or target.private_ip, port)
