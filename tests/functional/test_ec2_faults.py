"""Faults injected at the API and SSH levels; after each, nothing tagged remains."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ec2_support import (
    FixedDialer,
    SshTestServer,
    leftovers,
    make_cloud,
    make_ctx,
    make_lab,
    seed_ubuntu,
)
from faults import call_failures, edit_reply, send_failures
from moto import mock_aws

from stemcell.engine.context import Context
from stemcell.engine.events import Event, Log
from stemcell.engine.runner import Runner
from stemcell.sandbox.moto_patches import apply_moto_fixes
from stemcell.steps import build_steps

BAKE_STEPS = ["base", "key", "sg", "builder", "provision", "stop", "image", "cleanup"]
LAUNCH_STEPS = ["base", "key", "sg", "builder", "cleanup"]


@pytest.fixture
def moto_env() -> Iterator[None]:
    apply_moto_fixes()
    with mock_aws():
        seed_ubuntu()
        yield


def lab_of(ids: list[str]) -> Any:
    steps = [s.model_dump() for s in make_lab().steps if s.id in ids]
    return make_lab(steps)


def setup(tmp_path: Path, ids: list[str], **server: Any) -> tuple[Context, SshTestServer]:
    cloud = make_cloud()
    ssh = SshTestServer(tmp_path / "guest", None, **server)
    ctx = make_ctx(tmp_path, cloud, FixedDialer(ssh.address), lab=lab_of(ids))
    ssh.key_file = ctx.run_dir / "ssh" / "id_ed25519.pub"
    return ctx, ssh


def run(ctx: Context) -> str:
    return Runner(ctx, build_steps(ctx.lab)).run()


def test_request_limit_bursts_are_retried(moto_env: None, tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, LAUNCH_STEPS)
    burst = send_failures(ctx.cloud.ec2, "DescribeInstances", "RequestLimitExceeded", 2)
    burst_run = send_failures(ctx.cloud.ec2, "RunInstances", "RequestLimitExceeded", 1)
    assert run(ctx) == "succeeded", ctx.state.reason
    assert burst["failed"] == 2 and burst["attempts"] > 2
    assert burst_run == {"attempts": 2, "failed": 1}
    # One logical call each, however many HTTP attempts it took.
    assert ctx.state.api_calls["ec2.RunInstances"] == 1
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


def test_insufficient_capacity_falls_back_to_another_allowed_type_and_says_so(
        moto_env: None, tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, LAUNCH_STEPS)
    call_failures(ctx.cloud.ec2, "RunInstances", "InsufficientInstanceCapacity", 1,
                  "We currently do not have sufficient t3.micro capacity in us-east-1a.")
    logs: list[str] = []
    ctx.bus.subscribe(lambda e: logs.append(e.message) if isinstance(e, Log) else None)
    assert run(ctx) == "succeeded", ctx.state.reason
    assert any("no spare t3.micro capacity" in m and "as t2.micro instead" in m for m in logs)
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


def test_no_capacity_for_any_allowed_type_names_them(moto_env: None, tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, LAUNCH_STEPS)
    call_failures(ctx.cloud.ec2, "RunInstances", "InsufficientInstanceCapacity", 2,
                  "We currently do not have sufficient capacity in us-east-1a.")
    assert run(ctx) == "failed"
    record = ctx.state.steps["builder"]
    assert "no spare t3.micro capacity in us-east-1" in record.error
    assert "t2.micro" in ctx.state.reason  # the hint names the other x86 type
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


def test_security_group_dependency_violation_is_retried(moto_env: None,
                                                        tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, LAUNCH_STEPS)
    busy = call_failures(ctx.cloud.ec2, "DeleteSecurityGroup", "DependencyViolation", 3,
                         "resource sg-x has a dependent object")
    logs: list[str] = []
    ctx.bus.subscribe(lambda e: logs.append(e.message) if isinstance(e, Log) else None)
    assert run(ctx) == "succeeded", ctx.state.reason
    assert busy == {"calls": 4, "failed": 3}
    assert sum("still in use" in m for m in logs) == 3
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


def test_failed_image_is_a_clear_error_and_everything_is_cleaned(moto_env: None,
                                                                 tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, BAKE_STEPS)

    def fail_ours(parsed: dict[str, Any]) -> None:
        for image in parsed.get("Images", []):
            if image.get("Name", "").startswith("lab1-stem-cell-"):
                image["State"] = "failed"
                image["StateReason"] = {"Code": "Server.InternalError",
                                        "Message": "Internal error while creating snapshot"}

    edit_reply(ctx.cloud.ec2, "DescribeImages", fail_ours)
    assert run(ctx) == "failed"
    assert "failed to bake: Internal error while creating snapshot" in ctx.state.steps[
        "image"].error
    assert ctx.state.bag["image_id"] in ctx.state.steps["image"].error  # named, not "it"
    kinds = {r.rtype: r.state for r in ctx.state.resources}
    assert kinds["image"] in ("deleted", "gone") and kinds["snapshot"] == "deleted"
    assert kinds["instance"] == "deleted"
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


def test_ssh_refused_then_accepted(moto_env: None, tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, BAKE_STEPS, hang_first=2, refuse_first=4)
    assert run(ctx) == "succeeded", ctx.state.reason
    assert ssh.connections >= 7
    builder = ctx.state.timings["instances"][_builder(ctx)]["marks"]
    assert builder["tcp_refused"] <= builder["ssh_accepting"]
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


def _builder(ctx: Context) -> str:
    return next(r.rid for r in ctx.state.resources if r.rtype == "instance")


def test_ssh_never_up_times_out_and_cleans(moto_env: None, tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, BAKE_STEPS, never=True)
    assert run(ctx) == "failed"
    assert "did not accept SSH within 900 s" in ctx.state.steps["provision"].error
    assert "connection refused" in ctx.state.steps["provision"].error
    assert ssh.connections > 10
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


def test_interrupt_while_waiting_for_the_image(moto_env: None, tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, BAKE_STEPS)

    def stay_pending(parsed: dict[str, Any]) -> None:
        for image in parsed.get("Images", []):
            if image.get("Name", "").startswith("lab1-stem-cell-"):
                image["State"] = "pending"
                if not started:
                    started.append(True)
                    timer.start()

    started: list[bool] = []
    timer = threading.Timer(0.3, ctx.cancel.set)
    edit_reply(ctx.cloud.ec2, "DescribeImages", stay_pending)
    events: list[Event] = []
    ctx.bus.subscribe(events.append)
    assert run(ctx) == "interrupted"
    assert ctx.state.steps["image"].status == "interrupted"
    assert leftovers(ctx.cloud, ctx.run_id) == []
    assert all(r.state in ("deleted", "gone") for r in ctx.state.resources)
    ssh.close()
