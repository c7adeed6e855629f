"""What a lab run costs on AWS, estimated before anything is launched.

Prices are public on-demand list prices (Linux, shared tenancy) as published on
https://aws.amazon.com/ec2/pricing/on-demand/, https://aws.amazon.com/ebs/pricing/,
https://aws.amazon.com/elasticloadbalancing/pricing/ and
https://aws.amazon.com/vpc/pricing/ (public IPv4), read on ``PRICES_AS_OF``.
They change rarely but they do change: the estimate says where it comes from.
A Region without prices on file is not priced at all ("no price for REGION"):
guessing with us-east-1's would understate it.

Free tier: accounts created before 15 July 2025 may still have the legacy
12-month offer (750 h a month of t2.micro, or t3.micro where t2 is not offered;
t4g.micro is not part of it); accounts created since then get credits instead
(the Free plan, up to six months) and every hour is drawn from them ("AWS Free
Tier", https://aws.amazon.com/free/, and "Tracking your Free Tier usage", AWS
Billing User Guide). Either way the list price below is what the usage is worth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from stemcell.cloud.ec2 import ALLOWED_TYPES
from stemcell.engine.errors import ConfigError, Interrupted

if TYPE_CHECKING:
    from stemcell.content.models import StepSpec

PRICES_AS_OF = "2024-11-01"
HOURS_PER_MONTH = 730.0

# USD per hour, on-demand Linux.
INSTANCE_HOURLY: dict[str, dict[str, float]] = {
    "us-east-1": {"t2.micro": 0.0116, "t3.micro": 0.0104, "t4g.micro": 0.0084},
    "us-east-2": {"t2.micro": 0.0116, "t3.micro": 0.0104, "t4g.micro": 0.0084},
    "us-west-2": {"t2.micro": 0.0116, "t3.micro": 0.0104, "t4g.micro": 0.0084},
    "eu-west-1": {"t2.micro": 0.0126, "t3.micro": 0.0114, "t4g.micro": 0.0092},
    "eu-central-1": {"t2.micro": 0.0134, "t3.micro": 0.0120, "t4g.micro": 0.0096},
}
# USD per GB-month.
GP3_GB_MONTH = {"us-east-1": 0.08, "us-east-2": 0.08, "us-west-2": 0.08,
                "eu-west-1": 0.088, "eu-central-1": 0.0952}
SNAPSHOT_GB_MONTH = {"us-east-1": 0.05, "us-east-2": 0.05, "us-west-2": 0.05,
                     "eu-west-1": 0.05, "eu-central-1": 0.054}
ALB_HOURLY = {"us-east-1": 0.0225, "us-east-2": 0.0225, "us-west-2": 0.0225,
              "eu-west-1": 0.0252, "eu-central-1": 0.027}
# USD per Load Balancer Capacity Unit-hour; an ALB bills at least the LCUs it uses,
# and its health checks alone use a fraction of one: one LCU-hour per hour is a ceiling.
ALB_LCU_HOURLY = {"us-east-1": 0.008, "us-east-2": 0.008, "us-west-2": 0.008,
                  "eu-west-1": 0.008, "eu-central-1": 0.008}
ALB_LCUS = 1.0
PUBLIC_IPV4_HOURLY = 0.005  # every region, per in-use public address (since Feb 2024)
# An internet-facing ALB holds one public IPv4 address per zone it is given.
ALB_ZONES = 2

ROOT_GB = 8
# How long a student typically keeps things around during the lab.
BUILDER_HOURS = 0.5
ROLE_HOURS = 1.0
LB_HOURS = 1.0
IMAGE_HOURS = 2.0


@dataclass
class Estimate:
    usd: float
    region: str
    as_of: str = PRICES_AS_OF
    lines: list[str] = field(default_factory=list)
    priced_region: str = ""

    @property
    def priced(self) -> bool:
        return bool(self.priced_region)

    def text(self) -> str:
        if not self.priced:
            head = (f"no price for {self.region}: stemcell has list prices only for "
                    f"{', '.join(sorted(INSTANCE_HOURLY))}; see "
                    "https://aws.amazon.com/ec2/pricing/on-demand/ for this Region")
        else:
            head = f"Estimated AWS cost of this lab run: ${self.usd:.2f} " \
                   f"(list prices for {self.priced_region} as of {self.as_of})"
        return "\n".join([head, *(f"  {line}" for line in self.lines)])


def choose_instance_type(requested: str | None, profile_default: str, architecture: str) -> str:
    """The run's type: must be on the allowlist and match the image architecture."""
    itype = requested or profile_default
    if itype not in ALLOWED_TYPES:
        allowed = ", ".join(sorted(ALLOWED_TYPES))
        raise ConfigError(f"instance type {itype!r} is not allowed (allowed: {allowed})",
                          hint="The allowlist keeps the lab on the smallest, cheapest types.")
    if ALLOWED_TYPES[itype] != architecture:
        fits = [t for t, a in ALLOWED_TYPES.items() if a == architecture]
        raise ConfigError(
            f"instance type {itype} runs {ALLOWED_TYPES[itype]} but the profile's image is "
            f"{architecture}", hint=f"Use one of: {', '.join(sorted(fits))}.")
    return itype


def alternatives(itype: str) -> list[str]:
    arch = ALLOWED_TYPES.get(itype, "x86_64")
    return sorted(t for t, a in ALLOWED_TYPES.items() if a == arch and t != itype)


