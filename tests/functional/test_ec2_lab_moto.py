"""The whole lab's cloud steps against in-process moto, SSH against a loopback server."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from ec2_support import (
    SshTestServer,
    leftovers,
    make_cloud,
    make_ctx,
    make_lab,
    seed_ubuntu,
)
from moto import mock_aws

from stemcell.engine.events import Event, InstanceState, SshOutput
from stemcell.engine.instance_records import role_servers
from stemcell.engine.runner import Runner
from stemcell.sandbox.moto_patches import apply_moto_fixes
from stemcell.steps import build_steps

TA_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1nHZ9xUj0ysWZ0B3zfHv0t9qWQyQ3jz3v4q1mW8xP "
          "ta@course")


@pytest.fixture
def moto_env() -> Iterator[None]:
    apply_moto_fixes()
    with mock_aws():
        seed_ubuntu()
        yield


def test_whole_lab_runs_and_leaves_nothing(moto_env: None, tmp_path: Path) -> None:
    cloud = make_cloud()
    server = SshTestServer(tmp_path / "guest", None)
    lab = make_lab(ta_keys=[TA_KEY], course_account="123456789012")
    ctx = make_ctx(tmp_path, cloud, None, lab=lab)
    from ec2_support import FixedDialer

    ctx.dialer = FixedDialer(server.address)
    server.key_file = ctx.run_dir / "ssh" / "id_ed25519.pub"
    events: list[Event] = []
    ctx.bus.subscribe(events.append)
    keep: dict[str, object] = {}
    ctx.bus.subscribe(lambda e: keep.update(dict(ctx.state.bag)))
    servers: dict[str, dict[str, str]] = {}
    ctx.bus.subscribe(lambda e: servers.update(role_servers(ctx.state)))

    status = Runner(ctx, build_steps(lab)).run()

    assert status == "succeeded", ctx.state.reason
    bag = keep
    assert bag["base_image_id"] == "ami-0a1b2c3d4e5f60001"  # the newer of the two
    key_path = Path(str(bag["key_path"]))
    # The key file is gone after cleanup; its mode was checked while it lived (below).
    assert not key_path.exists()
    instances = servers
    assert "instances" not in bag  # one record per instance, in timings (engine.instance_records)
    assert len(instances) == 4
    assert {(v["role"], v["setup"]) for v in instances.values()} == {
        ("web", "1"), ("web", "2"), ("app-api", "1"), ("app-api", "2")}
    assert all(v["image_id"] == bag["image_id"] for v in instances.values()
               if v["setup"] == "2")
    # The bake script ran and streamed; the TA key landed on the builder, once.
    lines = [e.line for e in events if isinstance(e, SshOutput)]
    assert "installing apache" in lines and "done" in lines
    authorized = (tmp_path / "guest" / ".ssh" / "authorized_keys").read_text()
    assert authorized.count(TA_KEY) == 1
    # Marks for every launched instance; builder has the SSH ones too.
    marks = ctx.state.timings["instances"]
    for iid in instances:
        assert {"run_instances_sent", "run_instances_returned", "running"} <= set(
            marks[iid]["marks"])
    builder = marks[str(bag["builder_id"])]["marks"]
    assert "ssh_accepting" in builder and "cloud_init_done" in builder
    web2 = [i for i, v in instances.items() if v["role"] == "web" and v["setup"] == "2"]
    assert "lb_healthy" in marks[web2[0]]["marks"]
    assert any(isinstance(e, InstanceState) and e.state == "running" for e in events)
    # The API calls were counted by operation.
    calls = ctx.state.api_calls
    assert calls["ec2.RunInstances"] == 5 and calls["ec2.CreateImage"] == 1
    # Nothing tagged with the run remains, and every ledger entry is deleted or gone.
    assert leftovers(cloud, ctx.run_id) == []
    assert all(r.state in ("deleted", "gone") for r in ctx.state.resources)
    # Host keys pinned in the run's own known_hosts, not the user's, one per instance
    # id (every instance here is the same loopback server: its address is reused).
    pins = (ctx.run_dir / "ssh" / "known_hosts").read_text().splitlines()
    # (The lab here has no measure step: the role servers' watchers may be stopped by
    # the cleanup before they log in, so only the builder's pin is certain.)
    assert len(pins) == len({p.split()[0] for p in pins}) >= 1
    assert all(p.startswith("i-") and " ssh-ed25519 " in p for p in pins)
    assert sum(ctx.state.bag["host_keys"][i] == "pinned" for i in ctx.state.bag["host_keys"]) \
        == len(pins)  # moto's console is empty: each was pinned on first use, and counted
    server.close()


def test_key_file_is_private_and_launch_is_locked_down(moto_env: None, tmp_path: Path) -> None:
    cloud = make_cloud()
    steps = [s for s in make_lab().steps if s.kind in (
        "find_base_image", "key_pair", "security_group", "launch_builder")]
    lab = make_lab([s.model_dump() for s in steps])
    ctx = make_ctx(tmp_path, cloud, None, lab=lab, keep=True)
    assert Runner(ctx, build_steps(lab)).run() == "succeeded", ctx.state.reason
    key_path = Path(ctx.get("key_path"))
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert key_path.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    ec2 = cloud.ec2
    inst = ec2.describe_instances(InstanceIds=[ctx.get("builder_id")])["Reservations"][0][
        "Instances"][0]
    assert inst["MetadataOptions"]["HttpTokens"] == "required"
    assert inst["InstanceType"] == "t3.micro"
    tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
    assert tags["stemcell:run"] == ctx.run_id and tags["stemcell:setup"] == "builder"
    vol_id = inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    vol = ec2.describe_volumes(VolumeIds=[vol_id])["Volumes"][0]
    assert vol["Encrypted"] and vol["VolumeType"] == "gp3"
    assert {t["Key"]: t["Value"] for t in vol.get("Tags", [])}["stemcell:run"] == ctx.run_id
    sg = ec2.describe_security_groups(GroupIds=[ctx.get("security_group_id")])[
        "SecurityGroups"][0]
    rules = {p["FromPort"]: [r["CidrIp"] for r in p["IpRanges"]] for p in sg["IpPermissions"]}
    assert rules == {22: ["127.0.0.1/32"], 80: ["0.0.0.0/0"]}
    # Nothing secret went into the state file.
    assert "PRIVATE KEY" not in (ctx.run_dir / "state.json").read_text()
    # --keep left things behind; the tag search finds them and the deleter removes them.
    assert len(leftovers(cloud, ctx.run_id)) == 3
    for resource in sorted(ctx.state.live_resources(), key=lambda r: -r.created):
        ctx.deleter.delete(resource, ctx)
    assert leftovers(cloud, ctx.run_id) == []
    assert {r.state for r in ctx.state.resources} == {"deleted"}
    # Deleting again is not an error: each is marked gone.
    for resource in list(ctx.state.resources):
        ctx.deleter.delete(resource, ctx)
    assert {(r.rtype, r.state) for r in ctx.state.resources} == {
        ("instance", "gone"), ("security_group", "gone"), ("key_pair", "gone")}
