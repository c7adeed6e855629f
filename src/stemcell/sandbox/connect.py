"""Use the background sandbox if one runs, else start one in this process.

``connect_or_start()`` is what the backend calls. The handle says where moto is
(``endpoint_url``), with what to sign (``credentials``: the sandbox's own,
whatever the environment holds), how to reach guests (``dialer``) and what
time it is (``clock``: the sandbox's own, or for a background sandbox a
``RemoteClock`` that reads it and tells it when this process works, so host
work here is not billed at ``--speed`` there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stemcell.engine.clock import Clock
from stemcell.sandbox.credentials import SandboxCredentials
from stemcell.sandbox.info import alive, pid_alive, read_info, remove_info
from stemcell.sandbox.loopback_dialer import SandboxDialer
from stemcell.sandbox.shared_clock import RemoteClock


class FaultsMismatch(ValueError):
    """``--faults`` asked of a background sandbox that runs with other faults."""


class SpeedMismatch(ValueError):
    """``--speed`` asked of a background sandbox that runs at another speed."""


@dataclass
class SandboxHandle:
    endpoint_url: str
    control_url: str
    credentials: SandboxCredentials
    clock: Clock
    dialer: SandboxDialer
    speed: float
    background: bool
    note: str = ""  # something the user should be told (a different speed, a stale file)
    simulated: bool = True
    _owned: Any = field(default=None, repr=False)  # the in-process Sandbox, if ours

    @property
    def region(self) -> str:
        return "us-east-1"

    def close(self) -> None:
        """Stop an in-process sandbox (guests terminated); leave a background one running."""
        if self._owned is not None:
            owned, self._owned = self._owned, None
            owned.close()


def connect_or_start(speed: float | None = None, faults: str = "") -> SandboxHandle:
    """``faults`` is a ``--faults`` spec; a background sandbox must have the same."""
    from stemcell.sandbox.faults import FaultSpec

    spec = FaultSpec.parse(faults)  # FaultSpecError (a ValueError) on a bad spec
    info = read_info()
    notes: list[str] = []
    if info is not None:
        if alive(info) and info.credentials is not None:
            running = FaultSpec.parse(info.faults).render()
            if faults and running != spec.render():
                raise FaultsMismatch(
                    f"a background sandbox (pid {info.pid}) runs with faults "
                    f"{running or 'none'!r}, not {spec.render()!r}; stop it first "
                    "(`stemcell sandbox stop`) or start it with these faults "
                    f"(`stemcell sandbox start --faults {spec.render()}`)")
            clock = RemoteClock(info.control_url, info.control_token)
            if speed is not None and float(speed) != clock.speed:
                # One sandbox has one clock: honouring another speed for this run alone
                # would put its marks and its guests' logs on different timelines.
                raise SpeedMismatch(
                    f"a background sandbox (pid {info.pid}) runs at --speed {clock.speed:g}, "
                    f"not {float(speed):g}; leave out --speed to use it, or stop it first "
                    f"(`stemcell sandbox stop`) and start it at this speed "
                    f"(`stemcell sandbox start --speed {float(speed):g}`)")
            return SandboxHandle(info.endpoint_url, info.control_url, info.credentials, clock,
                                 SandboxDialer(info.control_url, info.control_token),
                                 clock.speed,
                                 background=True, note="; ".join(notes))
        if pid_alive(info.pid):
            notes.append(f"the background sandbox (pid {info.pid}) does not answer; "
                         "started one in this process")
        else:
            remove_info(info.pid)
            notes.append(f"removed a stale sandbox info file (pid {info.pid} is gone)")

    from stemcell.sandbox.runtime import Sandbox

    sandbox = Sandbox(speed, faults=spec).start()
    return SandboxHandle(sandbox.endpoint_url, sandbox.control_url, sandbox.credentials,
                         sandbox.clock,
                         SandboxDialer(sandbox.control_url, sandbox.credentials.control_token),
                         sandbox.speed,
                         background=False, note="; ".join(notes), _owned=sandbox)
