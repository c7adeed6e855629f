"""The student's "check this step" action: the lab's checks on a run's own servers.

A run's context already knows everything a TA has to be told: the servers
(``engine.instance_records.role_servers``), the key (``key_path``), the baked
image (``image_id``), how to dial (``ctx.dialer``) and the cloud (``ctx.cloud``).
These helpers turn that into the same ``HostSpec``s and ``CheckOptions`` a TA's
roster would give.
"""

from __future__ import annotations

from pathlib import Path

from stemcell.checks.check_runner import CheckOptions
from stemcell.checks.cloudfacts import CloudFacts
from stemcell.checks.targets import HostSpec
from stemcell.engine.context import Context
from stemcell.engine.instance_records import role_servers
from stemcell.engine.state import RunState


def run_hosts(state: RunState, setup: str | None = "2") -> list[HostSpec]:
    """The run's role servers (of ``setup``, or all when None) as hosts to check.

    Setup #2 servers carry the baked image id, so the image and instance checks
    run too; setup #1 servers come from Canonical's image and do not.
    """
    key = state.bag.get("key_path")
    image_id = state.bag.get("image_id")
    hosts = []
    for iid, info in sorted(role_servers(state).items()):
        if setup is not None and str(info.get("setup")) != setup:
            continue
        role = str(info.get("role") or "") or None
        baked = str(info.get("setup")) == "2"
        hosts.append(HostSpec(
            host=iid,
            name=f"{role or 'server'} (setup #{info.get('setup')}, {iid})",
            key=Path(key) if key else None,
            role=role,
            ami=str(image_id) if baked and image_id else None,
        ))
    return hosts


def run_options(ctx: Context, *, deadline: float = 60.0) -> CheckOptions:
    """Dial, read the cloud and log in the way the run itself does."""
    key = ctx.get("key_path")
    return CheckOptions(
        dialer=ctx.dialer,
        cloud=CloudFacts(ctx.cloud.ec2) if ctx.connected else None,
        course_account=ctx.config.course_account or ctx.lab.course_account,
        deadline=deadline,
        key=Path(key) if key else None,
        cancel=ctx.cancel,
    )
