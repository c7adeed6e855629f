"""AWS's everyday refusals in the sandbox: groups in use, snapshots in use, the
buffered console, draining targets (docs/sandbox.md, "AWS's everyday unfriendliness")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sandbox_fakes import fake_parts
from test_sandbox_lifecycle import launch, state_of, wait_for

from stemcell.sandbox.faults import FaultSpec
from stemcell.sandbox.runtime import Sandbox

SPEED = 200.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(SPEED, faults=FaultSpec(not_found=0, console_delay=90), **fake_parts()).start()
    yield sb
    sb.close()


def client(sb: Sandbox, service: str) -> Any:
    return boto3.client(service, endpoint_url=sb.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=sb.credentials.access_key_id,
                        aws_secret_access_key=sb.credentials.secret_access_key)


def code(call: Any) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def test_a_group_used_by_an_instance_not_yet_terminated_cannot_go(sandbox: Sandbox) -> None:
    ec2 = client(sandbox, "ec2")
    group = ec2.create_security_group(GroupName="used", Description="d")["GroupId"]
    iid = launch(ec2, SecurityGroupIds=[group])
    wait_for(lambda: state_of(ec2, iid), "running")
    assert code(lambda: ec2.delete_security_group(GroupId=group)) == "DependencyViolation"
    ec2.terminate_instances(InstanceIds=[iid])
    assert state_of(ec2, iid) == "shutting-down"
    assert code(lambda: ec2.delete_security_group(GroupId=group)) == "DependencyViolation"
    wait_for(lambda: state_of(ec2, iid), "terminated")
    assert code(lambda: ec2.delete_security_group(GroupId=group)) == "ok"


def test_an_images_snapshot_is_in_use_until_deregistered_with_it(sandbox: Sandbox) -> None:
    ec2 = client(sandbox, "ec2")
    iid = launch(ec2)
    wait_for(lambda: state_of(ec2, iid), "running")
    image = ec2.create_image(InstanceId=iid, Name="baked")["ImageId"]
    wait_for(lambda: ec2.describe_images(ImageIds=[image])["Images"][0]["State"], "available")
    snap = ec2.describe_images(ImageIds=[image])["Images"][0]["BlockDeviceMappings"][0][
        "Ebs"]["SnapshotId"]
    assert code(lambda: ec2.delete_snapshot(SnapshotId=snap)) == "InvalidSnapshot.InUse"
    answer = ec2.deregister_image(ImageId=image, DeleteAssociatedSnapshots=True)
    assert answer["DeleteSnapshotResults"] == [{"SnapshotId": snap, "ReturnCode": "success"}]
    assert code(lambda: ec2.describe_snapshots(SnapshotIds=[snap])) == "InvalidSnapshot.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_the_console_is_buffered_late_and_latest_only_on_nitro(sandbox: Sandbox) -> None:
    ec2 = client(sandbox, "ec2")
    iid = launch(ec2)
    wait_for(lambda: state_of(ec2, iid), "running")
    running = sandbox.clock.now()

    def output(latest: bool) -> str:
        return str(ec2.get_console_output(InstanceId=iid, Latest=latest).get("Output", ""))

    assert output(True) == "" and output(False) == ""  # console-delay=90
    sandbox.clock.sleep(max(0.0, running + 95 - sandbox.clock.now()))
    assert "SSH HOST KEY FINGERPRINTS" in output(True)
    assert output(False) == ""  # the buffer was posted at running, before anything
    sandbox.clock.sleep(max(0.0, running + 305 - sandbox.clock.now()))
    assert "SSH HOST KEY FINGERPRINTS" in output(False)  # re-posted after 300 s
    old = launch(ec2)
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.modify_instance_attribute(InstanceId=old, InstanceType={"Value": "t2.micro"})
    assert code(lambda: ec2.get_console_output(InstanceId=old, Latest=True)) == \
        "UnsupportedOperation"
    ec2.terminate_instances(InstanceIds=[old])


def test_a_deregistered_target_drains_for_the_deregistration_delay(sandbox: Sandbox) -> None:
    ec2, elb = client(sandbox, "ec2"), client(sandbox, "elbv2")
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = elb.create_target_group(Name="drain", Protocol="HTTP", Port=80, VpcId=vpc,
                                    TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    iid = launch(ec2)
    wait_for(lambda: state_of(ec2, iid), "running")
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": iid}])
    elb.deregister_targets(TargetGroupArn=group, Targets=[{"Id": iid}])

    def health() -> str:
        found = elb.describe_target_health(TargetGroupArn=group, Targets=[{"Id": iid}])
        return str(found["TargetHealthDescriptions"][0]["TargetHealth"]["State"])

    assert health() == "draining"
    sandbox.clock.sleep(301)  # the default deregistration_delay.timeout_seconds
    assert health() != "draining"
    ec2.terminate_instances(InstanceIds=[iid])
