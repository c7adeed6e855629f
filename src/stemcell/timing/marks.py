"""Timing marks: the moments we observe an instance pass on its way to serving.

A mark is the modeled epoch second at which we *observed* something about an
instance. The phases between marks, and an instance's timeline, are computed
in one place: ``timing.phases``.
"""

from __future__ import annotations

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


def offsets(marks: dict[str, float]) -> dict[str, float]:
    """Each mark as seconds after RunInstances was sent (for timelines and reports)."""
    start = marks.get(RUN_INSTANCES_SENT)
    if start is None:
        return {}
    return {name: float(marks[name]) - start for name in ALL_MARKS if name in marks}
