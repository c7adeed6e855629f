"""The sandbox is an account of its own: an access key, its secret, a control token.

Made when a sandbox starts and handed only to its owner (the background
sandbox keeps them in its 0600 state file): any other local user who finds the
loopback port still cannot call the API without them.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from stemcell.engine.redact import register_secret

_UPPER = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class SandboxCredentials:
    access_key_id: str
    secret_access_key: str
    control_token: str

    def __post_init__(self) -> None:
        # Whoever holds them (the sandbox, a run, the checker) redacts them from then on:
        # neither value follows a pattern the redactor would recognise by shape.
        register_secret(self.secret_access_key)
        register_secret(self.control_token)

    @classmethod
    def generate(cls) -> SandboxCredentials:
        # Shaped like AWS's own (AKIA + 16, 40-character secret) so tools that
        # check the form of a key accept them.
        key = "AKIA" + "".join(secrets.choice(_UPPER) for _ in range(16))
        return cls(access_key_id=key, secret_access_key=secrets.token_urlsafe(30)[:40],
                   control_token=secrets.token_urlsafe(32))

    def __repr__(self) -> str:  # never print the secrets by accident
        return f"SandboxCredentials(access_key_id={self.access_key_id!r}, ...)"


def aws_env(endpoint_url: str, credentials: SandboxCredentials,
            region: str) -> dict[str, str]:
    """The environment that points the AWS CLI, boto3 and Terraform at the sandbox."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
