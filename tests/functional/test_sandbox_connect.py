"""connect_or_start: use the background sandbox when it answers, else start one here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from click.testing import CliRunner
from sandbox_fakes import fake_parts

from stemcell.cli import main
from stemcell.remote.dialer import Target
from stemcell.sandbox.connect import SandboxHandle, SpeedMismatch, connect_or_start
from stemcell.sandbox.info import SandboxInfo, info_path, write_info
from stemcell.sandbox.runtime import DEFAULT_SPEED, Sandbox
from stemcell.sandbox.shared_clock import RemoteClock


def _advertise(sb: Sandbox) -> None:
    """Write the info file a daemon would (this process plays the daemon)."""
    write_info(SandboxInfo(pid=os.getpid(), endpoint_url=sb.endpoint_url,
                           control_url=sb.control_url, speed=sb.speed,
                           account_id=sb.account_id, started_at=sb.started_at,
                           credentials=sb.credentials))


def _ec2(handle: SandboxHandle, **kw: object) -> object:
    """A client with the handle's credentials (the sandbox verifies SigV4)."""
    return boto3.client("ec2", endpoint_url=handle.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=handle.credentials.access_key_id,
                        aws_secret_access_key=handle.credentials.secret_access_key, **kw)


def test_uses_the_running_background_sandbox_and_refuses_another_speed() -> None:
    with Sandbox(300, **fake_parts()) as sb:
        _advertise(sb)
        # One sandbox, one clock: another --speed is refused, saying what to do.
        with pytest.raises(SpeedMismatch, match=r"runs at --speed 300, not 50.*sandbox stop"):
            connect_or_start(speed=50)
        refused = CliRunner().invoke(main, ["run", "--speed", "50", "--json"])
        assert refused.exit_code == 2
        assert "--speed: a background sandbox" in refused.output
        assert "stemcell sandbox start --speed 50" in refused.output
        handle = connect_or_start(speed=300)
        try:
            assert handle.background and handle.endpoint_url == sb.endpoint_url
            assert handle.speed == 300 and handle.note == ""
            # The sandbox's own clock, read over the control API.
            assert isinstance(handle.clock, RemoteClock) and handle.clock.speed == 300
            before = sb.clock.now()
            assert before <= handle.clock.now() <= sb.clock.now()
            assert handle.credentials == sb.credentials  # from the info file
            ec2: Any = _ec2(handle)
            image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
            iid = ec2.run_instances(ImageId=image, MinCount=1,
                                    MaxCount=1)["Instances"][0]["InstanceId"]
            assert handle.dialer.ssh_address(Target(instance_id=iid))[0] == "127.0.0.1"
        finally:
            handle.close()
        # Closing a handle on a background sandbox only lets go of it.
        assert sb.guests()
        same = connect_or_start()
        assert same.background and same.note == ""
        same.close()


def test_a_run_in_another_process_holds_and_caps_the_sandboxs_clock() -> None:
    with Sandbox(1000, **fake_parts()) as sb:
        remote = RemoteClock(sb.control_url, sb.credentials.control_token)
        with remote.busy():
            assert sb.clock.busy_count == 1
            t0 = sb.clock.now()
            time.sleep(0.03)  # 30 modeled seconds if the run's work were not counted
            assert sb.clock.now() == t0
            # A modeled sleep from the other process ends at its deadline, and the
            # clock waits there until the sleeper works again.
            assert remote.sleep(5.0)
            assert sb.clock.now() == pytest.approx(t0 + 5.0, abs=0.05)
            assert sb.clock.busy_count == 1
        assert sb.clock.busy_count == 0
        assert sb.clock_desk.holds() == 0


def test_a_dead_runs_holds_are_swept() -> None:
    with Sandbox(1000, **fake_parts()) as sb:
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait()
        sb.clock_call({"op": "hold", "pid": dead.pid})
        assert sb.clock.busy_count == 1
        deadline = time.monotonic() + 5
        while sb.clock.busy_count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sb.clock.busy_count == 0 and sb.clock_desk.holds() == 0


def test_a_stale_info_file_is_removed_and_a_sandbox_started_here() -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_info(SandboxInfo(pid=dead.pid, endpoint_url="http://127.0.0.1:9",
                           control_url="http://127.0.0.1:9", speed=40,
                           account_id="700000000000", started_at=0))
    handle = connect_or_start()
    try:
        assert not handle.background and handle.simulated
        assert handle.speed == DEFAULT_SPEED and handle.clock.speed == DEFAULT_SPEED
        assert "stale" in handle.note and not info_path().exists()
        ec2: Any = _ec2(handle)
        assert ec2.describe_images(Owners=["099720109477"])["Images"]
    finally:
        handle.close()
    # close() stopped the in-process sandbox: its endpoint no longer answers.
    ec2 = _ec2(handle, config=Config(retries={"max_attempts": 0}, connect_timeout=1))
    with pytest.raises(EndpointConnectionError):
        ec2.describe_images(Owners=["099720109477"])
