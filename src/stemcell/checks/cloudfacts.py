"""Read-only EC2 facts about a student's image and instances (boto3).

Only Describe* calls: a check never changes anything. The TA's credentials may
belong to the course account rather than the student's: DescribeImageAttribute
is then refused, and an image that the course account can see at all (as an
executable user) is shared with it, which is the fact we want.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from stemcell.remote import host_keys


class CloudFacts:
    def __init__(self, ec2: Any) -> None:
        self.ec2 = ec2

    def image(self, image_id: str) -> dict[str, Any] | None:
        try:
            images = self.ec2.describe_images(ImageIds=[image_id])["Images"]
        except ClientError as exc:
            if _code(exc) in (
                "InvalidAMIID.NotFound",
                "InvalidAMIID.Unavailable",
                "InvalidAMIID.Malformed",
            ):
                return None
            raise
        if not images:
            return None
        image = images[0]
        return {
            "ImageId": image["ImageId"],
            "State": image.get("State"),
            "OwnerId": image.get("OwnerId"),
            "Name": image.get("Name"),
            "Public": image.get("Public"),
            "Tags": {t["Key"]: t["Value"] for t in image.get("Tags", [])},
        }

    def launch_permissions(self, image_id: str, account: str) -> dict[str, Any]:
        """Accounts allowed to launch ``image_id``, or how we know ``account`` may."""
        try:
            attr = self.ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
            perms = attr.get("LaunchPermissions", [])
            return {
                "source": "DescribeImageAttribute",
                "accounts": sorted(p["UserId"] for p in perms if "UserId" in p),
                "public": any(p.get("Group") == "all" for p in perms),
            }
        except ClientError as exc:
            if _code(exc) not in (
                "AuthFailure",
                "UnauthorizedOperation",
                "InvalidAMIID.Unavailable",
            ):
                raise
        visible = self.ec2.describe_images(ImageIds=[image_id], ExecutableUsers=["self"])
        return {
            "source": "DescribeImages ExecutableUsers=self",
            "accounts": [account] if visible.get("Images") else [],
            "public": False,
        }

    def instances_from(self, image_id: str) -> list[dict[str, Any]]:
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[
                {"Name": "image-id", "Values": [image_id]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )
        found = []
        for page in pages:
            for reservation in page["Reservations"]:
                for inst in reservation["Instances"]:
                    found.append(_instance(inst))
        return found

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        try:
            reservations = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
        except ClientError as exc:
            if _code(exc).startswith("InvalidInstanceID"):
                return None
            raise
        for reservation in reservations:
            for inst in reservation["Instances"]:
                return _instance(inst)
        return None

    def instance_at(self, public_ip: str) -> str | None:
        """The id of the running instance holding ``public_ip``, if it is in this account."""
        reservations = self.ec2.describe_instances(Filters=[
            {"Name": "ip-address", "Values": [public_ip]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ])["Reservations"]
        for reservation in reservations:
            for inst in reservation["Instances"]:
                return str(inst["InstanceId"])
        return None

    def console_fingerprints(self, instance_id: str) -> dict[str, str]:
        # The newest console (Latest=True where the type allows it): the buffered
        # snapshot is often older than cloud-init's fingerprint block.
        return host_keys.parse_fingerprints(host_keys.console_text(self.ec2, instance_id))

    def public_ip(self, instance_id: str) -> str:
        inst = self.instance(instance_id)
        if inst is None:
            raise LookupError(f"no instance {instance_id} in this account and region")
        if not inst.get("PublicIpAddress"):
            raise LookupError(f"instance {instance_id} has no public address ({inst['State']})")
        return str(inst["PublicIpAddress"])


def _instance(inst: dict[str, Any]) -> dict[str, Any]:
    return {
        "InstanceId": inst["InstanceId"],
        "ImageId": inst.get("ImageId"),
        "State": inst.get("State", {}).get("Name"),
        "PublicIpAddress": inst.get("PublicIpAddress"),
        "PrivateIpAddress": inst.get("PrivateIpAddress"),
        "Tags": {t["Key"]: t["Value"] for t in inst.get("Tags", [])},
    }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
