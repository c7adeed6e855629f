"""``stemcell sandbox start|status|stop`` with a real detached process.

The commands run in-process (click's runner: fast); the sandbox they start is
a real detached daemon process, found again through STEMCELL_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner

from stemcell.cli import main
from stemcell.sandbox.info import SandboxInfo, info_path, pid_alive, read_info, write_info


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def stemcell(*args: str, home: Path) -> Result:
    assert os.environ["STEMCELL_HOME"] == str(home)  # the daemon inherits it
    result = CliRunner().invoke(main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def home(_isolated: Path) -> Iterator[Path]:
    yield _isolated
    info = read_info()
    if info is not None and pid_alive(info.pid):  # a failed test must not leak the daemon
        stemcell("sandbox", "stop", home=_isolated)


def test_start_status_stop(home: Path) -> None:
    started = stemcell("sandbox", "start", "--speed", "500", "--json", home=home)
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    assert info["status"] == "started" and info["speed"] == 500.0
    assert info["endpoint_url"].startswith("http://127.0.0.1:")
    assert pid_alive(info["pid"]) and info["pid"] != os.getpid()
    assert info_path().exists()

    again = stemcell("sandbox", "start", home=home)
    assert again.returncode == 0 and "already running" in again.stdout

    keys = read_info().credentials  # type: ignore[union-attr]
    assert keys is not None
    ec2: Any = boto3.client("ec2", endpoint_url=info["endpoint_url"], region_name="us-east-1",
                            aws_access_key_id=keys.access_key_id,
                            aws_secret_access_key=keys.secret_access_key)
    images = ec2.describe_images(Owners=["099720109477"], Filters=[
        {"Name": "name", "Values": ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-*"]}])
    ec2.create_key_pair(KeyName="student")
    iid = ec2.run_instances(ImageId=images["Images"][0]["ImageId"], MinCount=1, MaxCount=1,
                            KeyName="student")["Instances"][0]["InstanceId"]
    run_id = "20261128-010000-abcdef"
    saved_key = home / "runs" / run_id / "ssh" / "id_ed25519"
    saved_key.parent.mkdir(parents=True)
    saved_key.write_text("not a real key")
    tagged = ec2.run_instances(
        ImageId=images["Images"][0]["ImageId"], MinCount=1, MaxCount=1, KeyName="student",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [
            {"Key": "stemcell:run", "Value": run_id}, {"Key": "Name", "Value": "web"}]}],
    )["Instances"][0]["InstanceId"]

    status = stemcell("sandbox", "status", "--json", home=home)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["running"] and data["uptime"] > 0
    guest = data["guests"][iid]
    assert guest["ssh"][0] == "127.0.0.1" and guest["ssh"][1] > 0 and guest["key_name"] == "student"

    text = stemcell("sandbox", "status", home=home)
    assert info["endpoint_url"] in text.stdout and "500x" in text.stdout
    assert f"ssh -p {guest['ssh'][1]} -i student.pem ubuntu@127.0.0.1" in text.stdout
    # A run's instance points at the key the run saved.
    tagged_port = data["guests"][tagged]["ssh"][1]
    assert f"ssh -p {tagged_port} -i {saved_key} ubuntu@127.0.0.1" in text.stdout
    assert f"{tagged} web [" in text.stdout

    other = stemcell("sandbox", "start", "--speed", "7", home=home)
    assert other.returncode == 0 and "not 7x" in other.stdout

    stopped = stemcell("sandbox", "stop", home=home)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not info_path().exists()
    deadline = time.monotonic() + 10
    while pid_alive(info["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(info["pid"])

    after = stemcell("sandbox", "status", home=home)
    assert after.returncode == 1 and "no sandbox running" in after.stdout


def test_stale_info_file_is_cleaned_up_with_a_note(home: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_info(SandboxInfo(pid=dead.pid, endpoint_url="http://127.0.0.1:9",
                           control_url="http://127.0.0.1:9", speed=40, account_id="700000000000",
                           started_at=0))
    result = stemcell("sandbox", "status", home=home)
    assert result.returncode == 1
    assert "stale" in result.stderr and not info_path().exists()


def test_bad_speed_is_a_usage_error(home: Path) -> None:
    result = stemcell("sandbox", "start", "--speed", "0", home=home)
    assert result.returncode == 2 and "Traceback" not in result.stderr
