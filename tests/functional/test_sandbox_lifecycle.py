"""The sandbox's EC2 realism through boto3 against a real moto server on loopback.

Guests here are stand-ins (sandbox_fakes) so states can be asserted without SSH;
test_sandbox_real_guest.py drives the real simulated guest.
"""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sandbox_fakes import FakeGuest, fake_parts

from stemcell.sandbox.amis import CANONICAL_OWNER
from stemcell.sandbox.faults import FaultSpec
from stemcell.sandbox.runtime import Sandbox

SPEED = 200.0  # FakeModel's 60 s delays last 0.3 s of wall time


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # Raw clients here, no retries: the consistency window is test_sandbox_faults_e2e's.
    sb = Sandbox(SPEED, faults=FaultSpec(not_found=0), **fake_parts()).start()
    yield sb
    sb.close()


def client(sb: Sandbox, service: str) -> Any:
    return boto3.client(service, endpoint_url=sb.endpoint_url, region_name="us-east-1",
                        aws_access_key_id=sb.credentials.access_key_id,
                        aws_secret_access_key=sb.credentials.secret_access_key)


@pytest.fixture
def ec2(sandbox: Sandbox) -> Any:
    return client(sandbox, "ec2")


def wait_for(probe: Callable[[], Any], want: Any, timeout: float = 10.0) -> list[Any]:
    """Poll until probe() == want; returns every distinct value seen, in order."""
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if not seen or seen[-1] != value:
            seen.append(value)
        if value == want:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"never reached {want!r}; saw {seen}")


