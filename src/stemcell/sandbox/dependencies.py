"""What holds what: refusals and delays moto does not model, for sandbox accounts.

- DeleteSecurityGroup answers ``DependencyViolation`` while another group's
  rule references the group, while any instance that is not yet
  ``terminated`` uses it (a ``shutting-down`` one still has its network
  interface), and while a load balancer uses it - including for a while after
  DeleteLoadBalancer, until its network interfaces are released. Sources: EC2
  API reference, DeleteSecurityGroup ("If you attempt to delete a security
  group that is associated with an instance or network interface, is
  referenced by another security group in the same VPC ... the operation fails
  with DependencyViolation"); ELB User Guide, "Delete an Application Load
  Balancer" (its network interfaces are deleted after the load balancer).
- Deregistered targets drain: DescribeTargetHealth reports them ``draining``
  (``Target.DeregistrationInProgress``) for the target group's
  ``deregistration_delay.timeout_seconds`` (default 300 s). Source: ELB User
  Guide, "Target groups for your Application Load Balancers: Deregistration
  delay".

``InvalidSnapshot.InUse`` for a snapshot behind a registered image is moto's
own check (``EBSBackend.delete_snapshot``), kept as AWS documents it
(DeleteSnapshot: "You cannot delete a snapshot of the root device of an EBS
volume used by a registered AMI").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

# Modeled seconds a deleted load balancer's network interfaces keep its security
# groups in use (AWS releases them "shortly" after; observed ~1-2 minutes).
ELB_ENI_RELEASE_SECONDS = 90.0
DEFAULT_DEREGISTRATION_DELAY = 300.0


class Holds:
    """Per sandbox: security groups held by deleted load balancers, draining targets."""

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self._released: dict[str, float] = {}  # group id -> modeled time it is free
        self._draining: dict[tuple[str, str], float] = {}  # (tg arn, target) -> until
        self._lock = threading.Lock()

    def load_balancer_deleted(self, groups: list[str]) -> None:
        until = self.now() + ELB_ENI_RELEASE_SECONDS
        with self._lock:
            for group in groups:
                self._released[group] = max(until, self._released.get(group, 0.0))

    def held_by_deleted_elb(self, group: str) -> bool:
        with self._lock:
            return self.now() < self._released.get(group, 0.0)

    def deregistered(self, target_group: str, targets: list[str], delay: float) -> None:
        until = self.now() + delay
        with self._lock:
            for target in targets:
                self._draining[(target_group, target)] = until

    def draining(self, target_group: str, target: str) -> bool:
        with self._lock:
            return self.now() < self._draining.get((target_group, target), 0.0)


def group_users(ec2_backend: Any, group_id: str, elb_backend: Any | None) -> list[str]:
    """What stops ``group_id`` from being deleted right now (empty: nothing)."""
    users: list[str] = []
    for groups in ec2_backend.groups.values():
        for other in list(groups.values()):
            if other.id == group_id:
                continue
            for rule in list(other.ingress_rules) + list(other.egress_rules):
                source = rule.source_group or {}
                if source.get("GroupId") == group_id:
                    users.append(f"a rule of {other.id}")
                    break
    for reservation in list(ec2_backend.reservations.values()):
        for instance in reservation.instances:
            if instance._state.name == "terminated":
                continue
            ids = {getattr(g, "id", g) for g in instance.security_groups}
            if group_id in ids:
                users.append(f"instance {instance.id} ({instance._state.name})")
    if elb_backend is not None:
        for lb in list(elb_backend.load_balancers.values()):
            if group_id in (lb.security_groups or []):
                users.append(f"load balancer {lb.name}")
    return users


def deregistration_delay(target_group: Any) -> float:
    attributes = getattr(target_group, "attributes", {}) or {}
    try:
        return float(attributes.get("deregistration_delay.timeout_seconds",
                                    DEFAULT_DEREGISTRATION_DELAY))
    except (TypeError, ValueError):
        return DEFAULT_DEREGISTRATION_DELAY
