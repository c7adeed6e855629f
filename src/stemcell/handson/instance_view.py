"""Adopting the student's instances and telling the views about their states."""

from __future__ import annotations

from typing import Any

from stemcell.cloud.ec2 import public_address
from stemcell.engine.context import Context
from stemcell.engine.events import InstanceState
from stemcell.handson.launch_words import launched_at
from stemcell.handson.task_base import adopt


def state_of(inst: dict[str, Any]) -> str:
    return str(inst.get("State", {}).get("Name", "pending"))


class InstanceSeen:
    """Per task: which instances it adopted, the last state each was seen in."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.since = 0.0

    def start(self, ctx: Context) -> None:
        self.since = ctx.clock.now() - 1.0

    def adopt(self, ctx: Context, inst: dict[str, Any], *, role: str, setup: str,
              name: str) -> None:
        iid = inst["InstanceId"]
        image = str(inst.get("ImageId", ""))
        if ctx.state.find("instance", iid) is None:
            at = launched_at(ctx, inst, self.since)
            adopt(ctx, "instance", iid, name, role=role, setup=setup, image_id=image)
            ctx.track_instance(iid, role, setup, image)
            ctx.mark(iid, "run_instances_sent", at=at)
            ctx.mark(iid, "run_instances_returned", at=at)
        self.note(ctx, inst, role=role, setup=setup)

    def note(self, ctx: Context, inst: dict[str, Any], *, role: str, setup: str) -> None:
        iid, state = inst["InstanceId"], state_of(inst)
        if self.states.get(iid) == state:
            return
        self.states[iid] = state
        if state == "running":
            ctx.mark(iid, "running")
        ctx.emit(InstanceState(instance_id=iid, state=state, role=role, setup=setup,
                               image_id=str(inst.get("ImageId", "")),
                               address=public_address(inst)))


def mine_elsewhere(ctx: Context, iid: str, step_id: str) -> bool:
    """Already adopted or launched by another step (the builder is no role server)."""
    res = ctx.state.find("instance", iid)
    return res is not None and res.step_id != step_id
