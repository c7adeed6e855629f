"""How an instance's address is dialled.

On AWS an instance is reached at its public IP on the real ports. In the sandbox
every guest listens on loopback ports of its own; the sandbox dialer asks the
sandbox where. Steps and checks only ever ask the dialer, so they never need to
know which backend they run on.
"""

from __future__ import annotations

# The types live with the run's Context, which holds a dialer (engine/ports.py);
# every dialer and everything that dials imports them from here.
from stemcell.engine.ports import Dialer, Target

__all__ = ["Dialer", "DirectDialer", "Target"]


class DirectDialer:
    """Real servers: the public address and the real ports."""

    def ssh_address(self, target: Target) -> tuple[str, int]:
        return (target.public_ip or target.private_ip, 22)

    def http_address(self, target: Target, port: int = 80) -> tuple[str, int]:
        return (target.public_ip or target.private_ip, port)
