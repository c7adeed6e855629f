"""Sessions, credentials and backends: the errors a student sees, and counting."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.stub import Stubber

from stemcell.cloud.aws_errors import capacity_error, explain, is_gone
from stemcell.cloud.backend import open_backend
from stemcell.cloud.clients import aws_session, client_config, sandbox_session
from stemcell.cloud.ec2 import Cloud
from stemcell.engine.context import RunConfig
from stemcell.engine.errors import ConfigError
from stemcell.sandbox.credentials import SandboxCredentials


def test_unknown_profile_is_a_config_error(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[profile other]\nregion = us-east-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match="profile not found") as info:
        aws_session("course", "us-east-1")
    assert "--backend sandbox" in info.value.hint


def test_no_credentials_says_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(ConfigError, match="no AWS credentials") as info:
        open_backend(RunConfig(backend="aws"))
    assert "aws configure" in info.value.hint and "aws sso login" in info.value.hint


def test_unknown_backend() -> None:
    with pytest.raises(ConfigError, match="unknown backend"):
        open_backend(RunConfig(backend="gcp"))


def test_retry_mode_and_addressing() -> None:
    cfg = client_config("http://127.0.0.1:1", "s3")
    assert cfg.retries == {"max_attempts": 8, "mode": "standard"}
    assert cfg.s3 == {"addressing_style": "path"}
    assert cfg.signature_version == "s3v4"
    assert client_config(None, "s3").s3 == {"addressing_style": "virtual",
                                            "us_east_1_regional_endpoint": "regional"}
    # SigV4-for-S3 settings belong to the S3 client only.
    ec2 = client_config(None, "ec2")
    assert ec2.s3 is None and ec2.signature_version is None


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-5"])
def test_presigned_bundle_urls_use_the_regional_host(region: str) -> None:
    """A bucket outside us-east-1 is reachable only on its regional host (S3 307/403s the
    global one for new buckets; newer regions never answer there)."""
    from urllib.parse import parse_qs, urlsplit

    from stemcell.cloud.s3 import presigned_get

    cloud = Cloud(sandbox_session(region, SandboxCredentials.generate()), region)
    url = urlsplit(presigned_get(cloud.s3, "stemcell-run-1", "bundles/web.tar.gz"))
    assert url.scheme == "https"
    assert url.hostname == f"stemcell-run-1.s3.{region}.amazonaws.com"
    assert url.path == "/bundles/web.tar.gz"
    query = parse_qs(url.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].split("/")[2:4] == [region, "s3"]


def test_presigned_urls_with_an_endpoint_are_path_style_on_it() -> None:
    from stemcell.cloud.s3 import presigned_get

    cloud = Cloud(sandbox_session("eu-west-1", SandboxCredentials.generate()), "eu-west-1",
                  "http://127.0.0.1:9")
    url = presigned_get(cloud.s3, "stemcell-run-1", "bundles/web.tar.gz")
    assert url.startswith("http://127.0.0.1:9/stemcell-run-1/bundles/web.tar.gz?")
    assert "%2Feu-west-1%2Fs3%2F" in url


def test_every_call_is_counted_by_operation() -> None:
    counted: list[tuple[str, str]] = []
    cloud = Cloud(sandbox_session("us-east-1", SandboxCredentials.generate()), "us-east-1", "http://127.0.0.1:9",
                  on_call=lambda s, o: counted.append((s, o)))
    with Stubber(cloud.ec2) as stub:
        stub.add_response("describe_vpcs", {"Vpcs": []})
        stub.add_response("describe_images", {"Images": []})
        assert cloud.default_vpc() is None
        assert cloud.latest_image("099720109477", "ubuntu/*", "x86_64") is None
    assert counted == [("ec2", "DescribeVpcs"), ("ec2", "DescribeImages")]


def test_error_helpers() -> None:
    from botocore.exceptions import ClientError

    gone = ClientError({"Error": {"Code": "InvalidInstanceID.NotFound", "Message": "x"}}, "T")
    assert is_gone(gone)
    cap = ClientError({"Error": {"Code": "InsufficientInstanceCapacity",
                                 "Message": "no capacity"}}, "RunInstances")
    err = capacity_error(cap, "t3.micro", "eu-west-1", ["t2.micro"])
    assert "t3.micro" in err.message and "eu-west-1" in err.message
    assert "--instance-type" in err.hint and "t2.micro" in err.hint
    denied = ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, "X")
    assert "not allowed" in explain(denied, "launching").message


def test_presigning_is_not_counted() -> None:
    counted: list[tuple[str, str]] = []
    cloud = Cloud(sandbox_session("us-east-1", SandboxCredentials.generate()), "us-east-1", "http://127.0.0.1:9",
                  on_call=lambda s, o: counted.append((s, o)))
    url = cloud.s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})
    assert "X-Amz-Signature=" in url and counted == []
