"""What AWS does that moto does not, made visible by the sandbox (sandbox/zones.py,
presign_hosts.py, quotas.py, credit_specs.py), through boto3 against the real server."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sandbox_fakes import fake_parts

from stemcell.cloud.aws_errors import explain
from stemcell.sandbox.amis import CANONICAL_OWNER
from stemcell.sandbox.faults import FaultSpec
from stemcell.sandbox.runtime import Sandbox

SPEED = 200.0


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    # Raw clients here: no eventual-consistency window (test_sandbox_consistency.py has it).
    sb = Sandbox(SPEED, faults=FaultSpec(not_found=0), **fake_parts()).start(warm=False)
    yield sb
    sb.close()


def client(sb: Sandbox, service: str, region: str = "us-east-1", **config: Any) -> Any:
    return boto3.client(service, endpoint_url=sb.endpoint_url, region_name=region,
                        aws_access_key_id=sb.credentials.access_key_id,
                        aws_secret_access_key=sb.credentials.secret_access_key,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                                      **config))


def noble(ec2: Any) -> str:
    images = ec2.describe_images(Owners=[CANONICAL_OWNER], Filters=[
        {"Name": "name", "Values": ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-*"]}
    ])["Images"]
    return str(max(images, key=lambda i: i["CreationDate"])["ImageId"])


def test_default_subnets_in_every_zone_and_launches_spread_over_them(sandbox: Sandbox) -> None:
    ec2 = client(sandbox, "ec2")
    zones = sorted(s["AvailabilityZone"] for s in ec2.describe_subnets()["Subnets"]
                   if s["DefaultForAz"])
    assert zones == [f"us-east-1{z}" for z in "abcdef"]
    assert len({s["AvailabilityZone"] for s in client(sandbox, "ec2", "eu-west-1")
                .describe_subnets()["Subnets"]}) == 3
    image = noble(ec2)
    placed = []
    for _ in range(12):
        inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                 InstanceType="t3.micro")["Instances"][0]
        placed.append(inst["Placement"]["AvailabilityZone"])
        ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    # Anywhere in the region (never zone a only), but never where t3 is not offered.
    assert len(set(placed)) >= 2, placed
    assert "us-east-1e" not in placed


def test_alb_target_in_a_zone_the_alb_lacks_is_unused(sandbox: Sandbox) -> None:
    ec2, elb = client(sandbox, "ec2"), client(sandbox, "elbv2")
    by_zone = {s["AvailabilityZone"]: s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]
               if s["DefaultForAz"]}
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    image = noble(ec2)
    inside = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                               SubnetId=by_zone["us-east-1b"])["Instances"][0]["InstanceId"]
    outside = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                InstanceType="t3.micro", SubnetId=by_zone["us-east-1c"]
                                )["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[inside, outside],
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    tg = elb.create_target_group(Name="zones", Protocol="HTTP", Port=80, VpcId=vpc["VpcId"],
                                 TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": inside}, {"Id": outside}])
    lb = elb.create_load_balancer(Name="zones", Subnets=[by_zone["us-east-1a"],
                                                         by_zone["us-east-1b"]],
                                  Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    health = {h["Target"]["Id"]: h["TargetHealth"] for h in
              elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
    assert health[outside]["State"] == "unused"
    assert health[outside]["Reason"] == "Target.NotInUse"
    assert "Availability Zone" in health[outside]["Description"]
    assert health[inside]["State"] != "unused"
    ec2.terminate_instances(InstanceIds=[inside, outside])


def _bucket_with_bundle(sandbox: Sandbox, name: str, region: str) -> Any:
    s3 = client(sandbox, "s3", region, signature_version="s3v4", s3={"addressing_style": "path"})
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=name, Key="bundles/web.tar.gz", Body=b"bundle")
    return s3


def _get(url: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """GET ``url`` without following redirects; with ``host``, sent with that Host header."""
    request = urllib.request.Request(url, headers={"Host": host} if host else {})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def _presign_for_aws(sandbox: Sandbox, bucket: str, key: str, region: str,
                     endpoint: str) -> str:
    """A presigned GET as an SDK makes it for AWS itself: virtual-hosted on ``endpoint``
    (``s3.amazonaws.com`` or ``s3.REGION.amazonaws.com``), so the URL's host, which the
    signature covers, is ``BUCKET.<endpoint>``. Signed offline with the sandbox's key."""
    s3 = boto3.client("s3", region_name=region, endpoint_url=f"https://{endpoint}",
                      aws_access_key_id=sandbox.credentials.access_key_id,
                      aws_secret_access_key=sandbox.credentials.secret_access_key,
                      config=Config(signature_version="s3v4",
                                    s3={"addressing_style": "virtual"}))
    url = str(s3.generate_presigned_url("get_object", ExpiresIn=60,
                                        Params={"Bucket": bucket, "Key": key}))
    assert urllib.parse.urlsplit(url).hostname == f"{bucket}.{endpoint}", url
    return url


