"""Grant the TAs access: their public keys into the builder's authorized_keys, by hand.

With no TA keys configured the step is skipped, as in guided mode. Verified by
the step's checks (private .ssh and authorized_keys) plus one file check per
TA key, over SSH on the builder.
"""

from __future__ import annotations

from typing import Any

from stemcell.content.models import CheckSpec, TaAccessParams
from stemcell.engine.context import Context
from stemcell.engine.errors import SkipStep
from stemcell.handson.provision_task import Task as ProvisionTask
from stemcell.steps.step_grant_ta_access import append_script, ta_keys


class Task(ProvisionTask):
    script_name = "ta-keys.sh"

    def keys(self, ctx: Context) -> list[str]:
        keys = ta_keys(ctx, self.spec.typed_params(TaAccessParams))
        if not keys:
            raise SkipStep("no TA keys configured (lab ta_keys, step params or --ta-key)")
        return keys

    def script(self, ctx: Context) -> str:
        return append_script(self.keys(ctx))

    def run_as(self) -> str:
        return "bash -s"  # as ubuntu: ~ is /home/ubuntu and the files stay ubuntu's own

    def goal(self, ctx: Context) -> str:
        return (f"Append the course's {len(self.keys(ctx))} TA public key(s) to "
                "/home/ubuntu/.ssh/authorized_keys on the builder, so they are baked into "
                "the image.")

    def extra(self, ctx: Context) -> list[Any]:
        return [CheckSpec(id=f"ta-key-{n}", kind="file",
                          path="/home/ubuntu/.ssh/authorized_keys", contains=key,
                          description=f"TA key {n} ({key.split()[-1][:40]}) may log in",
                          fail="this TA key is not in authorized_keys",
                          hint="Run the script again: it adds each key once.")
                for n, key in enumerate(self.keys(ctx), start=1)]
