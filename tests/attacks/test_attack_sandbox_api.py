"""Another local user calls the sandbox's API: only its own SigV4 key gets in.

Each refusal is checked for the code and status AWS gives (EC2 API Reference
"Error codes"; the query APIs' common errors; S3's error responses), because
botocore and the AWS CLI parse them into what the student reads.
"""

from __future__ import annotations

import datetime
import secrets
import string
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ONE_TRY, signed_client
from stemcell.sandbox.runtime import Sandbox

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _send(method: str, url: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, data=body, headers=headers or {})
    try:
        with NO_PROXY.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _error(call: Any) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def _other_key() -> str:
    return "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits)
                            for _ in range(16))


def _signed(sb: Sandbox, service: str, method: str, url: str, body: bytes | None,
            headers: dict[str, str]) -> AWSRequest:
    keys = Credentials(sb.credentials.access_key_id, sb.credentials.secret_access_key)
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    (S3SigV4Auth if service == "s3" else SigV4Auth)(keys, service, "us-east-1").add_auth(request)
    return request


def test_the_sandboxs_own_key_works_for_every_service(sandbox: Sandbox) -> None:
    assert signed_client(sandbox, "ec2").describe_regions()["Regions"]
    assert signed_client(sandbox, "elbv2").describe_load_balancers()["LoadBalancers"] == []
    s3 = signed_client(sandbox, "s3")
    s3.create_bucket(Bucket="own-key")
    s3.put_object(Bucket="own-key", Key="dir/a file+x.txt", Body=b"hello")
    assert s3.get_object(Bucket="own-key", Key="dir/a file+x.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="own-key")["Contents"]] == \
        ["dir/a file+x.txt"]
    # A presigned URL, fetched as the guest's curl fetches a bundle: no credentials at all.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "own-key",
                                                          "Key": "dir/a file+x.txt"},
                                    ExpiresIn=300)
    assert _send("GET", url) == (200, "hello")
    identity = signed_client(sandbox, "sts").get_caller_identity()
    assert identity["Account"] == sandbox.account_id


