"""A sandbox in the process leaves plain ``mock_aws`` users alone, and survives them."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws
from sandbox_fakes import fake_parts

from stemcell.sandbox.amis import CANONICAL_OWNER
from stemcell.sandbox.moto_patches import apply_moto_fixes
from stemcell.sandbox.runtime import Sandbox


def _sandbox_ec2(sb: Sandbox) -> Any:
    return boto3.client("ec2", endpoint_url=sb.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=sb.credentials.access_key_id,
                        aws_secret_access_key=sb.credentials.secret_access_key)


def test_mock_aws_sees_stock_moto_while_a_sandbox_runs() -> None:
    with Sandbox(200, **fake_parts()) as sb:
        sandbox_ec2 = _sandbox_ec2(sb)
        image = sandbox_ec2.describe_images(Owners=[CANONICAL_OWNER])["Images"][0]["ImageId"]
        iid = sandbox_ec2.run_instances(ImageId=image, MinCount=1,
                                        MaxCount=1)["Instances"][0]["InstanceId"]

        with mock_aws():
            plain = boto3.client("ec2", region_name="us-east-1")
            # moto's own AMIs, not the sandbox's Ubuntu catalogue
            assert not plain.describe_images(Owners=[CANONICAL_OWNER],
                Filters=[{"Name": "name", "Values": ["*noble-24.04*"]}])["Images"]
            default_ami = plain.describe_images()["Images"][0]["ImageId"]
            r = plain.run_instances(ImageId=default_ami, MinCount=1, MaxCount=1)
            plain_iid = r["Instances"][0]["InstanceId"]
            # stock moto: running at once, no guest, no delays
            now = plain.describe_instances(InstanceIds=[plain_iid])["Reservations"][0]
            assert now["Instances"][0]["State"]["Name"] == "running"
            assert plain_iid not in sb.guests()
            made = plain.create_image(InstanceId=plain_iid, Name="plain")["ImageId"]
            assert plain.describe_images(ImageIds=[made])["Images"][0]["State"] == "available"
            out = plain.get_console_output(InstanceId=plain_iid)["Output"]
            assert "BEGIN SSH HOST KEY" not in out

        # mock_aws reset every backend on exit; the sandbox's account was spared.
        res = sandbox_ec2.describe_instances(InstanceIds=[iid])["Reservations"]
        assert res[0]["Instances"][0]["InstanceId"] == iid
        assert iid in sb.guests()


def test_motofix_in_plain_moto() -> None:
    apply_moto_fixes()
    apply_moto_fixes()  # idempotent
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        ami = ec2.describe_images()["Images"][0]["ImageId"]
        iid = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        tags = [{"Key": "stemcell:run", "Value": "r9"}]
        image_id = ec2.create_image(
            InstanceId=iid, Name="baked",
            TagSpecifications=[{"ResourceType": "image", "Tags": tags},
                               {"ResourceType": "snapshot", "Tags": tags}])["ImageId"]
        image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
        snap = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
        assert ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"][0]["Tags"] == tags
        assert image["Tags"] == tags
        found = ec2.describe_snapshots(
            Filters=[{"Name": "tag:stemcell:run", "Values": ["r9"]}])["Snapshots"]
        assert [s["SnapshotId"] for s in found] == [snap]

        # DescribeSnapshots honours OwnerIds (moto returns every snapshot it holds).
        everyone = ec2.describe_snapshots()["Snapshots"]
        assert any(s["OwnerId"] != "123456789012" for s in everyone)  # moto's AMI snapshots
        own = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        assert [s["SnapshotId"] for s in own] == [snap]
        assert [s["SnapshotId"] for s in
                ec2.describe_snapshots(OwnerIds=["123456789012"])["Snapshots"]] == [snap]
