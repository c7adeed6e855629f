"""Tags every resource is born with, so leftovers can be found without state.

``stemcell:run`` is the key that ``stemcell cleanup --all`` searches by;
``stemcell:owner`` (who created it: the caller's identity ARN from STS
GetCallerIdentity, the sandbox's own user in the sandbox) is what keeps
``cleanup --all`` to the caller's own resources in a shared account; the rest
make the console readable and let the measure step tell roles and setups apart.
"""

from __future__ import annotations

from typing import Any

from stemcell.engine.context import Context
from stemcell.engine.ports import CloudApi

RUN = "stemcell:run"
LAB = "stemcell:lab"
ROLE = "stemcell:role"
SETUP = "stemcell:setup"
OWNER = "stemcell:owner"
NAME = "Name"


def run_tags(
    run_id: str, lab: str, *, name: str, role: str = "", setup: str = "", owner: str = ""
) -> list[dict[str, str]]:
    tags = {RUN: run_id, LAB: lab, NAME: name}
    if owner:
        tags[OWNER] = owner
    if role:
        tags[ROLE] = role
    if setup:
        tags[SETUP] = setup
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def ctx_tags(ctx: Context, *, name: str, role: str = "", setup: str = "") -> list[dict[str, str]]:
    return run_tags(ctx.run_id, ctx.config.lab, name=name, role=role, setup=setup,
                    owner=owner_of(ctx))


def caller_arn(cloud: CloudApi) -> str:
    """Who these credentials are (STS GetCallerIdentity); "" if STS cannot say."""
    from botocore.exceptions import BotoCoreError, ClientError

    make = getattr(cloud, "client", None)
    if make is None:  # a stand-in cloud without STS (tests)
        return ""
    try:
        return str(make("sts").get_caller_identity().get("Arn", ""))
    except (ClientError, BotoCoreError):
        return ""


def owner_of(ctx: Context) -> str:
    """The run's owner tag value: asked once per run, kept in the run's bag."""
    owner = ctx.get("owner")
    if owner is None and ctx.connected:
        owner = caller_arn(ctx.cloud)
        ctx.put("owner", owner)
    return str(owner or "")


def tag_spec(tags: list[dict[str, str]], *resource_types: str) -> list[dict[str, Any]]:
    """EC2 ``TagSpecifications``: the same tags on each resource type."""
    return [{"ResourceType": rt, "Tags": list(tags)} for rt in resource_types]


def as_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def run_filter(run_id: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{RUN}", "Values": [run_id]}]
