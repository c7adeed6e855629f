"""Tags every resource is born with, so leftovers can be found without state.

``stemcell:run`` is the key that ``stemcell cleanup --all`` searches by; the rest
make the console readable and let the measure step tell roles and setups apart.
"""

from __future__ import annotations

from typing import Any

RUN = "stemcell:run"
LAB = "stemcell:lab"
ROLE = "stemcell:role"
SETUP = "stemcell:setup"
NAME = "Name"


def run_tags(
    run_id: str, lab: str, *, name: str, role: str = "", setup: str = ""
) -> list[dict[str, str]]:
    tags = {RUN: run_id, LAB: lab, NAME: name}
    if role:
        tags[ROLE] = role
    if setup:
        tags[SETUP] = setup
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def ctx_tags(ctx: Any, *, name: str, role: str = "", setup: str = "") -> list[dict[str, str]]:
    return run_tags(ctx.run_id, ctx.config.lab, name=name, role=role, setup=setup)


def tag_spec(tags: list[dict[str, str]], *resource_types: str) -> list[dict[str, Any]]:
    """EC2 ``TagSpecifications``: the same tags on each resource type."""
    return [{"ResourceType": rt, "Tags": list(tags)} for rt in resource_types]


def as_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def run_filter(run_id: str) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{RUN}", "Values": [run_id]}]
