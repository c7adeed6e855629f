"""Zones: launches take turns over the run's placement zones, and the ALB gets every zone a
target is in (AWS leaves a target elsewhere ``unused``)."""

from __future__ import annotations

import threading
from typing import Any

from stemcell.cloud.run_instances import _next_subnets, credit_specification, placement_subnets
from stemcell.steps.step_create_load_balancer import balancer_subnets

SUBNETS = [{"AvailabilityZone": f"us-east-1{z}", "SubnetId": f"subnet-{z}",
            "DefaultForAz": True, "State": "available"} for z in "abcdef"]


class _Cloud:
    region = "us-east-1"

    def __init__(self, instances: list[dict[str, Any]] | None = None) -> None:
        self.instances = instances or []

    def default_vpc(self) -> str:
        return "vpc-1"

    def subnets(self, vpc: str) -> list[dict[str, Any]]:
        return list(SUBNETS)

    def zones_offering(self, itype: str) -> set[str]:
        return {f"us-east-1{z}" for z in "abcdf"} - {"us-east-1a"}  # say a and e lack it

    def instances_of_run(self, run_id: str) -> list[dict[str, Any]]:
        return self.instances


class _Store:
    lock = threading.RLock()


class _Ctx:
    run_id = "r1"

    def __init__(self, cloud: _Cloud) -> None:
        self.cloud = cloud
        self.bag: dict[str, Any] = {}
        self.store = _Store()

    def get(self, key: str, default: Any = None) -> Any:
        return self.bag.get(key, default)

    def put(self, key: str, value: Any) -> None:
        self.bag[key] = value


def test_placement_zones_offer_the_type_and_launches_take_turns() -> None:
    ctx = _Ctx(_Cloud())
    assert placement_subnets(ctx, "t3.micro") == [
        {"zone": "us-east-1b", "subnet": "subnet-b"}, {"zone": "us-east-1c", "subnet": "subnet-c"}]
    assert _next_subnets(ctx, "t3.micro", 1) == [("subnet-b", 1)]  # the builder
    assert _next_subnets(ctx, "t3.micro", 1) == [("subnet-c", 1)]  # setup 2's web server
    assert _next_subnets(ctx, "t3.micro", 3) == [("subnet-b", 2), ("subnet-c", 1)]
    assert ctx.bag["placement_turn"] == 5


def test_the_balancer_gets_every_target_zone() -> None:
    targets = [{"InstanceId": "i-1", "Placement": {"AvailabilityZone": "us-east-1d"},
                "SubnetId": "subnet-d"},
               {"InstanceId": "i-2", "Placement": {"AvailabilityZone": "us-east-1f"},
                "SubnetId": "subnet-f"},
               {"InstanceId": "i-3", "Placement": {"AvailabilityZone": "us-east-1a"},
                "SubnetId": "subnet-a"}]
    ctx = _Ctx(_Cloud(targets))
    assert balancer_subnets(ctx, "vpc-1", ["i-1", "i-2"]) == ["subnet-d", "subnet-f"]
    # One target zone: a placement zone completes the pair an ALB needs.
    ctx.bag["placement"] = [{"zone": "us-east-1b", "subnet": "subnet-b"}]
    assert balancer_subnets(ctx, "vpc-1", ["i-1"]) == ["subnet-b", "subnet-d"]


def test_t_family_launches_standard_credits() -> None:
    assert credit_specification("t3.micro") == {"CpuCredits": "standard"}
    assert credit_specification("t4g.micro") == {"CpuCredits": "standard"}
    assert credit_specification("m7i.large") is None
