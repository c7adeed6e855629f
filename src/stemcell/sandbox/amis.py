"""Current Canonical Ubuntu images, loaded into the sandbox's moto as AMI data.

moto's own AMI list stops at Ubuntu 16.04, so the lab's "find the newest
Ubuntu 24.04 image" query would find nothing. These entries follow Canonical's
real publishing conventions (owner 099720109477, ``ubuntu/images/...`` names with
a build serial, a previous build so "newest by CreationDate" matters, an 8 GiB
root snapshot) and each maps to the guest disk a launch from it gets.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

CANONICAL_OWNER = "099720109477"

_RELEASES = {"24.04": "noble", "22.04": "jammy"}
_ARCHES = {"amd64": "x86_64", "arm64": "arm64"}
# Two builds per image: the lab must pick the newest, as on AWS.
_SERIALS = ("20261024", "20261120")
ROOT_GIB = 8


@dataclass(frozen=True)
class UbuntuImage:
    release: str  # "24.04"
    deb_arch: str  # "amd64" | "arm64"
    serial: str  # "20261120"

    @property
    def codename(self) -> str:
        return _RELEASES[self.release]

    @property
    def arch(self) -> str:
        """EC2's architecture name (x86_64 | arm64), also the guest disk's."""
        return _ARCHES[self.deb_arch]

    @property
    def name(self) -> str:
        # Canonical moved to gp3 root volumes in the image name from noble on.
        volume = "hvm-ssd-gp3" if self.release >= "24.04" else "hvm-ssd"
        flavour = f"ubuntu-{self.codename}-{self.release}-{self.deb_arch}-server"
        return f"ubuntu/images/{volume}/{flavour}-{self.serial}"

    @property
    def creation_date(self) -> str:
        s = self.serial
        return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T08:14:31.000Z"

    def ami_id(self, region: str) -> str:
        # Stable per region, as real AMI ids are, so a daemon restart finds the same ids.
        digest = hashlib.sha256(f"{region}/{self.name}".encode()).hexdigest()
        return "ami-0" + digest[:16]

    def moto_record(self, region: str) -> dict[str, Any]:
        """This image in the record format of moto's amis.json."""
        return {
            "ami_id": self.ami_id(region),
            "name": self.name,
            "description": (f"Canonical, Ubuntu, {self.release}, {self.deb_arch} "
                            f"{self.codename} image"),
            "owner_id": CANONICAL_OWNER,
            "public": True,
            "virtualization_type": "hvm",
            "architecture": self.arch,
            "state": "available",
            "creation_date": self.creation_date,
            "platform": None,
            "image_type": "machine",
            "image_location": f"amazon/{self.name}",
            "hypervisor": "xen",
            "root_device_type": "ebs",
            "root_device_name": "/dev/sda1",
            "sriov": "simple",
            "boot_mode": "uefi-preferred" if self.release >= "24.04" else "legacy-bios",
        }


def ubuntu_images() -> list[UbuntuImage]:
    return [
        UbuntuImage(release, deb_arch, serial)
        for release in _RELEASES
        for deb_arch in _ARCHES
        for serial in _SERIALS
    ]


def image_by_id(region: str) -> dict[str, UbuntuImage]:
    return {image.ami_id(region): image for image in ubuntu_images()}
