"""Provision the builder over SSH: the profile's bake script, streamed line by line."""

from __future__ import annotations

from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.step import BaseStep
from stemcell.remote.reach import ssh_to, stream_to

BAKE_TIMEOUT = 3600.0


class ProvisionStep(BaseStep):
    def run(self, ctx: Context) -> None:
        builder = ctx.need("builder")
        iid = builder["id"]
        with ssh_to(ctx, iid, builder["public_ip"], builder["private_ip"]) as ssh:
            # The bake must not race cloud-init's own first-boot apt work.
            status, _ = ssh.exec("cloud-init status --wait", stream_to(ctx, iid),
                                 timeout=BAKE_TIMEOUT)
            if status == 0:
                ctx.mark(iid, "cloud_init_done")
            status, last = ssh.exec("sudo bash -s", stream_to(ctx, iid),
                                    stdin=ctx.profile.bake_script, timeout=BAKE_TIMEOUT)
        if status != 0:
            tail = "\n".join(last[-10:])
            raise StepFailed(f"the bake script failed on {iid} (exit status {status}); "
                             f"last lines:\n{tail}",
                             hint="Fix the profile's bake_script and run the lab again.")
        ctx.log(f"bake script finished on {iid}")

    def cleanup(self, ctx: Context) -> None:
        return None  # changes live on the builder, which launch_builder cleans up