def test_unsigned_requests_are_refused_as_aws_refuses_them(sandbox: Sandbox) -> None:
    status, body = _send("POST", sandbox.endpoint_url + "/",
                         b"Action=DescribeInstances&Version=2016-11-15",
                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401 and "<Code>AuthFailure</Code>" in body
    status, body = _send("GET", sandbox.endpoint_url + "/")
    assert status == 403 and "<Code>AccessDenied</Code>" in body
    # moto's own back doors (its dashboard data, its reset) are behind the same door.
    for method, path in (("GET", "/moto-api/data.json"), ("POST", "/moto-api/reset"),
                         ("GET", "/moto-api/")):
        status, body = _send(method, sandbox.endpoint_url + path,
                             b"" if method == "POST" else None)
        assert status == 403 and "AccessDenied" in body, path
    assert signed_client(sandbox, "ec2").describe_regions()["Regions"]  # nothing was reset
    anonymous = boto3.client(
        "s3", region_name="us-east-1", endpoint_url=sandbox.endpoint_url,
        config=ONE_TRY.merge(Config(signature_version=UNSIGNED)))
    assert _error(lambda: anonymous.list_objects_v2(Bucket="own-key")) == (403, "AccessDenied")
    elb = boto3.client(
        "elbv2", region_name="us-east-1", endpoint_url=sandbox.endpoint_url,
        config=ONE_TRY.merge(Config(signature_version=UNSIGNED)))
    assert _error(elb.describe_load_balancers) == (403, "MissingAuthenticationToken")


def test_a_request_signed_with_another_key_is_refused(sandbox: Sandbox) -> None:
    key, secret = _other_key(), secrets.token_urlsafe(30)
    assert _error(signed_client(sandbox, "ec2", key, secret).describe_instances) == \
        (401, "AuthFailure")
    assert _error(signed_client(sandbox, "s3", key, secret).list_buckets) == \
        (403, "InvalidAccessKeyId")
    assert _error(signed_client(sandbox, "elbv2", key, secret).describe_load_balancers) == \
        (403, "InvalidClientTokenId")
    # The environment's own keys (tests set AWS_ACCESS_KEY_ID=testing) are just another key.
    plain = boto3.client("ec2", region_name="us-east-1",
                                       endpoint_url=sandbox.endpoint_url, config=ONE_TRY)
    assert _error(plain.describe_instances) == (401, "AuthFailure")


def test_the_right_key_with_a_forged_signature_is_refused(sandbox: Sandbox) -> None:
    key, forged = sandbox.credentials.access_key_id, secrets.token_urlsafe(30)
    assert _error(signed_client(sandbox, "ec2", key, forged).describe_instances) == \
        (401, "AuthFailure")
    assert _error(signed_client(sandbox, "s3", key, forged).list_buckets) == \
        (403, "SignatureDoesNotMatch")
    assert _error(signed_client(sandbox, "elbv2", key, forged).describe_load_balancers) == \
        (403, "SignatureDoesNotMatch")
    # And one character off the real signature.
    request = _signed(sandbox, "ec2", "POST", sandbox.endpoint_url + "/",
                      b"Action=DescribeRegions&Version=2016-11-15",
                      {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    auth = request.headers["Authorization"]
    last = auth[-1]
    request.headers.replace_header("Authorization", auth[:-1] + ("0" if last != "0" else "1"))
    status, body = _send("POST", request.url, request.body, dict(request.headers.items()))
    assert status == 401 and "AuthFailure" in body


def test_a_request_tampered_with_after_signing_is_refused(sandbox: Sandbox) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    body = b"Action=DescribeRegions&Version=2016-11-15&RegionName.1=us-east-1"
    request = _signed(sandbox, "ec2", "POST", sandbox.endpoint_url + "/", body, headers)
    sent = dict(request.headers.items())
    assert _send("POST", request.url, body, sent)[0] == 200  # untouched: accepted
    tampered = body.replace(b"us-east-1", b"eu-west-1")
    status, answer = _send("POST", request.url, tampered, sent)
    assert status == 401 and "AuthFailure" in answer
    # Query parameters changed after signing (ELBv2 over GET).
    url = sandbox.endpoint_url + "/?Action=DescribeLoadBalancers&Version=2015-12-01&PageSize=5"
    signed = _signed(sandbox, "elasticloadbalancing", "GET", url, None, {})
    assert _send("GET", signed.url, None, dict(signed.headers.items()))[0] == 200
    status, answer = _send("GET", signed.url.replace("PageSize=5", "PageSize=6"), None,
                           dict(signed.headers.items()))
    assert status == 403 and "SignatureDoesNotMatch" in answer
    # An S3 body swapped after its hash was signed.
    signed_client(sandbox, "s3").create_bucket(Bucket="tamper")
    put = _signed(sandbox, "s3", "PUT", sandbox.endpoint_url + "/tamper/k", b"good", {})
    status, answer = _send("PUT", put.url, b"evil", dict(put.headers.items()))
    assert status == 400 and "XAmzContentSHA256Mismatch" in answer
    # A presigned URL pointed at another object.
    s3 = signed_client(sandbox, "s3")
    s3.put_object(Bucket="tamper", Key="mine", Body=b"mine")
    s3.put_object(Bucket="tamper", Key="theirs", Body=b"theirs")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "tamper", "Key": "mine"})
    assert _send("GET", url) == (200, "mine")
    status, answer = _send("GET", url.replace("/mine?", "/theirs?"))
    assert status == 403 and "SignatureDoesNotMatch" in answer


def test_an_expired_presigned_url_or_an_old_signature_is_refused(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    s3 = signed_client(sandbox, "s3")
    s3.create_bucket(Bucket="expiry")
    s3.put_object(Bucket="expiry", Key="bundle.tgz", Body=b"code")
    real = botocore.auth.get_current_datetime
    # Signed two hours ago (the signer's clock moved back), valid for one.
    monkeypatch.setattr(botocore.auth, "get_current_datetime",
                        lambda: real() - datetime.timedelta(hours=2))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "expiry",
                                                          "Key": "bundle.tgz"},
                                    ExpiresIn=3600)
    status, body = _send("GET", url)
    assert status == 403 and "<Code>AccessDenied</Code>" in body and "expired" in body
    # A header-signed request from two hours ago is replayed too late (15-minute window).
    assert _error(signed_client(sandbox, "ec2").describe_regions) == (400, "RequestExpired")
    assert _error(signed_client(sandbox, "s3").list_buckets) == (403, "RequestTimeTooSkewed")
    monkeypatch.setattr(botocore.auth, "get_current_datetime", real)
    fresh = s3.generate_presigned_url("get_object", Params={"Bucket": "expiry",
                                                            "Key": "bundle.tgz"},
                                      ExpiresIn=3600)
    assert _send("GET", fresh) == (200, "code")


