"""The one phase model: the phases of a boot, and the timeline of an instance from its marks.

Everything that shows or stores phases reads them from here: the measure step
(what ``state.json`` keeps), the comparison and the report, the live bars of the
TUI and replay (``present.view``). So the live bars, the report and a replay
agree on a role's phases because they are computed by the same function.

The first four phases are ec2-boot-bench's (RunInstances call, pending ->
running, running -> network up, network up -> SSH open) so our figures read
against its published ones; the next two are the lab's own (cloud-init, then
the role answering its health check).

Observations come late, not early: ``running`` is seen by a DescribeInstances
poll that may tick after port 22 already refused us. So each boundary is the
earliest time *any later mark* proves the state was reached:
``boundary[i] = min(mark[i], mark[i+1], ..., end)``, floored at the start.
That keeps every phase non-negative and makes phases sum to the ready time,
whatever order the observations arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from stemcell.timing.marks import (
    CLOUD_INIT_DONE,
    HTTP_HEALTHY,
    LB_HEALTHY,
    MARKS,
    RUN_INSTANCES_RETURNED,
    RUN_INSTANCES_SENT,
    RUNNING,
    SSH_ACCEPTING,
    TCP_REFUSED,
)


@dataclass(frozen=True)
class PhaseSpec:
    """One phase of a boot: stored under ``key``, shown as ``name`` (short) or ``label``."""

    key: str  # in state.json, comparisons, reports (JSON keys: do not rename)
    name: str  # the short name on the live bars and in replay text
    label: str  # the long label in reports and conclusions
    end_mark: str  # the phase runs from the previous boundary to this mark
    ec2: bool  # EC2's own start-up (before the guest's work begins)


PHASES: tuple[PhaseSpec, ...] = (
    PhaseSpec("api", "api", "RunInstances call", RUN_INSTANCES_RETURNED, True),
    PhaseSpec("pending", "pending", "pending -> running", RUNNING, True),
    PhaseSpec("network", "network", "running -> network up", TCP_REFUSED, True),
    PhaseSpec("sshd", "sshd", "network up -> SSH accepting", SSH_ACCEPTING, True),
    PhaseSpec("cloud_init", "cloud-init", "SSH -> cloud-init done", CLOUD_INIT_DONE, False),
    PhaseSpec("app", "app", "cloud-init -> HTTP healthy", HTTP_HEALTHY, False),
)
PHASE_KEYS: tuple[str, ...] = tuple(p.key for p in PHASES)
EC2_PHASE_KEYS: tuple[str, ...] = tuple(p.key for p in PHASES if p.ec2)
_BY_KEY = {p.key: p for p in PHASES}


def phase(key: str) -> PhaseSpec:
    """The phase stored under ``key`` (KeyError for a key this stemcell does not know)."""
    return _BY_KEY[key]


@dataclass
class PhaseSpan:
    """One phase of one instance's boot, measured."""

    key: str
    label: str
    start: float
    end: float
    seconds: float | None  # None: the end mark was never seen (time went to a later phase)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Timeline:
    phases: list[PhaseSpan]
    start: float | None
    end: float | None  # the last boundary reached (http_healthy when ready)
    ready_s: float | None  # RunInstances sent -> HTTP healthy; None if never healthy
    total_s: float  # start -> last boundary reached; equals the sum of the phases
    lb_s: float | None  # HTTP healthy -> load-balancer target healthy

    def seconds(self) -> dict[str, float | None]:
        """Phase key -> seconds, in phase order (None: the phase's end was never seen)."""
        return {p.key: p.seconds for p in self.phases}

    @property
    def healthy(self) -> bool:
        return self.ready_s is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "phases": [p.to_dict() for p in self.phases],
            "start": self.start,
            "end": self.end,
            "ready_s": self.ready_s,
            "total_s": self.total_s,
            "lb_s": self.lb_s,
        }


def timeline(marks: Mapping[str, float]) -> Timeline:
    """Phases of one instance's boot from its marks (any subset, any order)."""
    start = marks.get(RUN_INSTANCES_SENT)
    if start is None:
        # Without the launch time there is nothing to measure from.
        return Timeline([], None, None, None, 0.0, None)
    present = [(name, float(marks[name])) for name in MARKS[1:] if name in marks]
    if not present:
        return Timeline([], start, start, None, 0.0, None)
    # Walk back from the last mark seen: a later state proves every earlier one.
    bound: dict[str, float] = {}
    earliest = float("inf")
    for name, at in reversed(present):
        earliest = min(earliest, at)
        bound[name] = max(start, earliest)
    phases: list[PhaseSpan] = []
    previous = start
    last_present = present[-1][0]
    for spec in PHASES:
        if spec.end_mark in bound:
            end = bound[spec.end_mark]
            phases.append(PhaseSpan(spec.key, spec.label, previous, end, end - previous))
            previous = end
        else:
            phases.append(PhaseSpan(spec.key, spec.label, previous, previous, None))
        if spec.end_mark == last_present:
            break
    end = previous
    healthy = HTTP_HEALTHY in bound
    lb_s = None
    if healthy and LB_HEALTHY in marks:
        lb_s = max(0.0, float(marks[LB_HEALTHY]) - end)
    return Timeline(
        phases=phases,
        start=start,
        end=end,
        ready_s=(end - start) if healthy else None,
        total_s=end - start,
        lb_s=lb_s,
    )


@dataclass(frozen=True)
class RoleTimeline:
    """A role under one setup, over its instances: what one live bar shows."""

    role: str
    setup: str
    phases: dict[str, float]  # phase key -> mean seconds over the instances that reached it
    instances: int
    complete: bool  # every instance served its health check

    @property
    def total(self) -> float:
        return sum(self.phases.values())


def role_timeline(role: str, setup: str, marks: Iterable[Mapping[str, float]]) -> RoleTimeline:
    """Mean phase seconds over a role's instances, from their marks (the live bars).

    A phase whose end mark was not seen on an instance adds nothing for it: its
    time is in the next phase that was seen (``timeline``), so a bar's length is
    still the mean time to the last mark.
    """
    timelines = [timeline(m) for m in marks]
    sums: dict[str, float] = {}
    for tl in timelines:
        for key, seconds in tl.seconds().items():
            if seconds is not None:
                sums[key] = sums.get(key, 0.0) + seconds
    count = max(1, len(timelines))
    phases = {k: sums[k] / count for k in PHASE_KEYS if k in sums}
    complete = bool(timelines) and all(tl.healthy for tl in timelines)
    return RoleTimeline(role, setup, phases, len(timelines), complete)
