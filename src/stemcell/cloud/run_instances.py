"""RunInstances as every launch step does it: safe defaults, tags, ledger, marks.

IMDSv2 only, an encrypted gp3 root, an allowlisted type, tags on the instance
and its volume at birth, each id in the ledger before any wait, and the
``run_instances_sent`` / ``run_instances_returned`` marks around the call.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import capacity_error, error_code, explain
from stemcell.cloud.poller import InstancePoller
from stemcell.cloud.pricing import alternatives, choose_instance_type
from stemcell.cloud.tags import ctx_tags, tag_spec
from stemcell.engine.errors import StepFailed

RUNNING_TIMEOUT = 600.0


def instance_type(ctx: Any) -> str:
    profile = ctx.profile
    return choose_instance_type(ctx.config.instance_type, profile.instance_type,
                                profile.base_image.architecture)


def root_mapping(ctx: Any, image_id: str) -> list[dict[str, Any]]:
    image = ctx.cloud.image(image_id)
    if image is None:
        raise StepFailed(f"image {image_id} not found in {ctx.cloud.region}")
    device = image.get("RootDeviceName") or "/dev/sda1"
    size = 8
    for mapping in image.get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == device:
            size = max(size, int(mapping.get("Ebs", {}).get("VolumeSize") or 8))
    return [{"DeviceName": device,
             "Ebs": {"VolumeSize": size, "VolumeType": "gp3", "Encrypted": True,
                     "DeleteOnTermination": True}}]


def launch(ctx: Any, *, image_id: str, role: str, setup: str, count: int = 1,
           user_data: str | None = None) -> list[str]:
    """Launch ``count`` instances; return their ids (already in the ledger)."""
    itype = instance_type(ctx)
    name = f"stemcell-{role}" + (f"-setup{setup}" if setup in ("1", "2") else "")
    tags = ctx_tags(ctx, name=name, role=role, setup=setup)
    kwargs: dict[str, Any] = {
        "ImageId": image_id,
        "InstanceType": itype,
        "MinCount": count,
        "MaxCount": count,
        "KeyName": ctx.need("key_name"),
        "SecurityGroupIds": [ctx.need("security_group_id")],
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled",
                            "HttpPutResponseHopLimit": 1},
        "BlockDeviceMappings": root_mapping(ctx, image_id),
        "TagSpecifications": tag_spec(tags, "instance", "volume"),
    }
    if user_data is not None:
        kwargs["UserData"] = user_data
    sent = ctx.clock.now()
    tried: list[str] = []
    while True:
        try:
            reply = ctx.cloud.ec2.run_instances(**kwargs)
            break
        except ClientError as exc:
            if error_code(exc) != "InsufficientInstanceCapacity":
                raise explain(exc, f"launching {name}") from None
            # No capacity for this type right now: fall back to another allowlisted
            # type of the same architecture, and say so (EC2 User Guide,
            # "Insufficient instance capacity": try a different instance type).
            tried.append(kwargs["InstanceType"])
            others = [t for t in alternatives(itype) if t not in tried]
            if not others:
                raise capacity_error(exc, itype, ctx.cloud.region, alternatives(itype)) from None
            ctx.log(f"AWS has no spare {kwargs['InstanceType']} capacity in "
                    f"{ctx.cloud.region}; launching {name} as {others[0]} instead", "warning")
            kwargs["InstanceType"] = others[0]
    returned = ctx.clock.now()
    ids = [inst["InstanceId"] for inst in reply["Instances"]]
    for iid in ids:
        ctx.record_resource("instance", iid, name, role=role, setup=setup, image_id=image_id)
        ctx.track_instance(iid, role, setup, image_id)
        ctx.mark(iid, "run_instances_sent", at=sent)
        ctx.mark(iid, "run_instances_returned", at=returned)
    return ids


def wait_running(ctx: Any, ids: list[str], poller: InstancePoller | None = None
                 ) -> dict[str, dict[str, Any]]:
    """Wait with one DescribeInstances per tick; mark ``running`` as observed."""
    poller = poller or InstancePoller(ctx)

    def on_state(iid: str, state: str, inst: dict[str, Any]) -> None:
        if state == "running":
            ctx.mark(iid, "running")

    return poller.wait(ids, "running", RUNNING_TIMEOUT, on_state=on_state)


def address_of(inst: dict[str, Any]) -> dict[str, str]:
    return {"public_ip": str(inst.get("PublicIpAddress") or ""),
            "private_ip": str(inst.get("PrivateIpAddress") or "")}