def _on_loopback(sandbox: Sandbox, url: str) -> tuple[str, str]:
    """(the same request aimed at the sandbox's port, the Host header AWS would get)."""
    parts = urllib.parse.urlsplit(url)
    here = urllib.parse.urlsplit(sandbox.endpoint_url)
    return urllib.parse.urlunsplit(("http", here.netloc, parts.path, parts.query, "")), \
        parts.netloc


def _send(sandbox: Sandbox, url: str) -> tuple[int, dict[str, str], bytes]:
    return _get(*_on_loopback(sandbox, url))


def test_presigned_urls_are_honoured_only_for_the_buckets_region_and_host(
        sandbox: Sandbox) -> None:
    bucket, key = "stemcell-presign-eu", "bundles/web.tar.gz"
    s3 = _bucket_with_bundle(sandbox, bucket, "eu-west-1")
    url = s3.generate_presigned_url("get_object", ExpiresIn=60, Params={
        "Bucket": bucket, "Key": key})
    assert _get(url)[0] == 200 and _get(url)[2] == b"bundle"
    # The regional virtual-hosted form, signed for that host: served.
    regional = _presign_for_aws(sandbox, bucket, key, "eu-west-1", "s3.eu-west-1.amazonaws.com")
    status, _, body = _send(sandbox, regional)
    assert (status, body) == (200, b"bundle")
    # Still a signature check on that host: a tampered signature is refused.
    forged = regional.replace("X-Amz-Signature=", "X-Amz-Signature=0", 1)
    status, _, body = _send(sandbox, forged)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    # The global host form: S3 redirects to the regional host before it authenticates.
    on_global = _presign_for_aws(sandbox, bucket, key, "eu-west-1", "s3.amazonaws.com")
    status, headers, body = _send(sandbox, on_global)
    assert status == 307 and b"TemporaryRedirect" in body
    location = headers["Location"]
    assert location.startswith(f"https://{bucket}.s3.eu-west-1.amazonaws.com/bundles/web.tar.gz?")
    # ... and the signature, bound to the global host, fails where the redirect points.
    status, _, body = _send(sandbox, location)
    assert status == 403 and b"SignatureDoesNotMatch" in body
    # Routing comes before authentication: a bad signature meets the same redirect.
    assert _send(sandbox, on_global.replace("X-Amz-Signature=", "X-Amz-Signature=0", 1)
                 )[0] == 307
    # A regional host of another region: S3's 301, whoever signed.
    elsewhere = _presign_for_aws(sandbox, bucket, key, "us-west-2", "s3.us-west-2.amazonaws.com")
    status, _, body = _send(sandbox, elsewhere)
    assert status == 301 and b"PermanentRedirect" in body
    assert _send(sandbox, elsewhere.replace("X-Amz-Signature=", "X-Amz-Signature=0", 1)
                 )[0] == 301
    # Signed for another region (an S3 client made for us-east-1): refused.
    wrong = client(sandbox, "s3", "us-east-1", signature_version="s3v4",
                   s3={"addressing_style": "path"}).generate_presigned_url(
        "get_object", ExpiresIn=60, Params={"Bucket": bucket, "Key": key})
    status, _, body = _get(wrong)
    assert status == 400 and b"AuthorizationQueryParametersError" in body
    assert b"expecting 'eu-west-1'" in body


def test_us_east_1_buckets_answer_on_the_global_host(sandbox: Sandbox) -> None:
    s3 = client(sandbox, "s3", "us-east-1", signature_version="s3v4",
                s3={"addressing_style": "path"})
    s3.create_bucket(Bucket="stemcell-presign-us")
    s3.put_object(Bucket="stemcell-presign-us", Key="k", Body=b"x")
    url = _presign_for_aws(sandbox, "stemcell-presign-us", "k", "us-east-1", "s3.amazonaws.com")
    status, _, body = _send(sandbox, url)
    assert (status, body) == (200, b"x")