def noble_amd64(ec2: Any) -> str:
    images = ec2.describe_images(
        Owners=[CANONICAL_OWNER],
        Filters=[{"Name": "name",
                  "Values": ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"]}],
    )["Images"]
    return max(images, key=lambda i: i["CreationDate"])["ImageId"]


def state_of(ec2: Any, iid: str) -> str:
    res = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
    return str(res[0]["Instances"][0]["State"]["Name"])


def launch(ec2: Any, **extra: Any) -> str:
    r = ec2.run_instances(ImageId=noble_amd64(ec2), MinCount=1, MaxCount=1,
                          InstanceType="t3.micro", **extra)
    assert r["Instances"][0]["State"]["Name"] == "pending"
    return str(r["Instances"][0]["InstanceId"])


def test_current_ubuntu_images_are_listed(ec2: Any) -> None:
    images = ec2.describe_images(Owners=[CANONICAL_OWNER])["Images"]
    names = {i["Name"] for i in images}
    for wanted in ("ubuntu-noble-24.04-amd64-server-", "ubuntu-noble-24.04-arm64-server-",
                   "ubuntu-jammy-22.04-amd64-server-", "ubuntu-jammy-22.04-arm64-server-"):
        assert any(wanted in n for n in names), wanted
    newest = ec2.describe_images(ImageIds=[noble_amd64(ec2)])["Images"][0]
    assert newest["Name"].endswith("-20261120")
    assert newest["OwnerId"] == CANONICAL_OWNER and newest["State"] == "available"
    root = newest["BlockDeviceMappings"][0]["Ebs"]
    assert root["VolumeSize"] == 8 and root["VolumeType"] == "gp3"
    snap = ec2.describe_snapshots(SnapshotIds=[root["SnapshotId"]])["Snapshots"][0]
    assert snap["VolumeSize"] == 8


def test_run_instances_pending_then_running_and_guest_boots(ec2: Any) -> None:
    ec2.create_key_pair(KeyName="lifecycle-key")
    iid = launch(ec2, KeyName="lifecycle-key", UserData="#!/bin/bash\necho stem cell\n")
    guest = FakeGuest.instances[iid]
    assert guest.calls == []  # not booted while pending
    seen = wait_for(lambda: state_of(ec2, iid), "running")
    assert seen[0] == "pending"
    wait_for(lambda: guest.calls, ["boot"], timeout=2)
    # The guest got what cloud-init would: user data, the key pair's key, its hostname.
    assert guest.user_data == "#!/bin/bash\necho stem cell\n"
    assert guest.launch_key and guest.launch_key.startswith("ssh-")
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert inst["PrivateIpAddress"].startswith("172.31.")  # the default VPC, as on EC2
    assert guest.hostname == "ip-" + inst["PrivateIpAddress"].replace(".", "-")
    assert inst.get("PublicIpAddress")


def test_stop_start_terminate_transitions(ec2: Any) -> None:
    iid = launch(ec2)
    wait_for(lambda: state_of(ec2, iid), "running")
    guest = FakeGuest.instances[iid]

    stopping = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert stopping["CurrentState"]["Name"] == "stopping"
    seen = wait_for(lambda: state_of(ec2, iid), "stopped")
    assert seen[0] == "stopping"
    assert "shutdown" in guest.calls

    with pytest.raises(ClientError):  # nothing to stop twice, but stopping again is fine
        ec2.start_instances(InstanceIds=["i-00000000000000000"])
    ec2.start_instances(InstanceIds=[iid])
    seen = wait_for(lambda: state_of(ec2, iid), "running")
    assert seen[0] == "pending"
    wait_for(lambda: guest.calls.count("boot"), 2, timeout=2)

    ec2.terminate_instances(InstanceIds=[iid])
    seen = wait_for(lambda: state_of(ec2, iid), "terminated")
    assert seen[0] == "shutting-down"
    wait_for(lambda: "destroy" in guest.calls, True, timeout=2)


def test_reboot_keeps_running_and_reboots_the_guest(ec2: Any) -> None:
    iid = launch(ec2)
    wait_for(lambda: state_of(ec2, iid), "running")
    guest = FakeGuest.instances[iid]
    wait_for(lambda: guest.calls, ["boot"], timeout=2)
    ec2.reboot_instances(InstanceIds=[iid])
    assert state_of(ec2, iid) == "running"
    wait_for(lambda: guest.calls, ["boot", "shutdown", "boot"], timeout=5)
    ec2.terminate_instances(InstanceIds=[iid])


def test_start_while_stopping_is_refused_like_ec2(ec2: Any) -> None:
    iid = launch(ec2)
    wait_for(lambda: state_of(ec2, iid), "running")
    ec2.stop_instances(InstanceIds=[iid])
    with pytest.raises(ClientError) as err:
        ec2.start_instances(InstanceIds=[iid])
    assert err.value.response["Error"]["Code"] == "IncorrectInstanceState"
    ec2.terminate_instances(InstanceIds=[iid])


def test_create_image_pending_then_available_with_guest_disk(
        sandbox: Sandbox, ec2: Any) -> None:
    iid = launch(ec2)
    wait_for(lambda: state_of(ec2, iid), "running")
    FakeGuest.instances[iid].disk.files["/etc/apache2/apache2.conf"] = "ServerName stem"
    tags = [{"Key": "stemcell:run", "Value": "r1"}]
    image_id = ec2.create_image(
        InstanceId=iid, Name="stemcell-apache-python",
        TagSpecifications=[{"ResourceType": "image", "Tags": tags},
                           {"ResourceType": "snapshot", "Tags": tags}])["ImageId"]
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert image["State"] == "pending"
    assert image["Tags"] == tags
    snap_id = image["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"]
    snap = ec2.describe_snapshots(SnapshotIds=[snap_id])["Snapshots"][0]
    assert snap["Tags"] == tags  # tagged at birth (moto raises NotImplementedError)
    assert snap["State"] == "pending"
    with pytest.raises(ClientError) as err:  # a pending image cannot be launched yet
        ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.Unavailable"

    wait_for(lambda: ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"],
             "available")
    assert ec2.describe_snapshots(SnapshotIds=[snap_id])["Snapshots"][0]["State"] == "completed"

    # An instance from the baked image boots the baked disk (a copy of it).
    r = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    baked = FakeGuest.instances[r["Instances"][0]["InstanceId"]]
    assert baked.disk.files["/etc/apache2/apache2.conf"] == "ServerName stem"
    assert baked.disk is not sandbox.world.fleet.image_disk(image_id)

    ec2.terminate_instances(InstanceIds=[iid, r["Instances"][0]["InstanceId"]])
    ec2.deregister_image(ImageId=image_id)
    ec2.delete_snapshot(SnapshotId=snap_id)
    assert not sandbox.world.fleet.knows_image(image_id)


def test_unknown_image_is_refused_like_ec2(ec2: Any) -> None:
    with pytest.raises(ClientError) as err:
        ec2.run_instances(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1)
    assert err.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_console_output_is_the_guests(ec2: Any) -> None:
    iid = launch(ec2)
    # Nothing written yet.
    assert "Output" not in ec2.get_console_output(InstanceId=iid, Latest=True)
    wait_for(lambda: state_of(ec2, iid), "running")
    out = wait_for(lambda: "Output" in ec2.get_console_output(InstanceId=iid, Latest=True), True)
    assert out
    text = ec2.get_console_output(InstanceId=iid, Latest=True)["Output"]
    assert "-----BEGIN SSH HOST KEY FINGERPRINTS-----" in text
    assert "(ED25519)" in text
    ec2.terminate_instances(InstanceIds=[iid])


def _target_group(sandbox: Sandbox, ec2: Any, iid: str) -> tuple[Any, str]:
    elb = client(sandbox, "elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    # The ALB must have the target's zone (sandbox/zones.py: others are "unused").
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    others = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]
              if s["VpcId"] == vpc["VpcId"] and s["SubnetId"] != inst["SubnetId"]]
    subnets = [inst["SubnetId"], others[0]]
    tg = elb.create_target_group(Name=f"tg-{iid[-6:]}", Protocol="HTTP", Port=80,
                                 VpcId=vpc["VpcId"], HealthCheckPath="/health",
                                 HealthCheckIntervalSeconds=10, HealthyThresholdCount=2,
                                 UnhealthyThresholdCount=2)["TargetGroups"][0]
    lb = elb.create_load_balancer(Name=f"lb-{iid[-6:]}", Subnets=subnets)["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward",
                                         "TargetGroupArn": tg["TargetGroupArn"]}])
    return elb, tg["TargetGroupArn"]


