"""A vCPU quota like every AWS account's: Service Quotas answers it, RunInstances enforces it.

"Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" (quota code
``L-1216C47A``) caps the vCPUs of an account's running and pending instances of
those families in a Region; a launch past it fails with ``VcpuLimitExceeded``.
New accounts get a low value ("Amazon EC2 service quotas" and "On-Demand
Instance quotas", Amazon EC2 User Guide,
https://docs.aws.amazon.com/ec2/latest/instancetypes/ec2-instance-quotas.html).
moto has neither: its Service Quotas knows only VPC quotas, and RunInstances
launches without limit. The sandbox's limit is ``VcpuQuota.limit`` (default
``DEFAULT_VCPUS``, or ``STEMCELL_SANDBOX_VCPU_QUOTA``), changeable while it runs.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stemcell.sandbox.front_door import ApiRequest, Refusal

QUOTA_CODE = "L-1216C47A"
QUOTA_NAME = "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances"
STANDARD_FAMILIES = ("a", "c", "d", "h", "i", "m", "r", "t", "z")
# A modest account's: lab 1 needs 12 (six two-vCPU role servers at once, the builder
# gone by then), --repeat 5 needs 60; a TA's class of 30 servers at once meets it.
# Tests and students lower it (``Sandbox.vcpu_quota.limit``, or the environment) to
# see what a brand-new account's few vCPUs do.
DEFAULT_VCPUS = 64
_LIVE = ("pending", "running", "stopping")

_lock = threading.Lock()
_installed = False
_quotas: dict[str, VcpuQuota] = {}


@dataclass
class VcpuQuota:
    limit: int = DEFAULT_VCPUS

    @classmethod
    def from_env(cls) -> VcpuQuota:
        raw = os.environ.get("STEMCELL_SANDBOX_VCPU_QUOTA", "")
        return cls(int(raw)) if raw.isdigit() else cls()


def vcpus(instance_type: str) -> int:
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    info = INSTANCE_TYPES.get(instance_type, {}).get("VCpuInfo", {})
    return int(info.get("DefaultVCpus", 1))


def is_standard(instance_type: str) -> bool:
    return instance_type[:1] in STANDARD_FAMILIES


def vcpus_in_use(account_id: str, region: str) -> int:
    from moto.ec2.models import ec2_backends

    backend = ec2_backends[account_id][region]
    return sum(vcpus(i.instance_type) for i in backend.all_instances()
               if i.state in _LIVE and is_standard(i.instance_type))


def vcpu_filter(account_id: str, quota: VcpuQuota) -> Callable[[ApiRequest], Refusal | None]:
    def check(request: ApiRequest) -> Refusal | None:
        if request.service != "ec2" or request.operation != "RunInstances":
            return None
        itype = request.param("InstanceType", "m1.small")
        if not is_standard(itype):
            return None
        try:
            count = int(request.param("MinCount", "1"))
        except ValueError:
            return None
        wanted = vcpus(itype) * count
        used = vcpus_in_use(account_id, request.region or "us-east-1")
        if used + wanted <= quota.limit:
            return None
        return Refusal(400, "VcpuLimitExceeded",
                       f"You have requested more vCPU capacity than your current vCPU limit of "
                       f"{quota.limit} allows for the instance bucket that the specified "
                       "instance type belongs to. Please visit "
                       "http://aws.amazon.com/contact-us/ec2-request to request an adjustment "
                       "to this limit.")
    return check


def register(account_id: str, quota: VcpuQuota) -> None:
    with _lock:
        _quotas[account_id] = quota


def unregister(account_id: str) -> None:
    with _lock:
        _quotas.pop(account_id, None)


def install() -> None:
    """Service Quotas' GetServiceQuota answers the EC2 vCPU quota for sandbox accounts."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.servicequotas.models import ServiceQuotasBackend

        original: Callable[..., Any] = ServiceQuotasBackend.get_service_quota

        @functools.wraps(original)
        def get_service_quota(self: Any, service_code: str, quota_code: str) -> Any:
            quota = _quotas.get(self.account_id)
            if quota is None or (service_code, quota_code) != ("ec2", QUOTA_CODE):
                return original(self, service_code, quota_code)
            return {
                "ServiceCode": "ec2", "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
                "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:"
                            f"ec2/{QUOTA_CODE}",
                "QuotaCode": QUOTA_CODE, "QuotaName": QUOTA_NAME, "Value": float(quota.limit),
                "Unit": "None", "Adjustable": True, "GlobalQuota": False,
            }

        ServiceQuotasBackend.get_service_quota = get_service_quota  # type: ignore
        _installed = True
