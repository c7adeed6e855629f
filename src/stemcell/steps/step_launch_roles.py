"""Launch the role servers: from the baked image (setup 2) or the base image (setup 1).

Setup 2's boot scripts only drop in the role's code; setup 1's install the whole
stack at boot. Both fetch the code with a presigned URL rendered into the user
data right before launch (never stored, never sent as an event).
"""

from __future__ import annotations

from stemcell.cloud.poller import InstancePoller
from stemcell.cloud.quotas import check_vcpus
from stemcell.cloud.run_instances import address_of, instance_type, launch, wait_running
from stemcell.cloud.s3 import presigned_get
from stemcell.content.models import LaunchRolesParams
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.instance_records import set_addresses
from stemcell.engine.step import BaseStep
from stemcell.steps.step_measure_boots import stop_watching, watch


def user_data(ctx: Context, role: str, setup: int) -> str:
    profile = ctx.profile
    scripts = profile.boot_scripts if setup == 2 else profile.install_scripts
    if role not in scripts:
        raise StepFailed(f"profile {profile.id} has no setup #{setup} script for role {role}")
    url = presigned_get(ctx.cloud.s3, ctx.need("bucket"), ctx.need("bundle_keys")[role])
    return profile.render(scripts[role], {
        "bundle_url": url, "role": role, "run_id": ctx.run_id,
        "lab": ctx.config.lab, "profile": profile.id,
    })


class LaunchRolesStep(BaseStep):
    def run(self, ctx: Context) -> None:
        params = self.spec.typed_params(LaunchRolesParams)
        setup = int(params.setup)
        image = ctx.need("image_id") if setup == 2 else ctx.need("base_image_id")
        count = params.count * max(1, int(ctx.config.repeat or 1))
        unknown = [r for r in params.roles if r not in ctx.profile.roles]
        if unknown:
            raise StepFailed(f"roles not in profile {ctx.profile.id}: {', '.join(unknown)}")
        check_vcpus(ctx, instance_type(ctx), count * len(params.roles))
        launched: dict[str, str] = {}
        for role in params.roles:
            for iid in launch(ctx, image_id=image, role=role, setup=str(setup), count=count,
                              user_data=user_data(ctx, role, setup)):
                launched[iid] = role
        found = wait_running(ctx, list(launched), InstancePoller(ctx))
        with ctx.store.lock:
            # Running, with addresses: the run's role servers from now on.
            for iid in launched:
                set_addresses(ctx.state, iid, **address_of(found[iid]))
            ctx.store.save()
        ctx.log(f"setup #{setup}: {len(launched)} instance(s) running from {image}")
        # Watch the boot live from now on: waiting for the measure step would miss the
        # early marks (network up, SSH) of servers that boot while others launch.
        if ctx.dialer is not None:
            watch(ctx, list(launched))

    def cleanup(self, ctx: Context) -> None:
        mine = [r.rid for r in ctx.state.live_resources()
                if r.step_id == self.spec.id and r.rtype == "instance"]
        stop_watching(ctx, mine)
        # Terminate all of this step's instances at once and wait with one poll.
        if ctx.deleter is None:
            return
        if mine and hasattr(ctx.deleter, "delete_instances"):
            ctx.deleter.delete_instances(mine, ctx)
        ctx.delete_resources(step_id=self.spec.id)
