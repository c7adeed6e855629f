"""Lab 1 on the sandbox in two regions, as AWS places things: zones, presigned hosts, ALB.

The sandbox spreads instances launched without a subnet over every zone of the
region (us-east-1 has six), reports an ALB target in a zone the ALB lacks as
``unused``, honours presigned URLs only when signed for the bucket's region,
and reports each instance's CPU credit mode as launched. The whole lab must
still succeed, with the web servers in more than one zone, every ALB target
healthy, every T3 instance in ``standard`` credit mode, and nothing left after
cleanup (counted from the sandbox's own API, not from the run's ledger).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.e2e
SPEED = "20"


def stemcell(*args: str, home: Path, timeout: float = 300,
             **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STEMCELL_HOME=str(home), **extra_env)
    return subprocess.run([sys.executable, "-m", "stemcell", *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture
def daemon(_isolated: Path) -> Iterator[dict[str, Any]]:
    started = stemcell("sandbox", "start", "--speed", SPEED, "--json", home=_isolated)
    assert started.returncode == 0, started.stderr
    yield json.loads(started.stdout)
    stemcell("sandbox", "stop", home=_isolated)


def sandbox_keys() -> dict[str, str]:
    """The background sandbox's own keys (it refuses any other), from its info file."""
    from stemcell.sandbox.info import read_info

    info = read_info()
    assert info is not None and info.credentials is not None
    return {"aws_access_key_id": info.credentials.access_key_id,
            "aws_secret_access_key": info.credentials.secret_access_key}


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_lab_in_region_spreads_zones_and_every_target_is_healthy(
        daemon: dict[str, Any], _isolated: Path, region: str) -> None:
    kw: dict[str, Any] = {"endpoint_url": daemon["endpoint_url"], "region_name": region,
                          **sandbox_keys()}
    ec2: Any = boto3.client("ec2", **kw)
    zones = {s["AvailabilityZone"] for s in ec2.describe_subnets()["Subnets"]
             if s["DefaultForAz"]}
    assert len(zones) == {"us-east-1": 6, "eu-west-1": 3}[region]

    run = stemcell("run", "--region", region, "--keep", "--json", home=_isolated)
    summary = json.loads(run.stdout)
    try:
        assert run.returncode == 0, summary.get("reason") or run.stderr[-2000:]
        assert summary["status"] == "succeeded"
        run_id = summary["run_id"]
        state = json.loads((Path(summary["run_dir"]) / "state.json").read_text())
        assert state["config"]["region"] == region
        live = [i for r in ec2.describe_instances(Filters=[
            {"Name": "tag:stemcell:run", "Values": [run_id]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])["Reservations"]
            for i in r["Instances"]]
        tags = {i["InstanceId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])}
                for i in live}
        web_zones = {i["Placement"]["AvailabilityZone"] for i in live
                     if tags[i["InstanceId"]].get("stemcell:role") == "web"}
        assert len(web_zones) >= 2, web_zones
        credits = ec2.describe_instance_credit_specifications(
            InstanceIds=[i["InstanceId"] for i in live])["InstanceCreditSpecifications"]
        assert {c["CpuCredits"] for c in credits} == {"standard"}

        elb: Any = boto3.client("elbv2", **kw)
        (group,) = elb.describe_target_groups()["TargetGroups"]
        health = elb.describe_target_health(
            TargetGroupArn=group["TargetGroupArn"])["TargetHealthDescriptions"]
        assert health and {h["TargetHealth"]["State"] for h in health} == {"healthy"}
        (balancer,) = elb.describe_load_balancers()["LoadBalancers"]
        alb_zones = {z["ZoneName"] for z in balancer["AvailabilityZones"]}
        target_zones = {i["Placement"]["AvailabilityZone"] for i in live
                        if i["InstanceId"] in {h["Target"]["Id"] for h in health}}
        assert target_zones <= alb_zones
    finally:
        cleaned = stemcell("cleanup", "--run", summary["run_id"], "--yes", home=_isolated)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    # Nothing left, by the sandbox's own account of it.
    states = {i["State"]["Name"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}
    assert states <= {"terminated", "shutting-down"}
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]] == \
        ["default"]
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert boto3.client("s3", **kw).list_buckets()["Buckets"] == []
    elb = boto3.client("elbv2", **kw)
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert elb.describe_target_groups()["TargetGroups"] == []


def test_a_new_accounts_small_vcpu_quota_stops_the_lab_before_any_launch(
        _isolated: Path) -> None:
    started = stemcell("sandbox", "start", "--speed", SPEED, "--json", home=_isolated,
                       STEMCELL_SANDBOX_VCPU_QUOTA="8")
    assert started.returncode == 0, started.stderr
    endpoint = json.loads(started.stdout)["endpoint_url"]
    try:
        run = stemcell("run", "--region", "eu-west-1", "--json", home=_isolated)
        summary = json.loads(run.stdout)
        assert run.returncode == 1 and summary["status"] == "failed"
        assert "not enough vCPU quota in eu-west-1" in summary["reason"]
        assert "L-1216C47A" in summary["reason"]
        ec2: Any = boto3.client("ec2", endpoint_url=endpoint, region_name="eu-west-1",
                                **sandbox_keys())
        assert ec2.describe_instances()["Reservations"] == []  # nothing was launched
    finally:
        stemcell("sandbox", "stop", home=_isolated)
