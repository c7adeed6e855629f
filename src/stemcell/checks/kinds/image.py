"""image: the student's AMI exists, is theirs, is tagged, and is shared with the course."""

from __future__ import annotations

from typing import Any

from stemcell.checks.kinds.base import Verdict
from stemcell.checks.probe import NotApplicable, Probe
from stemcell.content.models import CheckSpec

# Publishers of public base images: an AMI owned by one of these is not the student's.
PUBLIC_PUBLISHERS = {"099720109477": "Canonical", "137112412989": "Amazon"}


def student_ami(probe: Probe) -> str:
    ami = probe.host.spec.ami
    if not ami:
        raise NotApplicable("no AMI id for this host (roster column 'ami' or --ami)")
    return ami


def check(spec: CheckSpec, probe: Probe) -> Verdict:
    ami = student_ami(probe)
    image: dict[str, Any] | None = probe.api(
        f"ec2:DescribeImages ImageIds={ami}", lambda c: c.image(ami)
    )
    expected = [f"{ami} available"]
    if image is None:
        return Verdict(False, expected[0], f"{ami} not found in this account and region")
    actual = [f"{ami} {image['State']}"]
    problems = []
    if image["State"] != "available":
        problems.append(f"the image is {image['State']}")
    owner = str(image.get("OwnerId") or "")
    account = probe.host.spec.account
    if account:
        expected.append(f"owned by {account}")
        actual.append(f"owned by {owner}")
        if owner != account:
            problems.append(f"owned by {owner}, not the student's account {account}")
    elif owner in PUBLIC_PUBLISHERS:
        expected.append("owned by the student")
        actual.append(f"owned by {PUBLIC_PUBLISHERS[owner]} ({owner})")
        problems.append(f"this is {PUBLIC_PUBLISHERS[owner]}'s public image, not a baked one")
    for key, value in (spec.tag or {}).items():
        have = image["Tags"].get(key)
        expected.append(f"tag {key}={value}")
        actual.append(f"tag {key}={have}" if have is not None else f"no tag {key}")
        if have is None or (value != "*" and have != value):
            problems.append(f"tag {key} is {have!r}, not {value!r}")
    if spec.shared_with:
        target = probe.host.course_account if spec.shared_with == "course" else spec.shared_with
        if not target:
            raise NotApplicable(
                "no course account configured (lab course_account or --course-account)"
            )
        perms: dict[str, Any] = probe.api(
            f"ec2:DescribeImageAttribute ImageId={ami} Attribute=launchPermission",
            lambda c: c.launch_permissions(ami, target),
        )
        expected.append(f"launchable by {target}")
        shared = target in perms["accounts"] or perms["public"]
        actual.append(f"launchable by {', '.join(perms['accounts']) or 'nobody else'}")
        if not shared:
            problems.append(f"not shared with {target}")
    return Verdict(not problems, ", ".join(expected), ", ".join(actual), "; ".join(problems))
