"""The AWS adapter: boto3 clients for EC2, S3 and ELBv2 with API call counting.

One ``Cloud`` per run, built by ``backend.open_backend``. The very same code
talks to AWS and to the sandbox's moto server; only ``endpoint_url`` and the
credentials of the session differ. Every API call is counted through a botocore
event hook (one count per logical call, however many retries it took).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

import boto3

from stemcell.cloud.api_retries import ApiRetries
from stemcell.cloud.clients import client_config
from stemcell.cloud.tags import run_filter

CallSink = Callable[[str, str], None]

# The smallest burstable types; a run may only use these (a typo must not cost money).
# Free tier: legacy accounts (before 15 July 2025) get t2.micro/t3.micro hours, not
# t4g.micro; newer accounts pay every type from their credits (pricing.py).
ALLOWED_TYPES: dict[str, str] = {"t3.micro": "x86_64", "t2.micro": "x86_64",
                                 "t4g.micro": "arm64"}


class Cloud:
    def __init__(
        self,
        session: boto3.Session,
        region: str,
        endpoint_url: str | None = None,
        on_call: CallSink | None = None,
    ) -> None:
        self.session = session
        self.region = region
        self.endpoint_url = endpoint_url
        self.on_call = on_call
        self._clients: dict[str, Any] = {}
        # NotFound-after-create retries and clock-scaled backoff (cloud/api_retries.py).
        self.retries = ApiRetries()
        self._lock = threading.Lock()

    # --- clients -------------------------------------------------------------------
    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self.session.client(
                    service,  # type: ignore[call-overload]
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=client_config(self.endpoint_url, service),
                )
                # before-parameter-build fires for every call, even one that another
                # handler answers without sending (stubs, injected faults).
                client.meta.events.register("before-parameter-build", self._count)
                self.retries.install(client)
                self._clients[service] = client
            return self._clients[service]

    @property
    def ec2(self) -> Any:
        return self.client("ec2")

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def elbv2(self) -> Any:
        return self.client("elbv2")

    def _count(self, model: Any = None, context: Any = None, **kwargs: Any) -> None:
        sink = self.on_call
        if (context or {}).get("is_presign_request"):
            return  # signing a URL locally is not a call to AWS
        if sink is not None and model is not None:
            sink(model.service_model.service_name, model.name)

    # --- EC2 reads the steps share ---------------------------------------------------
    def latest_image(self, owner: str, name: str, architecture: str) -> dict[str, Any] | None:
        """The most recent available image matching owner + name pattern + arch."""
        images = self.ec2.describe_images(
            Owners=[owner],
            Filters=[
                {"Name": "name", "Values": [name]},
                {"Name": "architecture", "Values": [architecture]},
                {"Name": "state", "Values": ["available"]},
            ],
        )["Images"]
        if not images:
            return None
        return max(images, key=lambda i: (i.get("CreationDate", ""), i.get("Name", "")))

    def image(self, image_id: str) -> dict[str, Any] | None:
        images = self.ec2.describe_images(ImageIds=[image_id])["Images"]
        return images[0] if images else None

    def instances_of_run(self, run_id: str) -> list[dict[str, Any]]:
        """Every instance tagged with the run: ONE paginated DescribeInstances."""
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Filters": run_filter(run_id)}
        while True:
            page = self.ec2.describe_instances(**kwargs)
            for reservation in page.get("Reservations", []):
                found.extend(reservation.get("Instances", []))
            token = page.get("NextToken")
            if not token:
                return found
            kwargs["NextToken"] = token

    def console_output(self, instance_id: str) -> str:
        out = self.ec2.get_console_output(InstanceId=instance_id).get("Output") or ""
        # The API returns base64; botocore decodes it for most services but not all
        # endpoints agree, so accept both.
        try:
            decoded = base64.b64decode(out, validate=True).decode("utf-8", "replace")
            if "\n" in decoded or "SSH HOST KEY" in decoded:
                return decoded
        except (ValueError, UnicodeDecodeError):
            pass
        return str(out)

    def default_vpc(self) -> str | None:
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])
        found = vpcs.get("Vpcs", [])
        return str(found[0]["VpcId"]) if found else None

    def zones_offering(self, instance_type: str) -> set[str] | None:
        """Zones of the region that offer ``instance_type`` (None if EC2 would not say)."""
        from botocore.exceptions import ClientError

        try:
            offers = self.ec2.describe_instance_type_offerings(
                LocationType="availability-zone",
                Filters=[{"Name": "instance-type", "Values": [instance_type]}],
            ).get("InstanceTypeOfferings", [])
        except ClientError:  # not allowed for these credentials: any zone, as EC2 decides
            return None
        return {str(o["Location"]) for o in offers if o.get("Location")} or None

    def subnets(self, vpc_id: str) -> list[dict[str, Any]]:
        return list(
            self.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
            .get("Subnets", [])
        )


def public_address(instance: dict[str, Any]) -> str:
    return str(instance.get("PublicIpAddress") or "")

