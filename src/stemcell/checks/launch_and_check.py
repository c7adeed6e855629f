"""The classic pass-off: launch the student's image with their boot script,
check the server it becomes, terminate it, report.

The instance is tagged at birth (``stemcell:purpose=ta-check``) so a crash
here leaves something ``stemcell cleanup --all``-style searches can find, and
it is terminated in a ``finally`` whatever happened. SSH is retried until the
deadline (the server is booting), and ``cloud-init status --wait`` runs before
the checks so "the boot script finished" is judged on a finished boot.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from stemcell.checks.check_runner import CheckOptions, run_checks, ssh_connector
from stemcell.checks.model import Report
from stemcell.checks.plan import PlannedCheck
from stemcell.checks.ssh_remote import HostUnreachable, Remote
from stemcell.checks.targets import HostSpec, Route
from stemcell.engine.errors import ConfigError, StemcellError

PURPOSE = "stemcell:purpose"
Say = Callable[[str], None]


def launch_and_check(
    cloud: Any,
    ami: str,
    user_data: str,
    checks: Sequence[PlannedCheck],
    options: CheckOptions,
    *,
    host: HostSpec,
    instance_type: str = "t3.micro",
    security_group: str | None = None,
    subnet: str | None = None,
    poll: float = 1.0,
    say: Say | None = None,
) -> Report:
    """Launch ``ami`` with ``user_data``, run ``checks`` on it, terminate it.

    ``cloud`` is the EC2 adapter (``stemcell.cloud.ec2.Cloud``); ``host`` carries
    the user, key, role and account to check with (its ``host`` is filled in).
    """
    tell = say or (lambda _: None)
    started = time.monotonic()
    deadline = started + options.deadline
    ec2 = cloud.ec2
    name = f"stemcell-check-{uuid.uuid4().hex[:8]}"
    params: dict[str, Any] = {
        "ImageId": ami,
        "InstanceType": instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "UserData": user_data,
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "TagSpecifications": [
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Name", "Value": name}, {"Key": PURPOSE, "Value": "ta-check"}],
            },
        ],
    }
    if security_group:
        params["SecurityGroupIds"] = [security_group]
    if subnet:
        params["SubnetId"] = subnet
    try:
        instance = ec2.run_instances(**params)["Instances"][0]
    except Exception as exc:
        raise StemcellError(
            f"could not launch {ami}: {exc}",
            hint="is the AMI id right, in this region, and shared with you?",
        ) from exc
    iid = instance["InstanceId"]
    tell(f"launched {iid} from {ami}; waiting for it to run")
    try:
        address = _wait_running(ec2, iid, deadline, poll)
        tell(f"{iid} is running at {address or 'no public address'}; checking")
        target = replace(host, host=iid if options.dialer is not None else address, ami=ami)
        host_report = run_checks(checks, target, replace(options, connector=_after_boot(options)))
    finally:
        try:
            ec2.terminate_instances(InstanceIds=[iid])
            tell(f"terminated {iid}")
        except Exception as exc:  # say so loudly: it costs money until someone deletes it
            tell(f"could NOT terminate {iid}: {exc}; terminate it in the EC2 console")
    return Report(hosts=[host_report], seconds=time.monotonic() - started)


def _wait_running(ec2: Any, iid: str, deadline: float, poll: float) -> str:
    while True:
        reservations = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
        inst = reservations[0]["Instances"][0]
        state = inst["State"]["Name"]
        if state == "running":
            return str(inst.get("PublicIpAddress") or "")
        if state in ("shutting-down", "terminated", "stopping", "stopped"):
            reason = inst.get("StateReason", {}).get("Message", "")
            raise StemcellError(f"{iid} went {state} instead of running {reason}".strip())
        if time.monotonic() > deadline:
            raise StemcellError(f"{iid} was still {state} at the deadline", hint="raise --deadline")
        time.sleep(poll)


def _after_boot(options: CheckOptions) -> Callable[[HostSpec, Route, float], Remote]:
    """Connect as usual, then wait for cloud-init before any check runs (read-only)."""
    connect = options.connector or ssh_connector(options)

    def connect_and_wait(spec: HostSpec, where: Route, deadline: float) -> Remote:
        remote = connect(spec, where, deadline)
        try:
            remote.run("cloud-init status --wait", max(1.0, deadline - time.monotonic()))
        except HostUnreachable:
            remote.close()
            raise
        except Exception:  # judged by the boot-script check itself
            pass
        return remote

    return connect_and_wait


def require_security_group(backend: str, security_group: str | None) -> None:
    if backend == "aws" and not security_group:
        raise ConfigError(
            "--launch on AWS needs --security-group (one that lets you in on 22 and "
            "everyone on 80)",
            hint="use the security group the student's lab created, or one of yours",
        )
