"""What a run's ``Context`` holds of the world below the engine, as Protocols.

The engine sits under ``cloud`` and ``remote`` in the layers, so it cannot name
``cloud.ec2.Cloud`` or a concrete dialer; it names what steps, hands-on tasks and
checks use of them instead. ``cloud.ec2.Cloud``, ``remote.dialer.DirectDialer``
and the sandbox's loopback dialer satisfy these structurally (mypy checks it
where the backend hands them to a context), and tests hand in fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from stemcell.engine.errors import StemcellError

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True)
class Target:
    """What we know of an instance when we want to reach it."""

    instance_id: str = ""
    public_ip: str = ""
    private_ip: str = ""


class Dialer(Protocol):
    """How an instance's address is dialled (remote/dialer.py says why it varies)."""

    def ssh_address(self, target: Target) -> tuple[str, int]:
        """(host, port) to open an SSH connection to."""
        ...

    def http_address(self, target: Target, port: int = 80) -> tuple[str, int]:
        """(host, port) to send an HTTP request to (the guest's ``port``)."""
        ...


class CloudApi(Protocol):
    """What steps use of the run's ``cloud.ec2.Cloud``: boto3 clients and shared reads.

    The clients are boto3's own (``Any`` to boto3 itself: botocore builds them at
    run time from the service models).
    """

    region: str

    @property
    def session(self) -> boto3.Session: ...

    def client(self, service: str) -> Any: ...

    @property
    def ec2(self) -> Any: ...

    @property
    def s3(self) -> Any: ...

    @property
    def elbv2(self) -> Any: ...

    def latest_image(self, owner: str, name: str, architecture: str) -> dict[str, Any] | None:
        ...

    def image(self, image_id: str) -> dict[str, Any] | None: ...

    def instances_of_run(self, run_id: str) -> list[dict[str, Any]]: ...

    def console_output(self, instance_id: str) -> str: ...

    def default_vpc(self) -> str | None: ...

    def zones_offering(self, instance_type: str) -> set[str] | None: ...

    def subnets(self, vpc_id: str) -> list[dict[str, Any]]: ...


class NoCloud:
    """The cloud of a context no backend has attached yet: any use is a clear error."""

    region = ""

    def _refuse(self) -> NoReturn:
        raise StemcellError("this run has no cloud connection (no backend was opened)")

    @property
    def session(self) -> boto3.Session:
        self._refuse()

    def client(self, service: str) -> Any:
        self._refuse()

    @property
    def ec2(self) -> Any:
        self._refuse()

    @property
    def s3(self) -> Any:
        self._refuse()

    @property
    def elbv2(self) -> Any:
        self._refuse()

    def latest_image(self, owner: str, name: str, architecture: str) -> dict[str, Any] | None:
        self._refuse()

    def image(self, image_id: str) -> dict[str, Any] | None:
        self._refuse()

    def instances_of_run(self, run_id: str) -> list[dict[str, Any]]:
        self._refuse()

    def console_output(self, instance_id: str) -> str:
        self._refuse()

    def default_vpc(self) -> str | None:
        self._refuse()

    def zones_offering(self, instance_type: str) -> set[str] | None:
        self._refuse()

    def subnets(self, vpc_id: str) -> list[dict[str, Any]]:
        self._refuse()