def test_warm_up_requests_are_properly_signed(sandbox: Sandbox) -> None:
    seen: list[int] = []

    def watch(request: Any, status: int, body: bytes) -> None:
        seen.append(status)

    sandbox.front_door.add_observer(watch)
    try:
        sandbox.warm()
    finally:
        sandbox.front_door.observers.remove(watch)
    # Observers see only what passed every filter: all three reached moto.
    assert seen == [200, 200, 200]


def test_a_session_token_with_the_long_term_key_is_refused(sandbox: Sandbox) -> None:
    keys = sandbox.credentials

    def with_token(service: str) -> Any:
        return boto3.client(service, region_name="us-east-1", endpoint_url=sandbox.endpoint_url,
                            aws_access_key_id=keys.access_key_id,
                            aws_secret_access_key=keys.secret_access_key,
                            aws_session_token="FwoGZXIvYXdzEXAMPLE", config=ONE_TRY)

    assert _error(with_token("ec2").describe_instances) == (401, "AuthFailure")
    assert _error(with_token("elbv2").describe_load_balancers) == (403, "InvalidClientTokenId")
    assert _error(with_token("s3").list_buckets) == (400, "InvalidToken")


def test_a_non_s3_presigned_url_is_verified_too(sandbox: Sandbox) -> None:
    # botocore presigns query-protocol operations as POST (their request method).
    url = signed_client(sandbox, "ec2").generate_presigned_url("describe_regions",
                                                               ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    passed: list[str] = []

    def watch(request: Any, status: int, body: bytes) -> None:
        passed.append(request.query)

    sandbox.front_door.add_observer(watch)
    try:
        _send("POST", url, b"")
        status, body = _send("POST", url.replace("DescribeRegions", "DescribeInstances"), b"")
    finally:
        sandbox.front_door.observers.remove(watch)
    assert len(passed) == 1 and "DescribeRegions" in passed[0]  # only the untouched one
    assert status == 401 and "AuthFailure" in body


_SIGNS_WITH = """
import json
from stemcell.cloud.backend import open_backend
from stemcell.engine.context import RunConfig

backend = open_backend(RunConfig(backend="sandbox", speed=100))
owned = backend._handle._owned  # the in-process sandbox it started
seen = []
owned.front_door.add_observer(
    lambda request, status, body: seen.append([request.access_key_id, dict(request.headers)]))
backend.cloud.ec2.describe_regions()
backend.cloud.s3.list_buckets()
print(json.dumps({"own": owned.credentials.access_key_id, "seen": seen}))
backend.close()
"""


def test_stemcell_signs_with_the_sandbox_key_whatever_the_environment_holds(
        tmp_path: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    # Real-looking keys, a session token and a profile this machine lacks: none may
    # break the run or reach the sandbox. A fresh process, so moto is imported with
    # that environment too.
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIAREALUSERKEY00001",
               AWS_SECRET_ACCESS_KEY="real-secret-that-must-stay-home",
               AWS_SESSION_TOKEN="real-session-token", AWS_PROFILE="no-such-profile",
               STEMCELL_HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", _SIGNS_WITH], env=env, text=True,
                          capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert [key for key, _ in result["seen"]] == [result["own"]] * 2
    assert "real" not in json.dumps(result["seen"])
