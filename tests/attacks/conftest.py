"""The attack suite: each border of stemcell tried as an attacker would.

One file per border, ``test_attack_<border>.py``. Each test plays the other
side — another local user, a web page in the same browser, a student's server
seen from a TA's chair, a student's deployed code — and asserts that the border
holds: the request is refused in the way the real service refuses it, nothing
leaks, nothing hangs. ``docs/security.md`` names the test proving each border.

- ``test_attack_sandbox_api``: the sandbox's EC2/S3/ELBv2 endpoint answers only
  requests SigV4-signed with its own key (unsigned, foreign key, forged
  signature, tampered body or parameters, expired presigned URL all refused).
- ``test_attack_control_api``: every control route wants the bearer token.
- ``test_attack_info_file``: a world-readable or foreign sandbox info file is refused.
- ``test_attack_serve``: ``stemcell serve`` wants its token, refuses foreign
  Origins on the websocket and caps sessions; a real browser proves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from stemcell.sandbox.faults import FaultSpec
from stemcell.sandbox.runtime import Sandbox

ONE_TRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# As stemcell's own S3 client (cloud/clients.py): SigV4 presigned URLs, path-style.
S3_CONFIG = ONE_TRY.merge(Config(s3={"addressing_style": "path"}, signature_version="s3v4"))


@pytest.fixture(scope="package")
def sandbox() -> Iterator[Sandbox]:
    """One in-process sandbox for the API and control-API attacks (no guests launched)."""
    # No eventual-consistency window: the attacks use a bucket right after creating it.
    with Sandbox(speed=100, faults=FaultSpec(not_found=0)) as sb:
        yield sb


def signed_client(sb: Sandbox, service: str, key: str | None = None,
                  secret: str | None = None, region: str = "us-east-1") -> Any:
    """A boto3 client for ``sb`` signing with ``key``/``secret`` (default: the sandbox's own)."""
    return boto3.client(
        service, region_name=region, endpoint_url=sb.endpoint_url,
        aws_access_key_id=key if key is not None else sb.credentials.access_key_id,
        aws_secret_access_key=secret if secret is not None
        else sb.credentials.secret_access_key,
        config=S3_CONFIG if service == "s3" else ONE_TRY)
