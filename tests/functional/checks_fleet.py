"""A small fleet of sandbox servers to check (the checks' sandbox tests and
bench/check_roster.py share it).

Everything goes through the sandbox's real EC2 API (ImportKeyPair,
RunInstances with a boot script) and each server sets itself up with its
script, as a student's would; nothing is poked into a guest from outside.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stemcell.checks import CheckOptions, HostSpec, PlannedCheck, run_roster
from stemcell.content.models import CheckSpec

CANONICAL = "099720109477"

# A student's web server, done right: Apache, the stem cell marker, the page.
GOOD_WEB = """#!/bin/bash
set -eux
apt-get update
apt-get install -y apache2
echo "stem cell image: apache2, baked by a student" > /etc/stemcell-image
cat > /var/www/html/index.html <<'HTML'
<!DOCTYPE html><html><body><h1>Stem cell web server</h1></body></html>
HTML
chmod 644 /var/www/html/index.html
"""

# The same, then three mistakes: Apache stopped, the page gone, ~/.ssh open to all.
BROKEN_WEB = GOOD_WEB + """systemctl stop apache2
rm -f /var/www/html/index.html
chmod 755 /home/ubuntu/.ssh
"""

# The page is there, but Apache (www-data) may not read it.
PRIVATE_PAGE_WEB = GOOD_WEB + "chmod 600 /var/www/html/index.html\n"

# Setup #2's boot script on a baked image: only the page is dropped in.
BAKED_WEB_BOOT = """#!/bin/bash
set -eux
cat > /var/www/html/index.html <<'HTML'
<!DOCTYPE html><html><body><h1>Stem cell web server</h1><p>from the baked image</p></body></html>
HTML
chmod 644 /var/www/html/index.html
"""


def write_key(path: Path) -> str:
    """A fresh ed25519 key at ``path`` (mode 0600); returns the OpenSSH public line."""
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption()))
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                           serialization.PublicFormat.OpenSSH)
    return public.decode() + " ta@course"


def base_image(ec2: Any) -> str:
    images = ec2.describe_images(
        Owners=[CANONICAL],
        Filters=[{"Name": "name",
                  "Values": ["ubuntu/images/*ubuntu-noble-24.04-amd64-server-*"]},
                 {"Name": "state", "Values": ["available"]}],
    )["Images"]
    return str(max(images, key=lambda i: i["CreationDate"])["ImageId"])


def launch(ec2: Any, image_id: str, user_data: str, count: int, key_name: str) -> list[str]:
    reply = ec2.run_instances(ImageId=image_id, InstanceType="t3.micro", MinCount=count,
                              MaxCount=count, UserData=user_data, KeyName=key_name)
    return [i["InstanceId"] for i in reply["Instances"]]


def states(ec2: Any, ids: list[str]) -> dict[str, str]:
    try:
        reservations = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    except ClientError as exc:
        # Just launched: EC2 (and the sandbox) may not know the id yet.
        if exc.response["Error"]["Code"] == "InvalidInstanceID.NotFound":
            return {i: "unknown" for i in ids}
        raise
    return {i["InstanceId"]: i["State"]["Name"] for r in reservations for i in r["Instances"]}


def wait_state(ec2: Any, ids: list[str], state: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    seen: dict[str, str] = {}
    while time.monotonic() < end:
        seen = states(ec2, ids)
        if all(s == state for s in seen.values()):
            return
        time.sleep(0.1)
    raise TimeoutError(f"instances not {state} after {timeout} s: {seen}")


def wait_image(ec2: Any, image_id: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ec2.describe_images(ImageIds=[image_id])["Images"][0]["State"] == "available":
            return
        time.sleep(0.1)
    raise TimeoutError(f"{image_id} not available after {timeout} s")


BOOTED = PlannedCheck(CheckSpec(id="booted", kind="command", command="cloud-init status --wait",
                                stdout_contains="status:", description="cloud-init finished"))


def wait_booted(ids: list[str], options: CheckOptions, jobs: int = 20) -> None:
    """SSH in (retrying while each boots) and wait for cloud-init on every server."""
    report = run_roster([HostSpec(host=i) for i in ids], [BOOTED], options, jobs=jobs)
    bad = [h for h in report.hosts if not h.ok]
    if bad:
        first = bad[0]
        raise RuntimeError(f"{len(bad)} server(s) did not boot: {first.error or first.results}")
