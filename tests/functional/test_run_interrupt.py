"""Ctrl-C and SIGTERM during a headless run: exit 130, and nothing of the run remains.

The run talks to a background sandbox so the cloud can be inspected after the
process is gone. Signals are sent at the moments that leak in other tools: while
an AMI bakes (Packer leaks it, packer#10248) and while SSH output streams.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stemcell.sandbox.info import read_info

pytestmark = pytest.mark.e2e
SPEED = "40"


def stemcell(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STEMCELL_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "stemcell", *args], env=env, text=True,
                          capture_output=True, timeout=300)


@pytest.fixture
def daemon(_isolated: Path) -> Iterator[dict[str, Any]]:
    started = stemcell("sandbox", "start", "--speed", SPEED, "--json", home=_isolated)
    assert started.returncode == 0, started.stderr
    yield json.loads(started.stdout)
    stemcell("sandbox", "stop", home=_isolated)


def _state(home: Path) -> dict[str, Any] | None:
    for path in (home / "runs").glob("*/state.json"):
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            return None  # mid-rename: look again
    return None


@pytest.mark.parametrize(
    ("sig", "when"),
    [
        (signal.SIGTERM, lambda s: any(r["rtype"] == "image" for r in s["resources"])),
        (signal.SIGINT, lambda s: s["steps"].get("install-stack", {}).get("status") == "running"),
    ],
    ids=["sigterm-while-the-ami-bakes", "ctrl-c-while-ssh-streams"],
)
def test_signal_cleans_up_everything(daemon: dict[str, Any], _isolated: Path,
                                     sig: signal.Signals, when: Any) -> None:
    env = dict(os.environ, STEMCELL_HOME=str(_isolated))
    proc = subprocess.Popen([sys.executable, "-m", "stemcell", "run", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    state = None
    while time.monotonic() < deadline and proc.poll() is None:
        state = _state(_isolated)
        if state and when(state):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the moment to interrupt it"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-3000:]
    summary = json.loads(out)
    assert summary["status"] == "interrupted"
    assert "cleaning up" in err and "nothing left behind" in err
    assert all(r["state"] in ("deleted", "gone") for r in summary["resources"])

    run_id = summary["run_id"]
    keys = read_info().credentials  # type: ignore[union-attr]
    assert keys is not None
    kw: dict[str, Any] = {"endpoint_url": daemon["endpoint_url"], "region_name": "us-east-1",
                          "aws_access_key_id": keys.access_key_id,
                          "aws_secret_access_key": keys.secret_access_key}
    ec2: Any = boto3.client("ec2", **kw)
    tagged = [{"Name": "tag:stemcell:run", "Values": [run_id]}]
    states = [i["State"]["Name"]
              for r in ec2.describe_instances(Filters=tagged)["Reservations"]
              for i in r["Instances"]]
    assert set(states) <= {"terminated"}
    assert ec2.describe_images(Owners=["self"], Filters=tagged)["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"], Filters=tagged)["Snapshots"] == []
    assert ec2.describe_key_pairs(Filters=tagged)["KeyPairs"] == []
    assert [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]] \
        == ["default"]
    # The recording says why it stopped and holds no key material.
    recording = (Path(summary["run_dir"]) / "recording.jsonl").read_text()
    assert '"status": "interrupted"' in recording
    assert "PRIVATE KEY" not in recording


def test_an_interrupted_run_resumes_to_the_end(daemon: dict[str, Any], _isolated: Path) -> None:
    env = dict(os.environ, STEMCELL_HOME=str(_isolated))
    proc = subprocess.Popen([sys.executable, "-m", "stemcell", "run", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        state = _state(_isolated)
        if state and state["steps"].get("security-group", {}).get("status") == "done":
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=180)
    first = json.loads(out)
    assert first["status"] == "interrupted"

    resumed = stemcell("run", "--resume", first["run_id"], "--json", home=_isolated)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout)
    assert summary["run_id"] == first["run_id"] and summary["status"] == "succeeded"
    assert all(s["status"] in ("done", "skipped") for s in summary["steps"])
    assert all(r["state"] in ("deleted", "gone") for r in summary["resources"])
    run_dir = Path(summary["run_dir"])
    # What the first session made was cleaned up, so its steps ran again.
    second = [json.loads(line) for line in
              (run_dir / "recording-2.jsonl").read_text().splitlines()[1:]]
    started = {e["step_id"] for e in second if e["type"] == "step_started"}
    assert {"key-pair", "security-group", "bake"} <= started
    story = stemcell("replay", first["run_id"], "--headless", home=_isolated)
    assert story.returncode == 0, story.stderr
    assert "interrupted" in story.stdout and "succeeded" in story.stdout

    again = stemcell("run", "--resume", first["run_id"], home=_isolated)
    assert again.returncode == 2 and "already finished" in again.stdout + again.stderr
