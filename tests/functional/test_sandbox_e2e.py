"""Lab 1 end to end on a background sandbox: ``stemcell run --json``, then nothing left.

The run connects to the daemon ``stemcell sandbox start`` left running (the
path a student takes with a sandbox in another terminal), so the sandbox can
be inspected after the run: no live instance, image, snapshot, security group,
key pair or bucket may remain.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stemcell.sandbox.info import read_info

pytestmark = pytest.mark.e2e
# The speed does not change the modeled figures (engine/clock.py; see
# test_modeled_time_e2e.py); 20 keeps the run's wall time short.
SPEED = "20"


def stemcell(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STEMCELL_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "stemcell", *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture
def daemon(_isolated: Path) -> Iterator[dict[str, Any]]:
    started = stemcell("sandbox", "start", "--speed", SPEED, "--json", home=_isolated)
    assert started.returncode == 0, started.stderr
    yield json.loads(started.stdout)
    stemcell("sandbox", "stop", home=_isolated)


def test_lab_completes_and_leaves_nothing(daemon: dict[str, Any], _isolated: Path) -> None:
    run = stemcell("run", "--json", home=_isolated)
    summary = json.loads(run.stdout)
    assert run.returncode == 0, summary.get("reason") or run.stderr[-2000:]
    assert summary["status"] == "succeeded" and summary["simulated"] is True
    assert summary["backend"] == "sandbox"
    # The lesson holds in the sandbox: every role is ready sooner from the stem cell image.
    for row in summary["timings"]["comparison"]["roles"]:
        setups = row["setups"]
        assert setups["2"]["ready"]["median"] < setups["1"]["ready"]["median"], row["role"]

    keys = read_info().credentials  # type: ignore[union-attr]
    assert keys is not None
    kw: dict[str, Any] = {"endpoint_url": daemon["endpoint_url"], "region_name": "us-east-1",
                          "aws_access_key_id": keys.access_key_id,
                          "aws_secret_access_key": keys.secret_access_key}
    ec2: Any = boto3.client("ec2", **kw)
    states = {i["InstanceId"]: i["State"]["Name"]
              for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]}
    assert states and set(states.values()) <= {"terminated", "shutting-down"}
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert groups == ["default"]
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert boto3.client("s3", **kw).list_buckets()["Buckets"] == []
    elb: Any = boto3.client("elbv2", **kw)
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    assert elb.describe_target_groups()["TargetGroups"] == []

    # The control plane saw the whole fleet go: no guest is left serving.
    status = json.loads(stemcell("sandbox", "status", "--json", home=_isolated).stdout)
    assert all(g["state"] in ("terminated", "shutting-down") for g in status["guests"].values())


def test_real_openssh_client_and_http_on_a_server_from_the_baked_image(
    daemon: dict[str, Any], _isolated: Path
) -> None:
    """A student's view: `ssh` into a setup #2 server, then fetch its page over HTTP."""
    ssh = shutil.which("ssh")
    if ssh is None:
        pytest.fail("OpenSSH client missing: .ci/run installs openssh-client")
    run = stemcell("run", "--keep", "--json", home=_isolated)
    summary = json.loads(run.stdout)
    try:
        assert run.returncode == 0, summary.get("reason") or run.stderr[-2000:]
        instances = summary["timings"]["instances"]
        (web,) = [iid for iid, info in instances.items()
                  if info["role"] == "web" and info["setup"] == "2"]
        status = json.loads(stemcell("sandbox", "status", "--json", home=_isolated).stdout)
        guest = status["guests"][web]
        host, port = guest["ssh"]
        run_dir = Path(summary["run_dir"])
        key = run_dir / "ssh" / "id_ed25519"
        assert key.stat().st_mode & 0o777 == 0o600
        # The run pinned this server's host key (checked against its console output);
        # OpenSSH must accept the same key from the run's known_hosts, strictly.
        login = subprocess.run(
            [ssh, "-i", str(key), "-p", str(port), "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=yes",
             "-o", f"UserKnownHostsFile={run_dir / 'ssh' / 'known_hosts'}",
             # pinned under the instance id, not the (reusable) address
             "-o", f"HostKeyAlias={web}",
             "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
             f"ubuntu@{host}", "systemctl is-active apache2; cat /etc/stemcell-image"],
            capture_output=True, text=True, timeout=60,
        )
        assert login.returncode == 0, login.stderr
        lines = login.stdout.splitlines()
        assert lines[0] == "active"
        assert lines[1].startswith("stem cell image: apache2 + mod_wsgi")
        http_host, http_port = guest["http"]
        with urllib.request.urlopen(f"http://{http_host}:{http_port}/", timeout=10) as resp:
            page = resp.read().decode()
        assert resp.status == 200 and "Stem cell web server" in page
    finally:
        cleaned = stemcell("cleanup", "--run", summary["run_id"], "--yes", home=_isolated)
        assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
