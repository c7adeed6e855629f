"""RunInstances as every launch step does it: safe defaults, tags, ledger, marks.

IMDSv2 only, an encrypted gp3 root, an allowlisted type, ``standard`` CPU
credits for T-family types (T3/T4g default to ``unlimited``, which bills surplus
credits), tags on the instance and its volume at birth, each id in the ledger
before any wait, and the ``run_instances_sent`` / ``run_instances_returned``
marks around the call.

Zones: without a subnet EC2 puts an instance in *any* zone of the region (six
in us-east-1), and an Application Load Balancer only routes to targets in the
zones it was given (others stay ``unused``, ``Target.NotInUse``). So every launch
goes into a subnet of the run's *placement zones* (two zones of the default
VPC that offer the instance type, chosen once per run), taking turns, and the
load balancer is given those zones. One ``ClientToken`` per RunInstances makes
a retry after a lost answer (or a not-yet-visible key pair or group) idempotent.
"""

from __future__ import annotations

import uuid
from typing import Any

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import capacity_error, error_code, explain
from stemcell.cloud.consistency_retry import retry_not_found
from stemcell.cloud.poller import InstancePoller
from stemcell.cloud.pricing import alternatives, choose_instance_type
from stemcell.cloud.tags import ctx_tags, tag_spec
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed

RUNNING_TIMEOUT = 600.0
PLACEMENT_ZONES = 2  # an ALB needs two; the web servers of both setups spread over them
T_FAMILIES = ("t2", "t3", "t3a", "t4g")
# Right after ImportKeyPair / CreateSecurityGroup / CreateImage, RunInstances may not
# see them yet; nothing was launched then, and the ClientToken makes a retry safe.
LAUNCH_NOT_YET_VISIBLE = ("InvalidKeyPair.NotFound", "InvalidGroup.NotFound",
                          "InvalidAMIID.NotFound", "InvalidSubnetID.NotFound")


def credit_specification(itype: str) -> dict[str, str] | None:
    """T-family types launch ``standard``: no surplus credits billed behind the lab's back."""
    return {"CpuCredits": "standard"} if itype.split(".", 1)[0] in T_FAMILIES else None


def placement_subnets(ctx: Context, itype: str) -> list[dict[str, str]]:
    """The run's placement zones, as ``[{"zone": .., "subnet": ..}]``; chosen once, kept.

    Default subnets of the default VPC, in zones that offer ``itype`` (not every
    zone offers every type: us-east-1e has no T3), the first ``PLACEMENT_ZONES``
    in zone order. Empty when the account has no default subnets (EC2 then
    decides, and the load balancer step takes whatever zones the targets are in).
    """
    known = ctx.get("placement")
    if known is not None:
        return list(known)
    vpc = ctx.get("vpc_id") or ctx.cloud.default_vpc()
    by_zone: dict[str, str] = {}
    if vpc:
        for subnet in ctx.cloud.subnets(vpc):
            if subnet.get("DefaultForAz", True) and subnet.get("State", "available") == \
                    "available":
                by_zone.setdefault(str(subnet["AvailabilityZone"]), str(subnet["SubnetId"]))
    offered = ctx.cloud.zones_offering(itype)
    zones = sorted(z for z in by_zone if offered is None or z in offered)
    chosen = [{"zone": z, "subnet": by_zone[z]} for z in zones[:PLACEMENT_ZONES]]
    ctx.put("placement", chosen)
    return chosen


def _next_subnets(ctx: Context, itype: str, count: int) -> list[tuple[str | None, int]]:
    """(subnet, how many) for ``count`` instances, taking turns over the placement zones."""
    places = placement_subnets(ctx, itype)
    if not places:
        return [(None, count)]
    with ctx.store.lock:
        turn = int(ctx.get("placement_turn") or 0)
        ctx.put("placement_turn", turn + count)
    counts: dict[str, int] = {}
    for n in range(count):
        subnet = places[(turn + n) % len(places)]["subnet"]
        counts[subnet] = counts.get(subnet, 0) + 1
    return [(subnet, k) for subnet, k in counts.items()]


def instance_type(ctx: Context) -> str:
    profile = ctx.profile
    return choose_instance_type(ctx.config.instance_type, profile.instance_type,
                                profile.base_image.architecture)


