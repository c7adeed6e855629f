"""Before launching: is there room under the account's vCPU quota, and time on the credentials?

EC2 caps the vCPUs of running On-Demand instances per Region by family bucket;
T types count under "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z)
instances", quota code ``L-1216C47A``, read through Service Quotas
("On-Demand Instance quotas", Amazon EC2 User Guide,
https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html;
GetServiceQuota, Service Quotas API Reference). New accounts start low, so the
lab's six role servers may not fit: better to say so before launching anything
than to fail halfway with ``VcpuLimitExceeded`` and instances to clean up.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from stemcell.cloud.aws_errors import error_code
from stemcell.cloud.clients import credentials_expire_in
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.ports import CloudApi

QUOTA_CODE = "L-1216C47A"
STANDARD_FAMILIES = ("a", "c", "d", "h", "i", "m", "r", "t", "z")
# vCPUs of the allowlisted types (DescribeInstanceTypes VCpuInfo.DefaultVCpus).
VCPUS = {"t2.micro": 1, "t3.micro": 2, "t4g.micro": 2}
# Modeled seconds a lab run needs on AWS, bake to cleanup, with room for slow boots.
LAB_SECONDS = 3600.0
# Less than this left on the credentials: refuse (cleanup itself needs them).
REFUSE_BELOW = 1200.0


def vcpus_of(itype: str) -> int:
    return VCPUS.get(itype, 2)


def vcpu_quota(cloud: CloudApi) -> float | None:
    """The quota's value, or None when Service Quotas will not tell (no permission, ...)."""
    try:
        reply = cloud.client("service-quotas").get_service_quota(
            ServiceCode="ec2", QuotaCode=QUOTA_CODE)
    except (ClientError, BotoCoreError):
        return None
    value = reply.get("Quota", {}).get("Value")
    return float(value) if value is not None else None


def vcpus_running(cloud: CloudApi) -> int:
    """vCPUs of the account's pending and running Standard-family instances in the region."""
    used = 0
    pages = cloud.ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}])
    for page in pages:
        for reservation in page.get("Reservations", []):
            for inst in reservation.get("Instances", []):
                itype = str(inst.get("InstanceType", ""))
                if itype[:1] in STANDARD_FAMILIES:
                    cpu = inst.get("CpuOptions", {})
                    count = int(cpu.get("CoreCount", 0)) * int(cpu.get("ThreadsPerCore", 0))
                    used += count or vcpus_of(itype)
    return used


def check_vcpus(ctx: Context, itype: str, needed_instances: int) -> None:
    """StepFailed (before anything is launched) if ``needed_instances`` more will not fit."""
    if itype[:1] not in STANDARD_FAMILIES or needed_instances <= 0:
        return
    quota = vcpu_quota(ctx.cloud)
    if quota is None:
        ctx.log("could not read the vCPU quota (Service Quotas L-1216C47A); launching "
                "anyway", "warning")
        return
    needed = needed_instances * vcpus_of(itype)
    try:
        used = vcpus_running(ctx.cloud)
    except ClientError as exc:
        ctx.log(f"could not count running instances ({error_code(exc)}); launching anyway",
                "warning")
        return
    if used + needed > quota:
        raise StepFailed(
            f"not enough vCPU quota in {ctx.cloud.region}: this needs {needed} vCPUs "
            f"({needed_instances} x {itype}), {used} are in use and the account's quota for "
            f"On-Demand Standard instances is {quota:g}",
            hint="Terminate instances you no longer need, or request an increase: Service "
            "Quotas > Amazon EC2 > 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) "
            f"instances' ({QUOTA_CODE}). Nothing was launched.")
    ctx.log(f"vCPU quota: {used} + {needed} of {quota:g} in {ctx.cloud.region}")


def check_credentials_last(ctx: Context, needed: float = LAB_SECONDS) -> None:
    """Refuse when the credentials expire before cleanup could run; warn when tight."""
    try:
        left = credentials_expire_in(ctx.cloud.session)
    except BotoCoreError:
        return  # a broken chain fails loudly on the next call, with its own words
    if left is None:
        return
    from stemcell.cloud.aws_errors import login_again

    minutes = max(0, int(left // 60))
    if left < REFUSE_BELOW:
        raise StepFailed(
            f"the AWS credentials expire in {minutes} min: too soon to launch anything "
            "(a lab run takes about an hour, and cleanup needs them too)",
            hint=login_again(ctx.config.aws_profile) + " Then resume the run: "
            f"`stemcell run --resume {ctx.run_id}`.")
    if left < needed:
        ctx.log(f"the AWS credentials expire in {minutes} min, before this lab usually "
                "ends: log in again before then, or cleanup will fail ("
                + login_again(ctx.config.aws_profile, ctx.run_id, ctx.cloud.region) + ")",
                "warning")
