"""Right after a create, AWS may not see it yet: every step rides through (one shared helper,
cloud/consistency_retry.py), and a resource that truly is not there still fails.

Faults come from botocore's hooks (tests/functional/faults.py), the way the sandbox's
``not-found`` window will answer once sandbox/consistency.py lands.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from ec2_support import (
    FixedDialer,
    SshTestServer,
    leftovers,
    make_cloud,
    make_ctx,
    make_lab,
    seed_ubuntu,
)
from faults import call_failures
from moto import mock_aws

from stemcell.cloud.consistency_retry import retry_not_found
from stemcell.cloud.leftovers import find
from stemcell.engine.context import Context
from stemcell.engine.runner import Runner
from stemcell.sandbox.moto_patches import apply_moto_fixes
from stemcell.steps import build_steps

STEPS = ["base", "key", "sg", "builder", "provision", "stop", "image", "bundles", "cleanup"]


@pytest.fixture
def moto_env() -> Iterator[None]:
    apply_moto_fixes()
    with mock_aws():
        seed_ubuntu()
        yield


def setup(tmp_path: Path, ids: list[str]) -> tuple[Context, SshTestServer]:
    cloud = make_cloud()
    ssh = SshTestServer(tmp_path / "guest", None)
    steps = [s.model_dump() for s in make_lab().steps if s.id in ids]
    # Speed 200, not the usual 2000: the retry window is 120 modeled seconds, which at
    # 2000x is 60 ms of wall time, less than one moto round trip on a loaded machine.
    ctx = make_ctx(tmp_path, cloud, FixedDialer(ssh.address), lab=make_lab(steps), speed=200.0)
    ssh.key_file = ctx.run_dir / "ssh" / "id_ed25519.pub"
    return ctx, ssh


def test_every_create_is_ridden_through_its_not_found_window(moto_env: None,
                                                             tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, STEPS)
    ec2, s3 = ctx.cloud.ec2, ctx.cloud.s3
    faults = {
        "group": call_failures(ec2, "AuthorizeSecurityGroupIngress", "InvalidGroup.NotFound", 2),
        "key": call_failures(ec2, "RunInstances", "InvalidKeyPair.NotFound", 1),
        "tag": call_failures(s3, "PutBucketTagging", "NoSuchBucket", 1),
        "upload": call_failures(s3, "PutObject", "NoSuchBucket", 1),
    }
    tokens: list[str] = []
    ec2.meta.events.register("provide-client-params.ec2.RunInstances",
                             lambda params, **kw: tokens.append(params.get("ClientToken")))

    # DescribeImages: NotFound only for the image being made, right after CreateImage.
    made: dict[str, Any] = {"left": 2}

    def image_not_yet(params: dict[str, Any], **kwargs: Any) -> None:
        if params.get("ImageIds") and made["left"] > 0 and ctx.get("image_id") in \
                params["ImageIds"]:
            made["left"] -= 1
            raise ClientError({"Error": {"Code": "InvalidAMIID.NotFound",
                                         "Message": "not yet"}}, "DescribeImages")

    ec2.meta.events.register_first("provide-client-params.ec2.DescribeImages", image_not_yet)
    assert Runner(ctx, build_steps(ctx.lab)).run() == "succeeded", ctx.state.reason
    assert faults["group"]["failed"] == 2 and faults["group"]["calls"] == 3
    assert faults["key"]["failed"] == 1
    assert made["left"] == 0
    assert faults["tag"]["failed"] == 1 and faults["upload"]["failed"] == 1
    # The retried RunInstances carried the same ClientToken: idempotent, no second builder.
    assert tokens[0] and tokens[0] == tokens[1]
    assert len([r for r in ctx.state.resources if r.rtype == "instance"]) == 1
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


def test_a_group_that_never_appears_still_fails(moto_env: None, tmp_path: Path) -> None:
    ctx, ssh = setup(tmp_path, ["key", "sg", "cleanup"])
    seen = call_failures(ctx.cloud.ec2, "AuthorizeSecurityGroupIngress",
                         "InvalidGroup.NotFound", 1000)
    assert Runner(ctx, build_steps(ctx.lab)).run() == "failed"
    assert "InvalidGroup.NotFound" in ctx.state.steps["sg"].error
    assert 3 <= seen["calls"] < 30  # backed off within the window, then gave up
    assert leftovers(ctx.cloud, ctx.run_id) == []
    ssh.close()


class _Ctx:
    def __init__(self) -> None:
        from stemcell.engine.clock import ModelClock

        self.clock = ModelClock.starting_now(5000.0)
        self.slept: list[float] = []
        self.logged: list[str] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.sleep(seconds)

    def log(self, message: str, level: str = "info") -> None:
        self.logged.append(message)


def _not_found(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "Op")


def test_retry_backs_off_and_only_for_the_codes_asked() -> None:
    ctx = _Ctx()
    answers = iter([_not_found("InvalidGroup.NotFound")] * 3 + ["done"])

    def call() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert retry_not_found(ctx, "opening ports", call) == "done"
    assert ctx.slept == [1.0, 2.0, 4.0]
    assert len(ctx.logged) == 1 and "eventual consistency" in ctx.logged[0]

    def other() -> None:
        raise _not_found("UnauthorizedOperation")

    with pytest.raises(ClientError):
        retry_not_found(ctx, "x", other)
    assert ctx.slept == [1.0, 2.0, 4.0]  # not retried


def test_untagged_bucket_is_still_found_by_its_name(moto_env: None, tmp_path: Path) -> None:
    from stemcell.cloud.s3 import bucket_name, create_bucket

    cloud = make_cloud()
    run_id = "20261128-010203-abc123"
    create_bucket(cloud.s3, bucket_name(run_id), "us-east-1")  # the tagging never came
    cloud.s3.create_bucket(Bucket="stemcell-not-a-run")  # someone else's name: left alone
    found = [(r.rtype, r.rid, r.step_id) for r in find(cloud)]
    assert found == [("bucket", bucket_name(run_id), run_id)]
    assert [r.rid for r in find(cloud, run_id)] == [bucket_name(run_id)]
    assert find(cloud, "20261128-010203-ffffff") == []
