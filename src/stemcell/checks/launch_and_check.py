"""The classic pass-off: launch the student's image with their boot script,
check the server it becomes, terminate it, report.

The launch keeps every safe default of ``stemcell run`` (``cloud.run_instances``):
an allowlisted type that fits the image's architecture, IMDSv2 only, an encrypted
gp3 root, and tags at creation on the instance *and* its volume, including
``stemcell:run`` (a ``check-...`` id) so ``stemcell cleanup --all`` finds it if
this process dies; on AWS the cost is confirmed first (``pricing.confirm_launch``).
It is terminated in a ``finally`` whatever happened. SSH is retried until the
deadline (the server is booting), and ``cloud-init status --wait`` runs before
the checks so "the boot script finished" is judged on a finished boot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from stemcell.checks.check_runner import CheckOptions, run_checks, ssh_connector
from stemcell.checks.model import Report
from stemcell.checks.plan import PlannedCheck
from stemcell.checks.ssh_remote import HostUnreachable, Remote
from stemcell.checks.targets import HostSpec, Route
from stemcell.cloud.pricing import choose_instance_type, confirm_launch
from stemcell.cloud.run_instances import safe_launch_kwargs
from stemcell.cloud.tags import run_tags
from stemcell.engine.context import new_run_id
from stemcell.engine.errors import ConfigError, StemcellError
from stemcell.engine.ports import CloudApi

if TYPE_CHECKING:
    from stemcell.content.models import StepSpec

PURPOSE = "stemcell:purpose"
Say = Callable[[str], None]
Approve = Callable[[str], None]  # called with the checked instance type before launching


def _one_server() -> list[StepSpec]:
    """A one-step lab as ``pricing.estimate`` reads it: one server, no builder, no LB."""
    from stemcell.content.models import StepSpec

    return [StepSpec(id="ta-check", title="The server a TA's check launches",
                     kind="launch_roles", params={"setup": 2, "roles": ["ta-check"]})]


@dataclass(frozen=True)
class _Image:
    architecture: str


@dataclass(frozen=True)
class _QuoteProfile:
    instance_type: str
    base_image: _Image


@dataclass(frozen=True)
class _QuoteConfig:
    backend: str
    region: str
    instance_type: str
    yes: bool
    repeat: int = 1


@dataclass(frozen=True)
class _QuoteLab:
    steps: list[StepSpec] = field(default_factory=_one_server)


def confirm_cost(backend: str, region: str, yes: bool,
                 ask: Callable[[str], bool] | None) -> Approve:
    """The ``approve`` for ``launch_and_check``: run's cost confirmation, for one server.

    The policy is ``pricing.confirm_launch``'s (only on AWS; ``--yes`` skips it; no
    terminal and no ``--yes`` is a ConfigError; a "no" is Interrupted).
    """
    def approve(itype: str) -> None:
        from stemcell.cloud.ec2 import ALLOWED_TYPES

        profile = _QuoteProfile(itype, _Image(ALLOWED_TYPES.get(itype, "x86_64")))
        confirm_launch(_QuoteLab(), profile, _QuoteConfig(backend, region, itype, yes), ask)

    return approve


def launch_and_check(
    cloud: CloudApi,
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
    lab: str = "",
    approve: Approve | None = None,
) -> Report:
    """Launch ``ami`` with ``user_data``, run ``checks`` on it, terminate it.

    ``cloud`` is the EC2 adapter (``stemcell.cloud.ec2.Cloud``); ``host`` carries
    the user, key, role and account to check with (its ``host`` is filled in).
    """
    tell = say or (lambda _: None)
    started = time.monotonic()
    deadline = started + options.deadline
    ec2 = cloud.ec2
    image = _image(ec2, ami)
    # The run's allowlist, and the type must fit the image (an arm64 AMI on t3 fails).
    itype = choose_instance_type(instance_type, instance_type,
                                 str(image.get("Architecture") or "x86_64"))
    if approve is not None:
        approve(itype)
    check_id = f"check-{new_run_id()}"
    name = f"stemcell-{check_id}"
    tags = run_tags(check_id, lab or "ta-check", name=name)
    tags.append({"Key": PURPOSE, "Value": "ta-check"})
    params = safe_launch_kwargs(image, itype, tags)
    params["UserData"] = user_data
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


def _image(ec2: Any, ami: str) -> dict[str, Any]:
    try:
        images = ec2.describe_images(ImageIds=[ami]).get("Images", [])
    except Exception as exc:
        raise StemcellError(f"could not look up {ami}: {exc}",
                            hint="is the AMI id right, in this region, and shared with you?"
                            ) from exc
    if not images:
        raise ConfigError(f"no image {ami} in this region",
                          hint="is the AMI id right, in this region, and shared with you?")
    return dict(images[0])


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
