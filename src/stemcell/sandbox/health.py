"""ELBv2 target health from the guests' real HTTP answers, on modeled time.

Each registered instance target is checked every ``HealthCheckIntervalSeconds``
(modeled) at the target group's ``HealthCheckPath`` via the guest's web server.
States follow ELB's: ``initial`` until a check passes (a newly registered
target needs one passing check), then ``healthy``; after
``UnhealthyThresholdCount`` consecutive failures ``unhealthy``, and back to
``healthy`` after ``HealthyThresholdCount`` consecutive passes. A target group
no listener forwards to is ``unused`` (Target.NotInUse), as on AWS.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from stemcell.sandbox.fleet import Fleet
from stemcell.sandbox.scheduler import Scheduler

log = logging.getLogger(__name__)


@dataclass
class TargetHealth:
    state: str = "initial"
    reason: str | None = "Elb.RegistrationInProgress"
    description: str | None = "Target registration is in progress"
    passes: int = 0
    failures: int = 0
    checks: int = 0
    active: bool = True


def matches(matcher: dict[str, Any] | None, status: int) -> bool:
    """ELB's HttpCode matcher: "200", "200,202", "200-299"."""
    spec = str((matcher or {}).get("HttpCode", "200"))
    for part in spec.split(","):
        part = part.strip()
        if "-" in part:
            low, high = part.split("-", 1)
            if int(low) <= status <= int(high):
                return True
        elif part and int(part) == status:
            return True
    return False


class HealthChecker:
    def __init__(self, fleet: Fleet, scheduler: Scheduler, executor: Executor) -> None:
        self.fleet = fleet
        self.scheduler = scheduler
        self.executor = executor
        self._targets: dict[tuple[str, str], TargetHealth] = {}
        self._lock = threading.Lock()

    def registered(self, target_group: Any, target_ids: list[str]) -> None:
        for target_id in target_ids:
            if self.fleet.get(target_id) is None:
                continue  # not one of our instances: moto answers as it does
            key = (target_group.arn, target_id)
            with self._lock:
                old = self._targets.get(key)
                if old is not None:
                    old.active = False
                self._targets[key] = TargetHealth()
            self._schedule(target_group, target_id, self._interval(target_group))

    def status(self, target_group: Any, target_id: str) -> TargetHealth | None:
        with self._lock:
            health = self._targets.get((target_group.arn, target_id))
        if health is None or target_id not in target_group.targets:
            return None
        return health

    def close(self) -> None:
        with self._lock:
            for health in self._targets.values():
                health.active = False

    @staticmethod
    def _interval(target_group: Any) -> float:
        return float(target_group.health_check_interval_seconds or 30)

    def _schedule(self, target_group: Any, target_id: str, delay: float) -> None:
        def due() -> None:
            # The check talks to the guest: never on the scheduler's thread.
            self.executor.submit(self._check, target_group, target_id)

        self.scheduler.after(delay, due)

    def _check(self, target_group: Any, target_id: str) -> None:
        with self._lock:
            health = self._targets.get((target_group.arn, target_id))
        if health is None or not health.active or target_id not in target_group.targets:
            return
        record = self.fleet.get(target_id)
        if record is None:
            return
        if not target_group.load_balancer_arns:
            self._set(health, "unused", "Target.NotInUse",
                      "Target group is not configured to receive traffic from the load balancer")
        elif record.instance.state != "running":
            self._set(health, "unused", "Target.InvalidState",
                      f"Target is in the {record.instance.state} state")
        else:
            self._apply(target_group, health, self._probe(record.guest.http_ok, target_group))
        self._schedule(target_group, target_id, self._interval(target_group))

    @staticmethod
    def _probe(http_ok: Callable[[str], tuple[int, str]],
               target_group: Any) -> tuple[bool, str, str]:
        path = target_group.health_check_path or "/"
        try:
            status, _body = http_ok(path)
        except Exception as exc:  # the guest's web server is not answering
            log.debug("health check of %s failed: %s", path, exc)
            return False, "Target.Timeout", "Request timed out"
        if status and matches(getattr(target_group, "matcher", None), status):
            return True, "", ""
        if not status:
            return False, "Target.FailedHealthChecks", "Health checks failed"
        return (False, "Target.ResponseCodeMismatch",
                f"Health checks failed with these codes: [{status}]")

    def _apply(self, target_group: Any, health: TargetHealth,
               result: tuple[bool, str, str]) -> None:
        ok, reason, description = result
        health.checks += 1
        if ok:
            health.passes += 1
            health.failures = 0
        else:
            health.failures += 1
            health.passes = 0
        healthy_after = int(target_group.healthy_threshold_count or 5)
        unhealthy_after = int(target_group.unhealthy_threshold_count or 2)
        if health.state in ("initial", "unused"):
            if ok:
                self._set(health, "healthy", None, None)
            else:
                self._set(health, "initial", "Elb.InitialHealthChecking",
                          "Initial health checks in progress")
        elif health.state == "healthy":
            if not ok and health.failures >= unhealthy_after:
                self._set(health, "unhealthy", reason, description)
        elif health.state == "unhealthy":
            if ok and health.passes >= healthy_after:
                self._set(health, "healthy", None, None)
            elif not ok:
                self._set(health, "unhealthy", reason, description)

    @staticmethod
    def _set(health: TargetHealth, state: str, reason: str | None,
             description: str | None) -> None:
        health.state, health.reason, health.description = state, reason, description