def test_vcpu_quota_is_served_and_enforced(sandbox: Sandbox) -> None:
    quotas = client(sandbox, "service-quotas")
    quota = quotas.get_service_quota(ServiceCode="ec2", QuotaCode="L-1216C47A")["Quota"]
    assert quota["Value"] == float(sandbox.vcpu_quota.limit)
    ec2 = client(sandbox, "ec2", "eu-west-1")
    image = noble(ec2)
    before = sandbox.vcpu_quota.limit
    sandbox.vcpu_quota.limit = 4
    try:
        assert quotas.get_service_quota(ServiceCode="ec2",
                                        QuotaCode="L-1216C47A")["Quota"]["Value"] == 4.0
        first = ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2,
                                  InstanceType="t3.micro")["Instances"]
        with pytest.raises(ClientError) as refused:
            ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")
        assert refused.value.response["Error"]["Code"] == "VcpuLimitExceeded"
        assert "vCPU limit of 4" in refused.value.response["Error"]["Message"]
        failure = explain(refused.value, "launching web", region="eu-west-1")
        assert "L-1216C47A" in failure.hint and "eu-west-1" in failure.message
        ec2.terminate_instances(InstanceIds=[i["InstanceId"] for i in first])
    finally:
        sandbox.vcpu_quota.limit = before


def test_credit_mode_is_what_the_launch_asked_for(sandbox: Sandbox) -> None:
    ec2 = client(sandbox, "ec2", "eu-west-1")
    image = noble(ec2)

    def launched(itype: str, **extra: Any) -> str:
        return str(ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=itype,
                                     **extra)["Instances"][0]["InstanceId"])

    default_t3 = launched("t3.micro")
    standard_t3 = launched("t3.micro", CreditSpecification={"CpuCredits": "standard"})
    default_t2 = launched("t2.micro")
    modes = {c["InstanceId"]: c["CpuCredits"] for c in
             ec2.describe_instance_credit_specifications(
                 InstanceIds=[default_t3, standard_t3, default_t2]
             )["InstanceCreditSpecifications"]}
    assert modes == {default_t3: "unlimited", standard_t3: "standard", default_t2: "standard"}
    ec2.terminate_instances(InstanceIds=list(modes))


def test_guest_curl_meets_the_redirect_and_never_leaves_loopback(sandbox: Sandbox) -> None:
    """A boot script fetching the global-host form: curl -L follows S3's 307 towards the
    regional host, which the sandbox cannot reach (AWS would answer 403 there)."""
    from stemcell.engine.clock import ModelClock
    from stemcell.sandbox.machine import IO, Disk, Shell, System

    _bucket_with_bundle(sandbox, "stemcell-presign-curl", "eu-west-1")
    url, host = _on_loopback(sandbox, _presign_for_aws(
        sandbox, "stemcell-presign-curl", "bundles/web.tar.gz", "eu-west-1",
        "s3.amazonaws.com"))
    assert host == "stemcell-presign-curl.s3.amazonaws.com"
    guest = System(Disk.ubuntu(), ModelClock.starting_now(1e7), hostname="ip-172-31-5-6",
                   private_ip="172.31.5.6")
    err: list[bytes] = []
    code = Shell(guest, user="root").run(
        f"curl -fsSL -H 'Host: {host}' -o /tmp/b '{url}'",
        IO(b"", lambda b: None, err.append))
    text = b"".join(err).decode()
    assert code == 7, text
    assert "stemcell-presign-curl.s3.eu-west-1.amazonaws.com" in text
    assert "X-Amz-Signature" not in text  # curl names the host, never the signature


