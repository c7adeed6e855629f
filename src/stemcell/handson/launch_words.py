"""RunInstances as the student types it, and finding what they launched.

The command carries the same safe defaults as stemcell's own launches: the
allowlisted type, IMDSv2 required, an encrypted gp3 root volume. The student
need not tag anything: stemcell recognises the instance by what the step asks
for (image, key pair, user data) and tags it when it adopts it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from stemcell.cloud.run_instances import credit_specification, instance_type, root_mapping
from stemcell.engine.context import Context
from stemcell.handson.task_base import other_run, q

LIVE = ["pending", "running"]


def run_instances_command(ctx: Context, image_id: str, name: str, *, count: int = 1,
                          user_data_path: str = "") -> str:
    mapping = json.dumps(root_mapping(ctx, image_id), separators=(",", ":"))
    tags = json.dumps([{"ResourceType": "instance",
                        "Tags": [{"Key": "Name", "Value": name}]}], separators=(",", ":"))
    words = [
        "aws ec2 run-instances",
        f"--image-id {q(image_id)}",
        f"--instance-type {q(instance_type(ctx))}",
        f"--count {int(count)}",
        f"--key-name {q(ctx.need('key_name'))}",
        f"--security-group-ids {q(ctx.need('security_group_id'))}",
        "--metadata-options HttpTokens=required,HttpEndpoint=enabled",
        f"--block-device-mappings {q(mapping)}",
        f"--tag-specifications {q(tags)}",
    ]
    credits = credit_specification(instance_type(ctx))
    if credits:  # T-family: standard credits, never billed surplus (AWS's default is unlimited)
        words.append(f"--credit-specification CpuCredits={q(credits['CpuCredits'])}")
    if user_data_path:
        words.append(f"--user-data file://{q(user_data_path)}")
    return " ".join(words)


def candidates(ctx: Context, image_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Pending or running instances with the run's key pair: ONE DescribeInstances."""
    filters = [{"Name": "key-name", "Values": [ctx.need("key_name")]},
               {"Name": "instance-state-name", "Values": LIVE}]
    if image_ids:
        filters.append({"Name": "image-id", "Values": image_ids})
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"Filters": filters}
    while True:
        page = ctx.cloud.ec2.describe_instances(**kwargs)
        for reservation in page.get("Reservations", []):
            found += [i for i in reservation.get("Instances", [])
                      if not other_run(i.get("Tags"), ctx.run_id)]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return sorted(found, key=lambda i: str(i.get("LaunchTime", "")))


def launched_at(ctx: Context, inst: dict[str, Any], since: float) -> float:
    """When RunInstances ran: LaunchTime if it reads on our clock, else now (an upper bound).

    On AWS the clock is the wall clock and LaunchTime is exact to the second; the
    sandbox's modeled clock runs ahead of the wall, so there the first sighting
    (at most one poll interval late) is used.
    """
    now = ctx.clock.now()
    launch = inst.get("LaunchTime")
    if isinstance(launch, datetime):
        at = launch.timestamp()
        if since <= at <= now:
            return at
    return now


def imdsv2(inst: dict[str, Any]) -> bool:
    return str(inst.get("MetadataOptions", {}).get("HttpTokens", "")) == "required"
