"""Opening SSH to one of the run's instances, the same way for every step.

Addresses come from ``ctx.dialer`` (public IP on AWS, loopback ports in the
sandbox); host keys are checked against the console output when it has them,
else pinned in the run's own known_hosts; marks go to the instance's timeline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stemcell.engine.events import SshOutput
from stemcell.remote.dialer import Target
from stemcell.remote.host_keys import parse_fingerprints
from stemcell.remote.ssh_client import SshClient, connect

SSH_DEADLINE = 900.0


def stream_to(ctx: Any, instance_id: str) -> Any:
    """A line callback that streams a command's output as the instance's SshOutput events."""
    def on_line(line: str, stream: str) -> None:
        ctx.emit(SshOutput(instance_id=instance_id, line=line, stream=stream))
    return on_line


def known_hosts(ctx: Any) -> Path:
    return Path(ctx.run_dir) / "ssh" / "known_hosts"


def ssh_to(ctx: Any, instance_id: str, public_ip: str = "", private_ip: str = "",
           deadline: float = SSH_DEADLINE, cancel: Any = None) -> SshClient:
    target = Target(instance_id=instance_id, public_ip=public_ip, private_ip=private_ip)
    address = ctx.dialer.ssh_address(target)

    def fingerprints() -> dict[str, str]:
        return parse_fingerprints(ctx.cloud.console_output(instance_id))

    return connect(
        address,
        key_path=Path(ctx.need("key_path")),
        known_hosts=known_hosts(ctx),
        clock=ctx.clock,
        cancel=ctx.cancel if cancel is None else cancel,
        deadline=deadline,
        on_mark=lambda mark: ctx.mark(instance_id, mark),
        fingerprints=fingerprints,
        label=instance_id,
        log=ctx.log,
    )