def _baked_image(sandbox: Sandbox, region: str, **ebs: Any) -> str:
    ec2 = client(sandbox, "ec2", region)
    base = noble(ec2)
    root = ec2.describe_images(ImageIds=[base])["Images"][0]["RootDeviceName"]
    iid = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                            BlockDeviceMappings=[{"DeviceName": root, "Ebs": {
                                "VolumeSize": 8, "VolumeType": "gp3", "Encrypted": True,
                                "DeleteOnTermination": True, **ebs}}])["Instances"][0][
        "InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid],
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    image = ec2.create_image(InstanceId=iid, Name=f"share-{iid}")["ImageId"]
    ec2.get_waiter("image_available").wait(ImageIds=[image],
                                           WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    ec2.terminate_instances(InstanceIds=[iid])
    return str(image)


def _share_step(sandbox: Sandbox, tmp_path: Any, region: str, image: str) -> Any:
    from ec2_support import make_ctx, make_lab

    from stemcell.cloud.ec2 import Cloud
    from stemcell.engine.runner import Runner
    from stemcell.steps import build_steps

    lab = make_lab([{"id": "share", "title": "Share", "kind": "share_image",
                     "params": {"account_id": "123456789012"}}])
    # The sandbox is one account with one key: the step signs with it, as `stemcell run`
    # does (make_cloud()'s "testing" key would be refused with AuthFailure, as on AWS).
    session = boto3.Session(aws_access_key_id=sandbox.credentials.access_key_id,
                            aws_secret_access_key=sandbox.credentials.secret_access_key,
                            region_name=region)
    ctx = make_ctx(tmp_path, Cloud(session, region, sandbox.endpoint_url), None, lab=lab)
    ctx.put("image_id", image)
    return ctx, Runner(ctx, build_steps(ctx.lab)).run()


def test_an_image_on_the_default_ebs_key_is_not_shared(sandbox: Sandbox, tmp_path: Any) -> None:
    ec2 = client(sandbox, "ec2", "eu-west-1")
    image = _baked_image(sandbox, "eu-west-1")
    described = ec2.describe_images(ImageIds=[image])["Images"][0]
    (snap,) = [m["Ebs"]["SnapshotId"] for m in described["BlockDeviceMappings"]]
    snapshot = ec2.describe_snapshots(SnapshotIds=[snap])["Snapshots"][0]
    assert snapshot["Encrypted"] and described["BlockDeviceMappings"][0]["Ebs"]["Encrypted"]
    key = client(sandbox, "kms", "eu-west-1").describe_key(KeyId=snapshot["KmsKeyId"])
    assert key["KeyMetadata"]["KeyManager"] == "AWS"
    # EC2 itself refuses, in its own words.
    with pytest.raises(ClientError) as refused:
        ec2.modify_image_attribute(ImageId=image,
                                   LaunchPermission={"Add": [{"UserId": "123456789012"}]})
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    assert "AWS Managed CMK can't be shared" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError, match="cannot be made public"):
        ec2.modify_image_attribute(ImageId=image, LaunchPermission={"Add": [{"Group": "all"}]})
    # The step fails before sharing, naming the image, the snapshot and the fix.
    ctx, status = _share_step(sandbox, tmp_path, "eu-west-1", image)
    assert status == "failed"
    error = ctx.state.steps["share"].error
    assert image in error and snap in error and "aws/ebs" in error
    assert "customer managed KMS key" in ctx.state.reason
    assert "shared_with" not in ctx.state.bag


def test_an_image_on_a_customer_managed_key_is_shared(sandbox: Sandbox, tmp_path: Any) -> None:
    kms = client(sandbox, "kms", "eu-west-1")
    key = kms.create_key(Description="stemcell share")["KeyMetadata"]["Arn"]
    image = _baked_image(sandbox, "eu-west-1", KmsKeyId=key)
    ctx, status = _share_step(sandbox, tmp_path, "eu-west-1", image)
    assert status == "succeeded", ctx.state.reason
    assert ctx.state.bag["shared_with"] == "123456789012"
    perms = client(sandbox, "ec2", "eu-west-1").describe_image_attribute(
        ImageId=image, Attribute="launchPermission")["LaunchPermissions"]
    assert perms == [{"UserId": "123456789012"}]


def test_a_bucket_is_tagged_at_birth(sandbox: Sandbox) -> None:
    from stemcell.cloud.s3 import create_bucket

    for region in ("us-east-1", "eu-west-1"):
        s3 = client(sandbox, "s3", region)
        name = f"stemcell-born-tagged-{region}"
        create_bucket(s3, name, region, [{"Key": "stemcell:run", "Value": "r1"}])
        assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [
            {"Key": "stemcell:run", "Value": "r1"}]
        location = s3.get_bucket_location(Bucket=name)["LocationConstraint"]
        assert (location or "us-east-1") == region


def test_an_endpoint_refusing_tags_at_create_gets_the_plain_request() -> None:
    from botocore.stub import Stubber

    from stemcell.cloud.s3 import create_bucket

    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="a",
                      aws_secret_access_key="b")
    with Stubber(s3) as stub:
        stub.add_client_error("create_bucket", "MalformedXML", http_status_code=400,
                              expected_params={"Bucket": "b-1", "CreateBucketConfiguration": {
                                  "LocationConstraint": "eu-west-1",
                                  "Tags": [{"Key": "k", "Value": "v"}]}})
        stub.add_response("create_bucket", {}, expected_params={
            "Bucket": "b-1", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}})
        create_bucket(s3, "b-1", "eu-west-1", [{"Key": "k", "Value": "v"}])
        stub.assert_no_pending_responses()
