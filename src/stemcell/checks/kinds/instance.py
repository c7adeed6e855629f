"""instance: a server runs from the student's AMI (ideally the host being checked)."""

from __future__ import annotations

from typing import Any

from stemcell.checks.kinds.base import Verdict
from stemcell.checks.kinds.image import student_ami
from stemcell.checks.probe import Probe
from stemcell.content.models import CheckSpec


def check(spec: CheckSpec, probe: Probe) -> Verdict:
    ami = student_ami(probe)
    host = probe.host.spec
    found: list[dict[str, Any]] = probe.api(
        f"ec2:DescribeInstances Filters=image-id={ami},instance-state-name=pending|running",
        lambda c: c.instances_from(ami),
    )
    expected = f"an instance launched from {ami}"
    if not found:
        return Verdict(False, expected, f"no pending or running instance from {ami}")
    mine = [i for i in found if host.host in (i["InstanceId"], i.get("PublicIpAddress"))]
    ids = ", ".join(i["InstanceId"] for i in found)
    problems = []
    if mine:
        actual = f"{mine[0]['InstanceId']} ({host.host}) runs from {ami}"
        chosen = mine[0]
    else:
        actual = f"{ids} run from {ami}, but not {host.host}"
        problems.append(f"{host.host} was not launched from {ami}")
        chosen = found[0]
    for key, value in (spec.tag or {}).items():
        have = chosen["Tags"].get(key)
        if have is None or (value != "*" and have != value):
            problems.append(f"tag {key} is {have!r}, not {value!r}")
    if spec.tag:
        expected += " tagged " + ", ".join(f"{k}={v}" for k, v in spec.tag.items())
    return Verdict(not problems, expected, actual, "; ".join(problems))
