"""The whole lab through the sandbox's faults (issue 12), with real SSH and HTTP.

Each test drives ``stemcell run`` against a background sandbox started with
``--faults`` and then counts what is left through the sandbox's own API (its
ground truth), never through the ledger. Several faults share one lab run to
keep the suite short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.e2e

# No timing comparison is asserted here, so the sandbox may run fast; the modeled
# fault windows (60 s of refused SSH, 90 s of empty console) stay what they are.
SPEED = "40"
EVERYDAY = ("throttle=0.3,capacity=1,ssh-refused=60,not-found=5,console-delay=90,"
            "s3-errors=0.2,seed=7")


def stemcell(*args: str, home: Path, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STEMCELL_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "stemcell", *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


def start(home: Path, faults: str) -> dict[str, Any]:
    started = stemcell("sandbox", "start", "--speed", SPEED, "--faults", faults, "--json",
                       home=home)
    assert started.returncode == 0, started.stderr
    info: dict[str, Any] = json.loads(started.stdout)
    return info


@pytest.fixture
def home(_isolated: Path) -> Iterator[Path]:
    yield _isolated
    stemcell("sandbox", "stop", home=_isolated)


def sandbox_keys() -> dict[str, str]:
    """The background sandbox's own keys (it refuses any other), from its info file."""
    from stemcell.sandbox.info import read_info

    info = read_info()
    assert info is not None and info.credentials is not None
    return {"aws_access_key_id": info.credentials.access_key_id,
            "aws_secret_access_key": info.credentials.secret_access_key}


def clients(info: dict[str, Any]) -> tuple[Any, Any, Any]:
    kw: dict[str, Any] = {"endpoint_url": info["endpoint_url"], "region_name": "us-east-1",
                          **sandbox_keys(),
                          "config": __import__("botocore.config").config.Config(
                              retries={"max_attempts": 10, "mode": "standard"})}
    return boto3.client("ec2", **kw), boto3.client("s3", **kw), boto3.client("elbv2", **kw)


def live(info: dict[str, Any]) -> list[str]:
    """Everything still there, by the sandbox's API (not the ledger)."""
    ec2, s3, elb = clients(info)
    out = [f"instance {i['InstanceId']} {i['State']['Name']}"
           for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]
           if i["State"]["Name"] not in ("terminated", "shutting-down")]
    out += [f"image {i['ImageId']}" for i in ec2.describe_images(Owners=["self"])["Images"]]
    out += [f"snapshot {s['SnapshotId']}"
            for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]]
    out += [f"group {g['GroupId']}" for g in ec2.describe_security_groups()["SecurityGroups"]
            if g["GroupName"] != "default"]
    out += [f"key {k['KeyName']}" for k in ec2.describe_key_pairs()["KeyPairs"]]
    out += [f"bucket {b['Name']}" for b in s3.list_buckets()["Buckets"]]
    out += [f"lb {lb['LoadBalancerArn']}" for lb in elb.describe_load_balancers()["LoadBalancers"]]
    out += [f"tg {tg['TargetGroupArn']}" for tg in elb.describe_target_groups()["TargetGroups"]]
    return out


def injected(home: Path) -> dict[str, int]:
    status = json.loads(stemcell("sandbox", "status", "--json", home=home).stdout)
    control = status["control_url"]
    from stemcell.sandbox.info import read_info
    from stemcell.sandbox.loopback_dialer import fetch_json

    info = read_info()
    assert info is not None
    health = fetch_json(control + "/health", info.control_token) or {}
    return dict(health["faults"]["injected"])


def log_lines(home: Path, run_id: str) -> list[str]:
    lines = []
    for path in sorted((home / "runs" / run_id).glob("recording*.jsonl")):
        for raw in path.read_text().splitlines():
            event = json.loads(raw)
            if event.get("type") == "Log" or "message" in event:
                lines.append(str(event.get("message", "")))
    return lines


def test_lab_rides_through_everyday_faults_and_a_blocked_group_is_reported(
        home: Path) -> None:
    info = start(home, EVERYDAY)
    run = stemcell("run", "--json", "--keep", home=home)
    summary = json.loads(run.stdout)
    assert run.returncode == 0, summary.get("reason") or run.stderr[-3000:]
    assert summary["status"] == "succeeded"
    run_id = summary["run_id"]
    # console-delay=90: every host key was still verified against the console, none
    # trusted on first use.
    assert summary["host_keys"]["pinned_on_first_use"] == 0, summary["host_keys"]
    assert summary["host_keys"]["verified"] > 0, summary["host_keys"]
    # Every fault of the set was met, not just configured.
    seen = injected(home)
    for kind in ("throttle", "capacity", "ssh-refused", "not-found", "s3-errors"):
        assert seen.get(kind, 0) > 0, (kind, seen)
    # capacity=1: the launch fell back to another allowlisted type, and said so.
    assert any("capacity" in line and "instead" in line for line in log_lines(home, run_id))

    # A classmate's hand-made group whose rule references the run's group blocks it.
    ec2, _, _ = clients(info)
    run_group = next(r["id"] for r in summary["resources"]
                     if r["type"] == "security_group")
    blocker = ec2.create_security_group(GroupName="blocker", Description="hand-made")["GroupId"]
    deadline = time.monotonic() + 30
    while True:  # the new group is unknown for not-found=5 modeled seconds, as on AWS
        try:
            ec2.authorize_security_group_ingress(GroupId=blocker, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                "UserIdGroupPairs": [{"GroupId": run_group}]}])
            break
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "InvalidGroup.NotFound"
            assert time.monotonic() < deadline
            time.sleep(0.05)

    first = stemcell("cleanup", "--run", run_id, "--yes", home=home)
    assert first.returncode == 1, first.stdout + first.stderr
    assert run_group in first.stderr and "DependencyViolation" in first.stderr
    assert sorted(live(info)) == sorted([f"group {run_group}", f"group {blocker}"])
    runs = json.loads(stemcell("runs", "--json", home=home).stdout)
    assert next(r for r in runs if r["run_id"] == run_id)["live_resources"] == 1

    ec2.delete_security_group(GroupId=blocker)
    second = stemcell("cleanup", "--run", run_id, "--yes", home=home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert live(info) == []
    runs = json.loads(stemcell("runs", "--json", home=home).stdout)
    assert next(r for r in runs if r["run_id"] == run_id)["live_resources"] == 0


def test_a_failed_image_fails_the_run_by_name_and_leaves_nothing(home: Path) -> None:
    info = start(home, "ami-failed=1,throttle=0.2,seed=3")
    status = stemcell("sandbox", "status", home=home)
    assert "faults: throttle=0.2,ami-failed=1,seed=3" in status.stdout, status.stdout
    bad = stemcell("run", "--faults", "throttle=2", home=home)
    assert bad.returncode == 2 and "between 0 and 0.9" in bad.stdout + bad.stderr
    other = stemcell("run", "--faults", "capacity=1", home=home)
    assert other.returncode == 2, other.stdout + other.stderr
    assert "runs with faults" in other.stdout + other.stderr
    assert not list((home / "runs").glob("*")), "a refused run leaves no run folder"
    run = stemcell("run", "--json", home=home)
    summary = json.loads(run.stdout)
    assert run.returncode == 1, run.stderr[-3000:]
    image = next(r["id"] for r in summary["resources"] if r["type"] == "image")
    assert summary["status"] == "failed"
    assert image in summary["reason"] and "failed" in summary["reason"]
    assert injected(home).get("ami-failed") == 1
    assert live(info) == []