def root_mapping(ctx: Context, image_id: str) -> list[dict[str, Any]]:
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


def safe_launch_kwargs(image: dict[str, Any], itype: str,
                       tags: list[dict[str, str]]) -> dict[str, Any]:
    """The launch parameters stemcell never launches without, for callers with no run
    context (``check --launch``): IMDSv2 only, an encrypted gp3 root sized from the
    image, and ``tags`` on the instance and its volume at creation."""
    device = image.get("RootDeviceName") or "/dev/sda1"
    size = 8
    for mapping in image.get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == device:
            size = max(size, int(mapping.get("Ebs", {}).get("VolumeSize") or 8))
    return {
        "ImageId": image["ImageId"],
        "InstanceType": itype,
        "MinCount": 1,
        "MaxCount": 1,
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled",
                            "HttpPutResponseHopLimit": 1},
        "BlockDeviceMappings": [{"DeviceName": device,
                                 "Ebs": {"VolumeSize": size, "VolumeType": "gp3",
                                         "Encrypted": True, "DeleteOnTermination": True}}],
        "TagSpecifications": tag_spec(tags, "instance", "volume"),
    }


def launch(ctx: Context, *, image_id: str, role: str, setup: str, count: int = 1,
           user_data: str | None = None) -> list[str]:
    """Launch ``count`` instances; return their ids (already in the ledger)."""
    itype = instance_type(ctx)
    name = f"stemcell-{role}" + (f"-setup{setup}" if setup in ("1", "2") else "")
    tags = ctx_tags(ctx, name=name, role=role, setup=setup)
    base: dict[str, Any] = {
        "ImageId": image_id,
        "InstanceType": itype,
        "KeyName": ctx.need("key_name"),
        "SecurityGroupIds": [ctx.need("security_group_id")],
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled",
                            "HttpPutResponseHopLimit": 1},
        "BlockDeviceMappings": root_mapping(ctx, image_id),
        "TagSpecifications": tag_spec(tags, "instance", "volume"),
    }
    credits = credit_specification(itype)
    if credits is not None:
        base["CreditSpecification"] = credits
    if user_data is not None:
        base["UserData"] = user_data
    ids: list[str] = []
    for subnet, how_many in _next_subnets(ctx, itype, count):
        kwargs = dict(base, MinCount=how_many, MaxCount=how_many,
                      ClientToken=uuid.uuid4().hex)
        if subnet is not None:
            kwargs["SubnetId"] = subnet
        ids.extend(_run(ctx, kwargs, itype, name, role, setup, image_id))
    return ids


def _run(ctx: Context, kwargs: dict[str, Any], itype: str, name: str, role: str, setup: str,
         image_id: str) -> list[str]:
    sent = ctx.clock.now()
    tried: list[str] = []
    while True:
        try:
            reply = retry_not_found(ctx, f"launching {name}",
                                    lambda: ctx.cloud.ec2.run_instances(**kwargs),
                                    codes=LAUNCH_NOT_YET_VISIBLE)
            break
        except ClientError as exc:
            if error_code(exc) != "InsufficientInstanceCapacity":
                raise explain(exc, f"launching {name}", region=ctx.cloud.region,
                              aws_profile=ctx.config.aws_profile, run_id=ctx.run_id) from None
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
            # Another request, not a retry of the same one: a reused token with other
            # parameters is IdempotentParameterMismatch.
            kwargs["ClientToken"] = uuid.uuid4().hex
            credits = credit_specification(others[0])
            if credits is None:
                kwargs.pop("CreditSpecification", None)
            else:
                kwargs["CreditSpecification"] = credits
    returned = ctx.clock.now()
    ids = [inst["InstanceId"] for inst in reply["Instances"]]
    for iid in ids:
        ctx.record_resource("instance", iid, name, role=role, setup=setup, image_id=image_id)
        ctx.track_instance(iid, role, setup, image_id)
        ctx.mark(iid, "run_instances_sent", at=sent)
        ctx.mark(iid, "run_instances_returned", at=returned)
    return ids


def wait_running(ctx: Context, ids: list[str], poller: InstancePoller | None = None
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
