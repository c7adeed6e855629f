"""Timing marks and the phases between them.

A mark is the modeled epoch second at which we *observed* something about an
instance. The first four phases are ec2-boot-bench's (RunInstances call,
pending -> running, running -> network up, network up -> SSH open) so our
figures read against its published ones; the next two are the lab's own
(cloud-init, then the role answering its health check).

Observations come late, not early: ``running`` is seen by a DescribeInstances
poll that may tick after port 22 already refused us. So each boundary is the
earliest time *any later mark* proves the state was reached:
``boundary[i] = min(mark[i], mark[i+1], ..., end)``, floored at the start.
That keeps every phase non-negative and makes phases sum to the ready time,
whatever order the observations arrived in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

RUN_INSTANCES_SENT = "run_instances_sent"
RUN_INSTANCES_RETURNED = "run_instances_returned"
RUNNING = "running"
TCP_REFUSED = "tcp_refused"
SSH_ACCEPTING = "ssh_accepting"
CLOUD_INIT_DONE = "cloud_init_done"
HTTP_HEALTHY = "http_healthy"
LB_HEALTHY = "lb_healthy"

# The boot's marks in the order the states are reached.
MARKS: tuple[str, ...] = (
    RUN_INSTANCES_SENT,
    RUN_INSTANCES_RETURNED,
    RUNNING,
    TCP_REFUSED,
    SSH_ACCEPTING,
    CLOUD_INIT_DONE,
    HTTP_HEALTHY,
)
ALL_MARKS: tuple[str, ...] = (*MARKS, LB_HEALTHY)


@dataclass(frozen=True)
class PhaseDef:
    key: str
    label: str
    end_mark: str  # the phase runs from the previous boundary to this mark


PHASES: tuple[PhaseDef, ...] = (
    PhaseDef("api", "RunInstances call", RUN_INSTANCES_RETURNED),
    PhaseDef("pending", "pending -> running", RUNNING),
    PhaseDef("network", "running -> network up", TCP_REFUSED),
    PhaseDef("sshd", "network up -> SSH accepting", SSH_ACCEPTING),
    PhaseDef("cloud_init", "SSH -> cloud-init done", CLOUD_INIT_DONE),
    PhaseDef("app", "cloud-init -> HTTP healthy", HTTP_HEALTHY),
)
PHASE_KEYS: tuple[str, ...] = tuple(p.key for p in PHASES)
PHASE_LABELS: dict[str, str] = {p.key: p.label for p in PHASES}


@dataclass
class Phase:
    key: str
    label: str
    start: float
    end: float
    seconds: float | None  # None: the end mark was never seen (time went to a later phase)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Timeline:
    phases: list[Phase]
    start: float | None
    end: float | None  # the last boundary reached (http_healthy when ready)
    ready_s: float | None  # RunInstances sent -> HTTP healthy; None if never healthy
    total_s: float  # start -> last boundary reached; equals the sum of the phases
    lb_s: float | None  # HTTP healthy -> load-balancer target healthy

    def to_dict(self) -> dict[str, Any]:
        return {
            "phases": [p.to_dict() for p in self.phases],
            "start": self.start,
            "end": self.end,
            "ready_s": self.ready_s,
            "total_s": self.total_s,
            "lb_s": self.lb_s,
        }


def timeline(marks: dict[str, float]) -> Timeline:
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
    phases: list[Phase] = []
    previous = start
    last_present = present[-1][0]
    for spec in PHASES:
        if spec.end_mark in bound:
            end = bound[spec.end_mark]
            phases.append(Phase(spec.key, spec.label, previous, end, end - previous))
            previous = end
        else:
            phases.append(Phase(spec.key, spec.label, previous, previous, None))
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


def offsets(marks: dict[str, float]) -> dict[str, float]:
    """Each mark as seconds after RunInstances was sent (for timelines and reports)."""
    start = marks.get(RUN_INSTANCES_SENT)
    if start is None:
        return {}
    return {name: float(marks[name]) - start for name in ALL_MARKS if name in marks}
