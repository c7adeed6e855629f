"""Stop the builder, so the image is taken from a quiet disk; verified by its state."""

from __future__ import annotations

from stemcell.content.models import StepSpec
from stemcell.engine.context import Context
from stemcell.engine.events import ImageState
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.handson.instance_view import InstanceSeen, state_of
from stemcell.handson.task_base import TaskBase, q, waiting


class Task(TaskBase):
    def __init__(self, spec: StepSpec) -> None:
        super().__init__(spec)
        self.seen = InstanceSeen()

    def brief(self, ctx: Context) -> Brief:
        iid = ctx.need("builder_id")
        ctx.emit(ImageState(image_id="", state="pending", phase="stopping"))
        return Brief(
            goal=f"Stop the builder {iid} and wait until it is stopped.",
            commands=[f"aws ec2 stop-instances --instance-ids {q(iid)}"],
            console=f"EC2 console > Instances > {iid} > Instance state > Stop instance.",
        )

    def look(self, ctx: Context) -> Progress:
        iid = ctx.need("builder_id")
        found = {i["InstanceId"]: i for i in ctx.cloud.instances_of_run(ctx.run_id)}
        inst = found.get(iid)
        if inst is None:
            return waiting(f"builder {iid}", f"{iid} is stopped", "not found", "stopped")
        self.seen.note(ctx, inst, role="builder", setup="builder")
        state = state_of(inst)
        if state != "stopped":
            return waiting(f"builder {iid}", f"{iid} is stopped", f"it is {state}", "stopped")
        return Progress(done=True, found=f"builder {iid}",
                        lines=[CheckLine("stopped", f"{iid} is stopped", "passed")])
