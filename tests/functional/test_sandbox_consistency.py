"""Eventual consistency in the sandbox (sandbox/consistency.py) and riding it out.

By-id calls answer NotFound for a new id, tag filters leave it out, S3 answers
NoSuchBucket for a new bucket; an interrupt inside that window still leaves
nothing behind (issue 16), counted through the sandbox's own API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stemcell.cloud.backend import Backend, open_backend
from stemcell.content import load_lab, load_profile
from stemcell.content.shipped import shipped_dir
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.events import Event, ResourceCreated
from stemcell.engine.runner import Runner
from stemcell.engine.state import RunState, StateStore
from stemcell.sandbox.faults import FaultSpec
from stemcell.sandbox.runtime import Sandbox
from stemcell.steps import build_steps

WINDOW = 30.0


def raw(sandbox_url: str, service: str, keys: Any) -> Any:
    return boto3.client(service, endpoint_url=sandbox_url, region_name="us-east-1",
                        aws_access_key_id=keys.access_key_id,
                        aws_secret_access_key=keys.secret_access_key,
                        config=Config(retries={"max_attempts": 1}))


def code(call: Any) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def test_new_ids_are_unknown_for_the_window_then_known() -> None:
    with Sandbox(20, faults=FaultSpec(not_found=WINDOW)) as sb:
        ec2 = raw(sb.endpoint_url, "ec2", sb.credentials)
        s3 = raw(sb.endpoint_url, "s3", sb.credentials)
        group = ec2.create_security_group(
            GroupName="g", Description="d",
            TagSpecifications=[{"ResourceType": "security-group",
                                "Tags": [{"Key": "k", "Value": "v"}]}])["GroupId"]
        image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
        iid = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                TagSpecifications=[{"ResourceType": "instance", "Tags": [
                                    {"Key": "k", "Value": "v"}]}])["Instances"][0]["InstanceId"]
        s3.create_bucket(Bucket="fresh-bucket")
        assert code(lambda: ec2.describe_security_groups(GroupIds=[group])) == \
            "InvalidGroup.NotFound"
        assert code(lambda: ec2.describe_instances(InstanceIds=[iid])) == \
            "InvalidInstanceID.NotFound"
        assert code(lambda: ec2.create_tags(Resources=[iid], Tags=[{"Key": "a", "Value": "b"}])
                    ) == "InvalidInstanceID.NotFound"
        tagged = ec2.describe_instances(Filters=[{"Name": "tag:k", "Values": ["v"]}])
        assert tagged["Reservations"] == []  # the tag filter does not see it yet either
        assert code(lambda: s3.put_object(Bucket="fresh-bucket", Key="k", Body=b"x")) == \
            "NoSuchBucket"
        sb.clock.sleep(WINDOW + 1)
        assert code(lambda: ec2.describe_instances(InstanceIds=[iid])) == "ok"
        assert code(lambda: s3.put_object(Bucket="fresh-bucket", Key="k", Body=b"x")) == "ok"
        assert sb.faults.status()["injected"]["not-found"] == 4


@pytest.fixture
def backend() -> Iterator[Backend]:
    opened = open_backend(RunConfig(backend="sandbox", speed=100.0,
                                    faults=f"not-found={WINDOW:g}"))
    yield opened
    opened.close()


def test_an_interrupt_in_the_window_leaves_nothing(backend: Backend, tmp_path: Path) -> None:
    lab_path = shipped_dir("labs") / "lab1-stem-cell.yaml"
    profile_path = shipped_dir("profiles") / "apache-python.yaml"
    full = load_lab(lab_path)
    steps = ["base-image", "key-pair", "security-group", "builder", "cleanup"]
    lab = full.model_copy(update={"steps": [s for s in full.steps if s.id in steps]})
    run_id = "20261130-010000-c0ffee"
    ctx = Context(run_id=run_id, run_dir=tmp_path / run_id, config=RunConfig(), lab=lab,
                  profile=load_profile(profile_path), profile_dir=profile_path.parent,
                  store=StateStore(tmp_path / run_id / "state.json", RunState(run_id=run_id)))
    backend.attach(ctx)

    def stop_at_launch(event: Event) -> None:  # Ctrl-C the moment the instance exists
        if isinstance(event, ResourceCreated) and event.rtype == "instance":
            ctx.request_stop()

    ctx.bus.subscribe(stop_at_launch)
    assert Runner(ctx, build_steps(lab)).run() == "interrupted"
    instance = next(r for r in ctx.state.resources if r.rtype == "instance")
    assert instance.state == "deleted"  # terminated, not written off as "gone"
    ec2 = raw(backend.cloud.endpoint_url or "", "ec2", backend._handle.credentials)
    deadline = time.monotonic() + 30
    while True:  # the sandbox's own truth, once the window is over
        try:
            found = ec2.describe_instances(InstanceIds=[instance.rid])
            break
        except ClientError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    states = [i["State"]["Name"] for r in found["Reservations"] for i in r["Instances"]]
    assert set(states) <= {"terminated", "shutting-down"}, states
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert groups == ["default"]
    assert ec2.describe_key_pairs()["KeyPairs"] == []
