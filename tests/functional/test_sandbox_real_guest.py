"""The control plane driving the real simulated guest: boot, bake, launch, serve.

Through boto3 and paramiko only, as the lab's steps do: a builder installs
apache2 from its user data, its image carries the install, an instance from
the baked image serves the page at boot, and the load balancer sees it healthy.
"""

from __future__ import annotations

import base64
import hashlib
import io
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import paramiko
import pytest

from stemcell.remote.dialer import Target
from stemcell.sandbox.amis import CANONICAL_OWNER
from stemcell.sandbox.faults import FaultSpec
from stemcell.sandbox.loopback_dialer import SandboxDialer
from stemcell.sandbox.runtime import Sandbox

SPEED = 400.0
USER_DATA = """#!/bin/bash
set -e
apt-get update
apt-get install -y apache2
echo '<h1>stem cell</h1>' > /var/www/html/index.html
"""


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # Raw clients here, no retries: the consistency window is test_sandbox_faults_e2e's.
    sb = Sandbox(SPEED, faults=FaultSpec(not_found=0)).start()
    yield sb
    sb.close()


def wait_for(probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except Exception as exc:  # not up yet: keep polling like the steps do
            last = exc
        else:
            if last:
                return last
        time.sleep(0.02)
    raise AssertionError(f"timed out; last: {last!r}")


def ssh_exec(address: tuple[str, int], key: paramiko.PKey, command: str) -> tuple[int, str]:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(address[0], address[1], username="ubuntu", pkey=key, timeout=5,
                       banner_timeout=5, auth_timeout=5, look_for_keys=False,
                       allow_agent=False)
        _, stdout, _ = client.exec_command(command, timeout=20)
        out = stdout.read().decode()
        return stdout.channel.recv_exit_status(), out
    finally:
        client.close()


def host_key_sha256(address: tuple[str, int]) -> str:
    transport = paramiko.Transport(address)
    try:
        transport.start_client(timeout=5)
        blob = transport.get_remote_server_key().asbytes()
    finally:
        transport.close()
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def test_bake_and_launch_from_the_baked_image(sandbox: Sandbox) -> None:
    keys = sandbox.credentials
    ec2: Any = boto3.client("ec2", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=keys.access_key_id,
                            aws_secret_access_key=keys.secret_access_key)
    elb: Any = boto3.client("elbv2", endpoint_url=sandbox.endpoint_url,
                            region_name="us-east-1", aws_access_key_id=keys.access_key_id,
                            aws_secret_access_key=keys.secret_access_key)
    dialer = SandboxDialer(sandbox.control_url, keys.control_token)
    material = ec2.create_key_pair(KeyName="bake")["KeyMaterial"]
    key = paramiko.RSAKey.from_private_key(io.StringIO(material))
    base = max(ec2.describe_images(Owners=[CANONICAL_OWNER], Filters=[
        {"Name": "name", "Values": ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-*"]},
    ])["Images"], key=lambda i: i["CreationDate"])["ImageId"]

    builder = ec2.run_instances(ImageId=base, InstanceType="t3.micro",  # Nitro: Latest works
                                MinCount=1, MaxCount=1, KeyName="bake",
                                UserData=USER_DATA)["Instances"][0]["InstanceId"]
    ssh = dialer.ssh_address(Target(instance_id=builder))
    status, out = wait_for(lambda: ssh_exec(ssh, key, "cloud-init status --wait"))
    assert status == 0 and "status: done" in out, out
    assert ssh_exec(ssh, key, "systemctl is-active apache2")[1].strip() == "active"

    # The console carries the host key fingerprint the SSH server presents.
    console = ec2.get_console_output(InstanceId=builder, Latest=True)["Output"]
    assert "-----BEGIN SSH HOST KEY FINGERPRINTS-----" in console
    assert host_key_sha256(ssh) in console

    image = ec2.create_image(InstanceId=builder, Name="stemcell-apache")["ImageId"]
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["State"] == "pending"
    wait_for(lambda: ec2.describe_images(ImageIds=[image])["Images"][0]["State"] == "available")
    baked_disk = sandbox.world.fleet.image_disk(image)
    assert "apache2" in baked_disk.packages
    assert "stem cell" in baked_disk.read_text("/var/www/html/index.html")

    # From the baked image: no user data, Apache is already there and starts at boot.
    web = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                            KeyName="bake")["Instances"][0]["InstanceId"]
    host, port = dialer.http_address(Target(instance_id=web))

    def page() -> str:
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=2) as response:
            return str(response.read().decode())

    assert "stem cell" in wait_for(page)

    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    # The ALB must cover the zone the target landed in (EC2 places an instance without a
    # subnet in any zone), or the target is "unused": its subnet and one other.
    placed = ec2.describe_instances(InstanceIds=[web])["Reservations"][0]["Instances"][0]
    subnets = [placed["SubnetId"], next(
        s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]
        if s["DefaultForAz"] and s["AvailabilityZone"] != placed["Placement"]["AvailabilityZone"])]
    tg = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc,
                                 HealthCheckPath="/", HealthCheckIntervalSeconds=10
                                 )["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name="lab", Subnets=subnets)["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": web}])

    def state() -> str:
        return str(elb.describe_target_health(TargetGroupArn=tg)
                   ["TargetHealthDescriptions"][0]["TargetHealth"]["State"])

    assert state() == "initial"
    wait_for(lambda: state() == "healthy")
    ec2.terminate_instances(InstanceIds=[builder, web])
