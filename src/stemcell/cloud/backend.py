"""Open a backend: where the API is, how guests are dialled, what clock runs.

AWS: the standard credential chain, the public endpoints (or AWS_ENDPOINT_URL),
``DirectDialer``, wall time. Sandbox: moto on loopback with the sandbox's own
credentials (never the environment's),
the sandbox's dialer and its scaled clock. Both hand the steps the same
``Cloud`` adapter; nothing downstream asks which one it got.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3

from stemcell.cloud.aws_errors import explain_unexpected
from stemcell.cloud.clients import (
    aws_session,
    default_region,
    sandbox_session,
    verify_credentials,
)
from stemcell.cloud.deleter import CloudDeleter
from stemcell.cloud.ec2 import Cloud
from stemcell.engine.clock import Clock, WallClock
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import ConfigError
from stemcell.remote.dialer import Dialer, DirectDialer

if TYPE_CHECKING:
    from stemcell.sandbox.connect import SandboxHandle


@dataclass
class Backend:
    name: str
    cloud: Cloud
    dialer: Dialer
    clock: Clock
    simulated: bool
    deleter: CloudDeleter = field(default_factory=CloudDeleter)
    note: str = ""
    _handle: SandboxHandle | None = None  # the sandbox this backend started or joined

    def __post_init__(self) -> None:
        # Retry backoff and the fresh-id window in the run's (modeled) time.
        self.cloud.retries.clock = self.clock

    @property
    def sandbox(self) -> SandboxHandle | None:
        """The sandbox this backend started or joined (None on AWS)."""
        return self._handle

    def attach(self, ctx: Context) -> None:
        """Give a context this backend's cloud, dialer, deleter and clock."""
        self.cloud.on_call = ctx.count_api_call
        ctx.cloud = self.cloud
        ctx.dialer = self.dialer
        ctx.deleter = self.deleter
        ctx.clock = self.clock
        # The region the backend resolved (the session's, when --region was not given)
        # is the run's: cleanup and resume must look there.
        if ctx.state.config.get("region") != self.cloud.region:
            with ctx.store.lock:
                ctx.state.config["region"] = self.cloud.region
                ctx.store.save()
        cloud, config, run_id = self.cloud, ctx.config, ctx.run_id
        ctx.explain_error = lambda exc: explain_unexpected(
            exc, region=cloud.region, aws_profile=config.aws_profile, run_id=run_id)

    def close(self) -> None:
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()


def open_backend(config: RunConfig, *, verify: bool = True) -> Backend:
    if config.backend == "aws":
        return _open_aws(config, verify)
    if config.backend == "sandbox":
        return _open_sandbox(config)
    raise ConfigError(f"unknown backend {config.backend!r} (choose sandbox or aws)")


def _open_aws(config: RunConfig, verify: bool) -> Backend:
    session = aws_session(config.aws_profile, config.region or None)
    if not session.region_name:
        raise ConfigError("no AWS region: pass --region, set AWS_REGION, or give the "
                          "profile a region (`aws configure set region eu-west-1`)")
    config.region = session.region_name
    endpoint = os.environ.get("AWS_ENDPOINT_URL") or None  # LocalStack / moto server users
    if verify:
        verify_credentials(session, endpoint)
    cloud = Cloud(session, config.region, endpoint)
    return Backend("aws", cloud, DirectDialer(), WallClock(), simulated=False)


def _open_sandbox(config: RunConfig) -> Backend:
    from stemcell.sandbox.connect import SpeedMismatch, connect_or_start

    try:
        handle = connect_or_start(config.speed, config.faults)
    except SpeedMismatch as exc:
        raise ConfigError(f"--speed: {exc}") from None
    except ValueError as exc:  # a bad --faults spec, or a background sandbox with others
        raise ConfigError(f"--faults: {exc}") from None
    # The sandbox takes any region; by default the one AWS tools here would use.
    config.region = config.region or default_region()
    session: boto3.Session = sandbox_session(config.region, handle.credentials)
    cloud = Cloud(session, config.region, handle.endpoint_url)
    return Backend("sandbox", cloud, handle.dialer, handle.clock, simulated=True,
                   note=handle.note, _handle=handle)
