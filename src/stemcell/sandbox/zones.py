"""Availability zones as AWS has them: instances spread, ALB targets outside its zones unused.

- RunInstances without a subnet or zone lands in *some* zone of the region that
  offers the instance type, not always the first ("If you don't specify a subnet,
  we choose a default subnet from your default VPC for you", RunInstances, Amazon
  EC2 API Reference, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html).
  moto always picks zone ``a``; the sandbox picks at random among the default
  subnets of zones that offer the type (moto's offering data: us-east-1e has no
  t3), so code that assumes a zone fails here as it does on AWS.
- An Application Load Balancer routes only to targets in the zones it was
  given; a registered target in any other zone reports ``unused`` with reason
  ``Target.NotInUse`` ("Target is in an Availability Zone that is not enabled
  for the load balancer", "Health checks for Application Load Balancer target
  groups", Elastic Load Balancing User Guide,
  https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html).
  moto never looks at zones.

Default subnets in every zone of the region come from moto itself (us-east-1:
a-f, eu-west-1: a-c); the sandbox only has to use them.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_installed = False

NOT_IN_USE = ("unused", "Target.NotInUse",
              "Target is in an Availability Zone that is not enabled for the load balancer")


def offered_zones(backend: Any, instance_type: str | None) -> set[str] | None:
    """Zones of the backend's region offering ``instance_type`` (None: no data)."""
    if not instance_type:
        return None
    try:
        offers = backend.describe_instance_type_offerings(
            location_type="availability-zone", filters={"instance-type": [instance_type]})
    except Exception:  # moto's data is best effort; no data means "any zone"
        return None
    zones = {str(o.get("Location")) for o in offers if o.get("Location")}
    return zones or None


def pick_default_subnet(backend: Any, kwargs: dict[str, Any], subnets: dict[str, Any]) -> Any:
    """The default subnet RunInstances without a subnet lands in: a random offering zone."""
    zone = kwargs.get("placement")
    if zone and zone in subnets:
        return subnets[zone]
    offered = offered_zones(backend, kwargs.get("instance_type"))
    candidates = sorted(z for z in subnets if offered is None or z in offered) or sorted(subnets)
    return subnets[candidates[secrets.randbelow(len(candidates))]]


def _instance_zone(account_id: str, region: str, instance_id: str) -> str | None:
    from moto.ec2.models import ec2_backends

    try:
        instance = ec2_backends[account_id][region].get_instance(instance_id)
    except Exception:
        return None
    zone = getattr(instance, "availability_zone", None)
    return str(zone) if zone else None


def _load_balancer_zones(target_group: Any) -> set[str] | None:
    """Zones of every load balancer the target group serves (None: it serves none)."""
    from moto.elbv2.models import elbv2_backends

    arns = list(getattr(target_group, "load_balancer_arns", []) or [])
    if not arns:
        return None
    backend = elbv2_backends[target_group.account_id][target_group.region_name]
    ec2 = backend.ec2_backend
    zones: set[str] = set()
    for arn in arns:
        balancer = backend.load_balancers.get(arn)
        if balancer is None:
            continue
        for subnet in balancer.subnets:
            zone = getattr(subnet, "availability_zone", None)
            if zone is None:
                try:
                    zone = ec2.get_subnet(str(subnet)).availability_zone
                except Exception:
                    continue
            zones.add(str(zone))
    return zones


def install(is_sandbox: Callable[[str], bool]) -> None:
    """Hook moto's target health once per process; other moto users see stock moto."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

        original: Callable[..., Any] = FakeTargetGroup.health_for

        @functools.wraps(original)
        def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
            status = original(self, target, ec2_backend)
            if not is_sandbox(self.account_id) or self.target_type != "instance":
                return status
            if str(target["Id"]) not in self.targets or status.status == "draining":
                return status
            zones = _load_balancer_zones(self)
            if zones is None:
                return status
            zone = _instance_zone(self.account_id, self.region_name, str(target["Id"]))
            if zone is not None and zone not in zones:
                return FakeHealthStatus(status.instance_id, status.port,
                                        status.health_check_port, *NOT_IN_USE)
            return status

        FakeTargetGroup.health_for = health_for  # type: ignore[method-assign]
        _installed = True