def test_target_health_follows_the_guests_http(sandbox: Sandbox, ec2: Any) -> None:
    iid = launch(ec2)
    wait_for(lambda: state_of(ec2, iid), "running")
    guest = FakeGuest.instances[iid]
    guest.serving = False  # e.g. the app is not deployed yet
    elb, tg_arn = _target_group(sandbox, ec2, iid)
    elb.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": iid}])

    def health() -> str:
        desc = elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
        return str(desc[0]["TargetHealth"]["State"])

    assert health() == "initial"
    time.sleep(5 * 10 / SPEED)  # several check intervals: still failing, still initial
    desc = elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"][0]
    assert desc["TargetHealth"]["State"] == "initial"
    assert desc["TargetHealth"]["Reason"] == "Elb.InitialHealthChecking"

    guest.serving = True
    wait_for(health, "healthy")
    guest.serving = False  # healthy, then the site breaks
    wait_for(health, "unhealthy")
    desc = elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"][0]
    assert desc["TargetHealth"]["Reason"] == "Target.ResponseCodeMismatch"
    assert "[503]" in desc["TargetHealth"]["Description"]
    ec2.terminate_instances(InstanceIds=[iid])


def test_guests_control_api_and_dialer(sandbox: Sandbox, ec2: Any) -> None:
    from stemcell.remote.dialer import Target
    from stemcell.sandbox.loopback_dialer import SandboxDialer, UnknownGuest

    iid = launch(ec2)
    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    guest = FakeGuest.instances[iid]
    dialer = SandboxDialer(sandbox.control_url, sandbox.credentials.control_token)
    by_id = dialer.ssh_address(Target(instance_id=iid))
    assert by_id == ("127.0.0.1", guest.ssh_port)
    assert dialer.ssh_address(Target(public_ip=inst["PublicIpAddress"])) == by_id
    assert dialer.ssh_address(Target(private_ip=inst["PrivateIpAddress"])) == by_id
    assert dialer.http_address(Target(instance_id=iid)) == ("127.0.0.1", guest.http_port)
    with pytest.raises(UnknownGuest, match=r"no sandbox guest for 203\.0\.113\.9"):
        dialer.ssh_address(Target(public_ip="203.0.113.9"))
    with pytest.raises(UnknownGuest, match="port 80 only"):
        dialer.http_address(Target(instance_id=iid), port=8080)
    # A guest launched after the dialer's last look is found by refreshing.
    later = launch(ec2)
    assert dialer.ssh_address(Target(instance_id=later))[1] == FakeGuest.instances[later].ssh_port
    ec2.terminate_instances(InstanceIds=[iid, later])


def test_user_data_reaches_the_guest_decoded(ec2: Any) -> None:
    script = "#!/bin/bash\nset -e\ncurl -fsSL 'http://127.0.0.1/x?X-Amz-Signature=abc'\n"
    iid = launch(ec2, UserData=script)
    assert FakeGuest.instances[iid].user_data == script
    raw = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
    assert base64.b64decode(raw["UserData"]["Value"]).decode() == script
    ec2.terminate_instances(InstanceIds=[iid])


def test_the_servers_never_write_to_the_terminal(sandbox: Sandbox, ec2: Any,
                                                 capfd: pytest.CaptureFixture[str]) -> None:
    # The TUI owns the terminal: no request log, no banner, from moto or the control API.
    iid = launch(ec2)
    ec2.describe_instances(InstanceIds=[iid])
    bearer = {"Authorization": f"Bearer {sandbox.credentials.control_token}"}
    urllib.request.urlopen(urllib.request.Request(sandbox.control_url + "/guests",
                                                  headers=bearer)).read()
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(urllib.request.Request(sandbox.control_url + "/nope",
                                                      headers=bearer))
    with pytest.raises(urllib.error.HTTPError):  # no token: refused, quietly too
        urllib.request.urlopen(sandbox.control_url + "/guests")
    ec2.terminate_instances(InstanceIds=[iid])
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_client_that_resets_its_connection_is_not_printed(
        sandbox: Sandbox, capfd: pytest.CaptureFixture[str]) -> None:
    """A client that hangs up mid-request (RST) makes socketserver print a traceback to
    stderr unless the server says otherwise: the TUI owns the terminal."""
    import socket
    import struct
    import time as _time
    from urllib.parse import urlsplit

    for url in (sandbox.control_url, sandbox.endpoint_url):
        parts = urlsplit(url)
        sock = socket.create_connection((parts.hostname, parts.port))
        sock.sendall(b"GET /guests HTTP/1.1\r\nHost: x\r\n")  # half a request, then RST
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    _time.sleep(0.5)  # let the request threads meet the reset
    out, err = capfd.readouterr()
    assert out == "" and err == ""