class PricedLab(Protocol):
    """Of a lab, what the estimate reads (a ``Lab``, or the TA's one-server quote)."""

    @property
    def steps(self) -> Sequence[StepSpec]: ...


class PricedImage(Protocol):
    @property
    def architecture(self) -> str: ...


class PricedProfile(Protocol):
    """Of a profile, what the estimate reads (a ``Profile``)."""

    @property
    def instance_type(self) -> str: ...

    @property
    def base_image(self) -> PricedImage: ...


class PricedConfig(Protocol):
    """Of a run's config, what the estimate and the confirmation read (a ``RunConfig``)."""

    @property
    def backend(self) -> str: ...

    @property
    def region(self) -> str: ...

    @property
    def instance_type(self) -> str | None: ...

    @property
    def yes(self) -> bool: ...

    @property
    def repeat(self) -> int: ...


def count_instances(lab: PricedLab, repeat: int = 1) -> tuple[int, bool]:
    """(role instances the lab launches, whether it makes a load balancer)."""
    roles = 0
    lb = False
    for step in lab.steps:
        if step.kind == "launch_roles":
            from stemcell.content.models import LaunchRolesParams  # pydantic: when asked

            params = step.typed_params(LaunchRolesParams)
            roles += len(params.roles) * params.count * max(1, repeat)
        elif step.kind == "load_balancer":
            lb = True
    return roles, lb


def estimate(lab: PricedLab, profile: PricedProfile, config: PricedConfig) -> Estimate:
    region = config.region
    itype = choose_instance_type(config.instance_type, profile.instance_type,
                                 profile.base_image.architecture)
    roles, lb = count_instances(lab, config.repeat)
    builder = any(s.kind == "launch_builder" for s in lab.steps)
    instance_hours = (BUILDER_HOURS if builder else 0.0) + roles * ROLE_HOURS
    usage = (f"{itype} x {instance_hours:g} instance-hours"
             + (f", an application load balancer for {LB_HOURS:g} h" if lb else ""))
    if region not in INSTANCE_HOURLY:
        return Estimate(usd=0.0, region=region, lines=[f"usage: {usage}"], priced_region="")
    hourly = INSTANCE_HOURLY[region][itype]
    lines: list[str] = []
    total = 0.0

    def add(label: str, usd: float) -> None:
        nonlocal total
        total += usd
        lines.append(f"{label}: ${usd:.4f}")

    add(f"{itype} x {instance_hours:g} instance-hours at ${hourly}/h", instance_hours * hourly)
    add(f"public IPv4 x {instance_hours:g} h at ${PUBLIC_IPV4_HOURLY}/h",
        instance_hours * PUBLIC_IPV4_HOURLY)
    gb_month = ROOT_GB * instance_hours / HOURS_PER_MONTH
    add(f"gp3 root volumes {ROOT_GB} GB x {instance_hours:g} h at ${GP3_GB_MONTH[region]}"
        "/GB-month", gb_month * GP3_GB_MONTH[region])
    snap = ROOT_GB * IMAGE_HOURS / HOURS_PER_MONTH
    add(f"AMI snapshot {ROOT_GB} GB x {IMAGE_HOURS:g} h at ${SNAPSHOT_GB_MONTH[region]}"
        "/GB-month", snap * SNAPSHOT_GB_MONTH[region])
    if lb:
        add(f"application load balancer x {LB_HOURS:g} h at ${ALB_HOURLY[region]}/h",
            LB_HOURS * ALB_HOURLY[region])
        add(f"load balancer capacity units: at most {ALB_LCUS:g} LCU x {LB_HOURS:g} h at "
            f"${ALB_LCU_HOURLY[region]}/LCU-h", ALB_LCUS * LB_HOURS * ALB_LCU_HOURLY[region])
        add(f"load balancer public IPv4 x {ALB_ZONES} zones x {LB_HOURS:g} h at "
            f"${PUBLIC_IPV4_HOURLY}/h", ALB_ZONES * LB_HOURS * PUBLIC_IPV4_HOURLY)
    lines.append(f"assumes the builder lives {BUILDER_HOURS:g} h and the {roles} role "
                 f"servers {ROLE_HOURS:g} h; S3 and API requests cost fractions of a cent")
    lines.append("free tier: accounts from before 15 July 2025 may have 750 free t2/t3.micro "
                 "hours a month (not t4g); newer accounts pay this from their credits")
    return Estimate(usd=round(total, 4), region=region, lines=lines, priced_region=region)


def confirm_launch(lab: PricedLab, profile: PricedProfile, config: PricedConfig,
                   confirm: Callable[[str], bool] | None) -> Estimate:
    """Before a run on AWS: show the estimate and ask (unless --yes).

    Raises ``Interrupted`` if the student says no and ``ConfigError`` if nobody can
    be asked (a non-interactive run without --yes).
    """
    est = estimate(lab, profile, config)
    if config.backend != "aws" or config.yes:
        return est
    if confirm is None:
        cost = f"about ${est.usd:.2f}" if est.priced else f"no price for {est.region}"
        raise ConfigError(
            f"this run launches real AWS resources ({cost}) and there is no "
            "one to confirm it: pass --yes to accept", hint=est.text())
    if not confirm(est.text() + "\nLaunch these resources on your AWS account?"):
        raise Interrupted("not confirmed: nothing was launched")
    return est
