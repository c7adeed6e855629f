"""Launch the builder: the one server that gets everything installed and is baked."""

from __future__ import annotations

from typing import Any

from stemcell.cloud.pricing import estimate
from stemcell.cloud.run_instances import address_of, launch, wait_running
from stemcell.engine.events import CostEstimate
from stemcell.engine.step import BaseStep


class LaunchBuilderStep(BaseStep):
    def run(self, ctx: Any) -> None:
        est = estimate(ctx.lab, ctx.profile, ctx.config)
        label = "simulated: nothing is billed" if ctx.simulated else "on AWS"
        ctx.emit(CostEstimate(usd=est.usd, detail=f"{label}\n{est.text()}"))
        image = ctx.need("base_image_id")
        (iid,) = launch(ctx, image_id=image, role="builder", setup="builder")
        ctx.put("builder_id", iid)
        found = wait_running(ctx, [iid])
        builder = {"id": iid, "image_id": image, **address_of(found[iid])}
        ctx.put("builder", builder)
        ctx.log(f"builder {iid} running at {builder['public_ip'] or builder['private_ip']}")
