"""Which host to check, and how to dial it.

The TA names a host by public address or instance id. If that host belongs to
a running sandbox, the sandbox's dialer knows the loopback ports its SSH and
HTTP servers listen on; otherwise the address is dialled directly. The same
command therefore checks sandbox guests and real servers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stemcell.remote.dialer import Dialer, Target

if TYPE_CHECKING:
    from stemcell.cloud.clients import AccessKey

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


@dataclass(frozen=True)
class HostSpec:
    """One host to check: a roster row, or the ``--host`` options."""

    host: str
    name: str = ""  # the student; defaults to the host
    user: str = "ubuntu"
    key: Path | None = None
    port: int = 22
    ami: str | None = None
    role: str | None = None
    account: str | None = None  # the student's AWS account, for "owned by" checks
    line: int = 0  # where it was written in the roster, for messages

    @property
    def label(self) -> str:
        return self.name or self.host

    @property
    def is_instance_id(self) -> bool:
        return bool(INSTANCE_ID.match(self.host))

    def target(self) -> Target:
        if self.is_instance_id:
            return Target(instance_id=self.host)
        return Target(public_ip=self.host)


@dataclass(frozen=True)
class Route:
    """Where to send SSH and HTTP for a host, and through what."""

    ssh: tuple[str, int]
    http: Callable[[int], tuple[str, int]]
    via: str  # "sandbox" | "direct"


class UnknownHost(Exception):
    pass


def route(spec: HostSpec, dialer: Dialer | None, lookup_ip: Callable[[str], str] | None) -> Route:
    """Decide how to reach ``spec``: the sandbox's mapping first, else directly.

    ``lookup_ip`` turns an instance id into its public address (the EC2 API);
    without it an instance id can only name a sandbox guest.
    """
    target = spec.target()
    if dialer is not None:
        try:
            ssh = dialer.ssh_address(target)
        except Exception:  # the sandbox does not know this host: not one of its guests
            ssh = None
        if ssh is not None:
            sandbox = dialer
            return Route(
                ssh=ssh, http=lambda port: sandbox.http_address(target, port), via="sandbox"
            )
    address = spec.host
    if spec.is_instance_id:
        if lookup_ip is None:
            raise UnknownHost(
                f"{spec.host} is not a guest of a running sandbox, and without AWS "
                "credentials (--aws-profile/--region) an instance id cannot be looked up"
            )
        address = lookup_ip(spec.host)
    return Route(ssh=(address, spec.port), http=lambda port: (address, port), via="direct")


@dataclass(frozen=True)
class RunningSandbox:
    dialer: Dialer
    endpoint_url: str  # its EC2 API, for cloud facts about its instances
    credentials: AccessKey  # the sandbox's own key (its API checks SigV4)


def running_sandbox() -> RunningSandbox | None:
    """The background sandbox (``stemcell sandbox start``), if one runs and answers.

    Never starts one: checking a real server must not spin up a sandbox. Its
    info file gives the control token and the access key (``read_info``
    refuses a file that is not the user's own).
    """
    from stemcell.sandbox.info import alive, read_info
    from stemcell.sandbox.loopback_dialer import SandboxDialer

    info = read_info()
    if info is None or info.credentials is None or not alive(info):
        return None
    return RunningSandbox(SandboxDialer(info.control_url, info.control_token), info.endpoint_url,
                          info.credentials)
