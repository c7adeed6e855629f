"""Batched waiting: one DescribeInstances per tick for all of a run's instances.

Polling per instance costs N calls a tick and gets throttled at scale; filtering
by the run tag costs one, whatever N. Ticks back off (modeled seconds), every
state change becomes an ``InstanceState`` event, and a callback lets steps set
timing marks at the tick that observed a state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stemcell.cloud.ec2 import public_address
from stemcell.cloud.tags import ROLE, SETUP, as_dict
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.events import InstanceState

OnState = Callable[[str, str, dict[str, Any]], None]

# States from which the wanted state can no longer be reached.
_DEAD_ENDS = {
    "running": {"shutting-down", "terminated", "stopping", "stopped"},
    "stopped": {"shutting-down", "terminated"},
    "terminated": set(),
}


@dataclass
class Backoff:
    first: float = 1.0
    factor: float = 1.5
    longest: float = 5.0


@dataclass
class InstancePoller:
    ctx: Context
    known: dict[str, str] = field(default_factory=dict)
    ticks: int = 0

    def tick(self, ids: set[str], on_state: OnState | None = None) -> dict[str, dict[str, Any]]:
        """One DescribeInstances for the run; emit changes; return the wanted ones."""
        ctx = self.ctx
        self.ticks += 1
        seen = {i["InstanceId"]: i for i in ctx.cloud.instances_of_run(ctx.run_id)}
        for iid, inst in seen.items():
            state = inst.get("State", {}).get("Name", "pending")
            if self.known.get(iid) == state:
                continue
            self.known[iid] = state
            tags = as_dict(inst.get("Tags"))
            launched = inst.get("LaunchTime")
            ctx.emit(
                InstanceState(
                    instance_id=iid,
                    state=state,
                    role=tags.get(ROLE, ""),
                    setup=tags.get(SETUP, ""),
                    image_id=str(inst.get("ImageId", "")),
                    address=public_address(inst),
                    launched_at=launched.timestamp() if isinstance(launched, datetime) else 0.0,
                )
            )
            if on_state is not None and iid in ids:
                on_state(iid, state, inst)
        return {iid: seen[iid] for iid in ids if iid in seen}

    def wait(
        self,
        ids: Iterable[str],
        target: str,
        timeout: float,
        on_state: OnState | None = None,
        backoff: Backoff | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Poll until every id is in ``target``; StepFailed if one cannot get there."""
        ctx = self.ctx
        wanted = set(ids)
        plan = backoff or Backoff()
        deadline = ctx.clock.now() + timeout
        delay = plan.first
        while True:
            ctx.check_cancel()
            found = self.tick(wanted, on_state)
            states = {iid: found[iid]["State"]["Name"] if iid in found else "" for iid in wanted}
            for iid, state in states.items():
                if state in _DEAD_ENDS.get(target, set()):
                    reason = found[iid].get("StateReason", {}).get("Message", "")
                    raise StepFailed(
                        f"instance {iid} went to {state} while waiting for {target}"
                        + (f" ({reason})" if reason else ""),
                        hint="Look at its console output (EC2 console > Instance > "
                        "Monitor and troubleshoot) for the cause.",
                    )
            # A terminated instance may drop out of DescribeInstances altogether.
            if all(s == target or (target == "terminated" and not s) for s in states.values()):
                return found
            if ctx.clock.now() >= deadline:
                late = sorted(i for i, s in states.items() if s != target)
                raise StepFailed(
                    f"timed out after {timeout:.0f} s waiting for {', '.join(late)} "
                    f"to be {target}"
                )
            ctx.sleep(min(delay, max(0.05, deadline - ctx.clock.now())))
            delay = min(plan.longest, delay * plan.factor)
