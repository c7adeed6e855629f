"""Stop the builder so the image is taken from a quiet, consistent disk."""

from __future__ import annotations

from stemcell.cloud.poller import Backoff, InstancePoller
from stemcell.engine.context import Context
from stemcell.engine.events import ImageState
from stemcell.engine.step import BaseStep

STOP_TIMEOUT = 600.0


def stop_and_wait(ctx: Context, iid: str) -> None:
    ctx.cloud.ec2.stop_instances(InstanceIds=[iid])
    InstancePoller(ctx).wait([iid], "stopped", STOP_TIMEOUT,
                             backoff=Backoff(first=2.0, longest=10.0))


class StopBuilderStep(BaseStep):
    def run(self, ctx: Context) -> None:
        iid = ctx.need("builder_id")
        # The bake's first phase, for the views' progress (no image id yet).
        ctx.emit(ImageState(image_id="", state="pending", phase="stopping"))
        stop_and_wait(ctx, iid)
        ctx.log(f"builder {iid} stopped")

    def cleanup(self, ctx: Context) -> None:
        return None  # the builder itself is launch_builder's to terminate
