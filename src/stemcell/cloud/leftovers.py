"""Find what stemcell left behind by tag alone (the state file may be gone).

Everything stemcell creates carries ``stemcell:run``; this module lists those
resources across types in the order they must be deleted (load balancers
before their target groups, instances before the security group ...).
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from stemcell.cloud.tags import NAME, OWNER, RUN, as_dict
from stemcell.engine.ports import CloudApi
from stemcell.engine.state import Resource

# Deletion order: things that hold others go first.
ORDER = ["listener", "load_balancer", "target_group", "instance", "image", "snapshot",
         "security_group", "key_pair", "bucket"]


def deletion_order(resources: list[Resource]) -> list[Resource]:
    """Holders before what they hold; newest first within a type (stable)."""
    newest = sorted(resources, key=lambda r: r.created, reverse=True)
    return sorted(newest, key=lambda r: ORDER.index(r.rtype) if r.rtype in ORDER else len(ORDER))


def _tagged(run_id: str | None) -> list[dict[str, Any]]:
    if run_id:
        return [{"Name": f"tag:{RUN}", "Values": [run_id]}]
    return [{"Name": "tag-key", "Values": [RUN]}]


def _res(rtype: str, rid: str, tags: dict[str, str], **extra: Any) -> Resource:
    """``step_id`` carries the run id; ``extra["owner"]`` the owner tag ("" if none)."""
    return Resource(rtype=rtype, rid=rid, name=tags.get(NAME, ""), step_id=tags.get(RUN, ""),
                    extra={**extra, "owner": tags.get(OWNER, "")})


def find(cloud: CloudApi, run_id: str | None = None) -> list[Resource]:
    """Live stemcell resources (of one run, or of every run), in deletion order.

    ``Resource.step_id`` carries the run id the resource is tagged with.
    """
    ec2 = cloud.ec2
    found: list[Resource] = []
    filters = _tagged(run_id)
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                if inst["State"]["Name"] not in ("terminated", "shutting-down"):
                    found.append(_res("instance", inst["InstanceId"], as_dict(inst.get("Tags")),
                                      state=inst["State"]["Name"]))
    for image in ec2.describe_images(Owners=["self"], Filters=filters)["Images"]:
        found.append(_res("image", image["ImageId"], as_dict(image.get("Tags"))))
    for snap in ec2.describe_snapshots(OwnerIds=["self"], Filters=filters)["Snapshots"]:
        found.append(_res("snapshot", snap["SnapshotId"], as_dict(snap.get("Tags"))))
    for group in ec2.describe_security_groups(Filters=filters)["SecurityGroups"]:
        found.append(_res("security_group", group["GroupId"], as_dict(group.get("Tags"))))
    for key in ec2.describe_key_pairs(Filters=filters)["KeyPairs"]:
        found.append(_res("key_pair", key["KeyPairId"], as_dict(key.get("Tags"))))
    found.extend(_buckets(cloud, run_id))
    found.extend(_elb(cloud, run_id))
    found.sort(key=lambda r: ORDER.index(r.rtype))
    return found


def _buckets(cloud: CloudApi, run_id: str | None) -> list[Resource]:
    s3 = cloud.s3
    out = []
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        if not name.startswith("stemcell-"):  # ours are all named so; skip the rest
            continue
        try:
            tags = as_dict(s3.get_bucket_tagging(Bucket=name).get("TagSet"))
        except ClientError:
            tags = {}
        if RUN not in tags:
            # Tagged right after CreateBucket: a run stopped in between leaves an
            # untagged bucket, still ours by its name (s3.bucket_name).
            owner = _run_of_bucket(name)
            if owner is None:
                continue
            tags = {RUN: owner}
        if run_id is None or tags[RUN] == run_id:
            out.append(_res("bucket", name, {**tags, NAME: name}))
    return out


_RUN_BUCKET = re.compile(r"^stemcell-(\d{8}-\d{6}-[0-9a-f]{6})$")


def _run_of_bucket(name: str) -> str | None:
    """The run id a bucket named by ``s3.bucket_name`` belongs to, else None."""
    match = _RUN_BUCKET.match(name)
    return match.group(1) if match else None


def _elb(cloud: CloudApi, run_id: str | None) -> list[Resource]:
    elb = cloud.elbv2
    out: list[Resource] = []
    for rtype, listing, key, arn_key in (
        ("load_balancer", "describe_load_balancers", "LoadBalancers", "LoadBalancerArn"),
        ("target_group", "describe_target_groups", "TargetGroups", "TargetGroupArn"),
    ):
        items = getattr(elb, listing)().get(key, [])
        arns = [i[arn_key] for i in items]
        for start in range(0, len(arns), 20):  # DescribeTags takes at most 20 ARNs
            described = elb.describe_tags(ResourceArns=arns[start:start + 20])
            for entry in described.get("TagDescriptions", []):
                tags = as_dict(entry.get("Tags"))
                if RUN in tags and (run_id is None or tags[RUN] == run_id):
                    out.append(_res(rtype, entry["ResourceArn"], tags))
    return out
