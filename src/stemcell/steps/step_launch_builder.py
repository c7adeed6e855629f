"""Launch the builder: the one server that gets everything installed and is baked.

Before the first launch of the run: the cost estimate, the credentials' time left
(temporary keys that expire mid-run strand instances nobody can clean up), and
the vCPU quota for the lab's busiest moment (both setups' role servers at once),
so a new account's low quota stops the lab here, with nothing launched.
"""

from __future__ import annotations

from stemcell.cloud.pricing import count_instances, estimate
from stemcell.cloud.quotas import check_credentials_last, check_vcpus
from stemcell.cloud.run_instances import address_of, instance_type, launch, wait_running
from stemcell.engine.context import Context
from stemcell.engine.events import CostEstimate
from stemcell.engine.step import BaseStep


class LaunchBuilderStep(BaseStep):
    def run(self, ctx: Context) -> None:
        est = estimate(ctx.lab, ctx.profile, ctx.config)
        label = "simulated: nothing is billed" if ctx.simulated else "on AWS"
        ctx.emit(CostEstimate(usd=est.usd, detail=f"{label}\n{est.text()}"))
        check_credentials_last(ctx)
        roles, _ = count_instances(ctx.lab, int(ctx.config.repeat or 1))
        check_vcpus(ctx, instance_type(ctx), max(1, roles))
        image = ctx.need("base_image_id")
        (iid,) = launch(ctx, image_id=image, role="builder", setup="builder")
        ctx.put("builder_id", iid)
        found = wait_running(ctx, [iid])
        builder = {"id": iid, "image_id": image, **address_of(found[iid])}
        ctx.put("builder", builder)
        ctx.log(f"builder {iid} running at {builder['public_ip'] or builder['private_ip']}")
