"""boto3 sessions: the standard credential chain on AWS, the sandbox's own for the sandbox.

Whatever the backend, the same clients are built the same way; only the
endpoint and the credentials differ. Credential problems become one
``ConfigError`` that says how to fix them (the CLI maps it to exit code 2).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Protocol

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ProfileNotFound,
)

from stemcell.engine.errors import ConfigError

# Standard mode retries throttling (RequestLimitExceeded) and transient errors with
# exponential backoff and a retry quota; 8 attempts ride out a burst.
RETRIES = {"max_attempts": 8, "mode": "standard"}

_FIX = (
    "Configure credentials with `aws configure`, pick a profile with --aws-profile or "
    "AWS_PROFILE, or refresh an SSO session with `aws sso login`. "
    "The sandbox backend (--backend sandbox, the default) needs no AWS account at all."
)


def client_config(endpoint_url: str | None = None, service: str = "") -> Config:
    """One client's settings; the S3-only ones (SigV4, addressing) only for S3.

    S3 presigned URLs must name the bucket's own region: the global host
    ``BUCKET.s3.amazonaws.com`` answers a bucket created minutes ago in another
    region with 307 to the regional host, and the host-bound signature then fails
    there (403); regions opened since 2019 never answer on the global host
    ("Virtual hosting of buckets" and "Making requests to Amazon S3 over IPv6 /
    Regional endpoints", Amazon S3 User Guide). Virtual-hosted style with the
    regional endpoint (also for us-east-1) makes
    ``https://BUCKET.s3.REGION.amazonaws.com/KEY``, signed with SigV4 for REGION.
    With an endpoint (the sandbox, LocalStack) there is no DNS per bucket: path
    style on that endpoint.
    """
    extra: dict[str, object] = {}
    if service == "s3":
        extra["signature_version"] = "s3v4"
        extra["s3"] = ({"addressing_style": "path"} if endpoint_url else
                       {"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"})
    return Config(
        # A copy: botocore rewrites the dict in place (max_attempts -> total_max_attempts).
        retries=dict(RETRIES),  # type: ignore[arg-type]
        connect_timeout=10,
        read_timeout=60,
        **extra,  # type: ignore[arg-type]
    )


def aws_session(aws_profile: str | None, region: str | None) -> boto3.Session:
    """A session from the standard chain (env, profile, SSO, instance role)."""
    try:
        session = boto3.Session(profile_name=aws_profile, region_name=region)
    except ProfileNotFound as exc:
        raise ConfigError(f"AWS profile not found: {exc.kwargs.get('profile', aws_profile)}",
                          hint=_FIX) from None
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # SSO token expired, broken credential process ...
        raise ConfigError(f"AWS credentials could not be loaded: {exc}", hint=_FIX) from None
    if credentials is None:
        raise ConfigError("no AWS credentials found", hint=_FIX)
    return session


def verify_credentials(session: boto3.Session, endpoint_url: str | None = None) -> str:
    """Ask STS who we are: catches expired or revoked credentials before any work."""
    sts = session.client("sts", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL"),
                         config=client_config(endpoint_url, "sts"))
    try:
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        raise ConfigError("no AWS credentials found", hint=_FIX) from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise ConfigError(f"AWS rejected the credentials ({code})", hint=_FIX) from None
    except BotoCoreError as exc:
        raise ConfigError(f"AWS credentials could not be used: {exc}", hint=_FIX) from None
    return str(identity.get("Arn", ""))


class AccessKey(Protocol):
    """An access key and its secret (``SandboxCredentials`` is one)."""

    @property
    def access_key_id(self) -> str: ...

    @property
    def secret_access_key(self) -> str: ...


def sandbox_session(region: str, credentials: AccessKey) -> boto3.Session:
    """The sandbox's own key, whatever the environment or ~/.aws hold.

    The sandbox verifies SigV4 like AWS. Explicit keys take precedence over
    every other source in boto3's chain (real keys and session tokens in the
    environment are never sent to it), and the session does not read
    AWS_PROFILE at all, so one naming a profile this machine lacks cannot break
    a sandbox run.
    """
    # ``profile`` with no environment variable behind it: None, whatever is set.
    core = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
    return boto3.Session(
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name=region,
        botocore_session=core,
    )


SANDBOX_DEFAULT_REGION = "us-east-1"
# Credential sources botocore refreshes by itself (while the login behind them lasts):
# their short expiry is not the run's deadline.
_SELF_REFRESHING = frozenset({"sso", "assume-role", "assume-role-with-web-identity",
                              "container-role", "iam-role", "custom-process",
                              "login"})


def default_region(aws_profile: str | None = None) -> str:
    """The region AWS tools would use here (AWS_REGION, AWS_DEFAULT_REGION, the profile's),
    else us-east-1; for the sandbox, which accepts any."""
    try:
        region = boto3.Session(profile_name=aws_profile).region_name
    except ProfileNotFound:
        region = None
    return region or SANDBOX_DEFAULT_REGION


def credentials_expire_in(session: boto3.Session, now: datetime | None = None) -> float | None:
    """Seconds until the session's credentials stop working; None if they do not expire
    (long-term keys) or botocore renews them itself (SSO, assumed roles, instance roles).

    Temporary keys pasted into the environment (``AWS_SESSION_TOKEN`` with
    ``AWS_CREDENTIAL_EXPIRATION``) or a profile do expire mid-run: presigned URLs and
    cleanup die with them.
    """
    credentials = session.get_credentials()
    if credentials is None:
        return None
    if getattr(credentials, "method", "") in _SELF_REFRESHING:
        return None
    expiry = getattr(credentials, "_expiry_time", None)
    if not isinstance(expiry, datetime):
        return None
    current = now or datetime.now(UTC)
    return (expiry - current).total_seconds()
