"""Waiting for a server's first byte without mistaking the wait for host work.

A live server answers at once; a machine whose network is not up yet (an EC2
instance in its first seconds: the SYN is dropped) answers never, and the
client's timeout is what passes. In the sandbox those two cost different
things (engine/clock.py): the first is host work, which holds the modeled
clock, the second is a modeled wait, which must not. So the first ``GRACE``
wall seconds are waited as host work (no gap in which modeled time could run
at ``--speed`` while the server is still getting to its answer), and the rest
as a modeled wait of ``timeout`` modeled seconds.
"""

from __future__ import annotations

import select
import socket

from stemcell.engine.clock import Clock

GRACE = 0.005  # wall seconds: a live server on loopback has answered by then
SLICE = 0.05  # wall seconds between looks at the clock during the modeled wait


def wait_for_answer(sock: socket.socket, clock: Clock, timeout: float) -> bool:
    """True once ``sock`` is readable, False after ``timeout`` modeled seconds."""
    ready, _, _ = select.select([sock], [], [], min(GRACE, max(0.0, timeout)))
    if ready:
        return True
    until = clock.now() + timeout
    with clock.waiting(until):
        while (left := until - clock.now()) > 0:
            wall = min(SLICE, left / max(clock.speed, 1e-9))
            ready, _, _ = select.select([sock], [], [], max(0.0, wall))
            if ready:
                return True
    return bool(select.select([sock], [], [], 0)[0])
