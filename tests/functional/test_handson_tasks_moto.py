"""Hands-on tasks against moto in-process: recognising, adopting, judging.

Faster and more precise than the end-to-end test: each task's "done yet?" is
asked after doing (part of) the step with boto3, as the student's CLI would.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ec2_support import make_cloud, make_ctx, seed_ubuntu
from moto import mock_aws

from stemcell.cloud.tags import RUN, as_dict
from stemcell.content.models import StepSpec
from stemcell.handson import build_tasks
from stemcell.sandbox.moto_patches import apply_moto_fixes


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Any]:
    apply_moto_fixes()
    with mock_aws():
        seed_ubuntu()
        yield make_ctx(tmp_path, make_cloud(), None)


def task(kind: str, step_id: str, **params: Any) -> Any:
    spec = StepSpec(id=step_id, title=step_id, kind=kind, params=params)
    lab: Any = type("L", (), {"steps": [spec]})()
    return build_tasks(lab)[step_id]


def statuses(progress: Any) -> dict[str, str]:
    return {line.id: line.status for line in progress.lines}


def test_key_pair_recognised_adopted_and_its_private_half_must_be_private(ctx: Any) -> None:
    ctx.current_step = "key-pair"
    t = task("key_pair", "key-pair")
    brief = t.brief(ctx)
    assert not t.poll(ctx).done  # nothing imported yet
    for command in brief.commands[:2]:  # mkdir, ssh-keygen: real, local
        subprocess.run(["bash", "-c", command], check=True)
    key = Path(ctx.run_dir) / "ssh" / "id_ed25519"
    key.chmod(0o644)
    name = f"stemcell-{ctx.run_id}"
    ctx.cloud.ec2.import_key_pair(KeyName=name, PublicKeyMaterial=key.with_suffix(".pub")
                                  .read_bytes())
    progress = t.poll(ctx)
    assert not progress.done and statuses(progress)["private-key-private"] == "failed"
    assert "chmod 600" in next(ln.hint for ln in progress.lines if ln.status == "failed")
    key.chmod(0o600)
    assert t.poll(ctx).done
    (resource,) = ctx.state.resources
    assert resource.rtype == "key_pair" and resource.made_by == "student"
    pair = ctx.cloud.ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]
    assert as_dict(pair.get("Tags"))[RUN] == ctx.run_id  # cleanup --all finds it by tag
    assert ctx.get("key_path") == str(key)


def test_security_group_open_to_the_world_stays_open_until_revoked(ctx: Any) -> None:
    ctx.current_step = "security-group"
    t = task("security_group", "security-group")
    t.brief(ctx)
    name = f"stemcell-{ctx.run_id}"
    ec2 = ctx.cloud.ec2
    gid = ec2.create_security_group(GroupName=name, Description="x",
                                    VpcId=ctx.get("vpc_id"))["GroupId"]
    world = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
              "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
             {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
              "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=world)
    progress = t.poll(ctx)
    assert not progress.done and statuses(progress)["ssh-not-wider"] == "failed"
    ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=world[:1])
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "127.0.0.1/32"}]}])
    assert t.poll(ctx).done and ctx.get("security_group_id") == gid


def test_another_runs_instance_is_never_adopted(ctx: Any) -> None:
    from stemcell.handson.launch_words import candidates

    ctx.put("key_name", "k")
    ec2 = ctx.cloud.ec2
    ec2.create_key_pair(KeyName="k")
    image = ec2.describe_images(Owners=["099720109477"])["Images"][0]["ImageId"]
    ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, KeyName="k",
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [
                          {"Key": RUN, "Value": "someone-else"}]}])
    mine = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                             KeyName="k")["Instances"][0]["InstanceId"]
    assert [i["InstanceId"] for i in candidates(ctx)] == [mine]
