"""service: active (running) and/or enabled (starts at boot), as systemd says."""

from __future__ import annotations

from stemcell.checks.kinds.base import Verdict, first_line, q
from stemcell.checks.probe import Probe
from stemcell.content.models import CheckSpec


def check(spec: CheckSpec, probe: Probe) -> Verdict:
    name = spec.name or ""
    # Saying nothing means "it should be running": the common case.
    want_active = spec.active if spec.active is not None or spec.enabled is not None else True
    expected: list[str] = []
    actual: list[str] = []
    problems: list[str] = []
    if want_active is not None:
        state = first_line(probe.sh(f"systemctl is-active {q(name)}").stdout) or "unknown"
        expected.append("active" if want_active else "not active")
        actual.append(state)
        if (state == "active") != want_active:
            problems.append(f"{name} is {state}")
    if spec.enabled is not None:
        state = first_line(probe.sh(f"systemctl is-enabled {q(name)}").stdout) or "unknown"
        expected.append("enabled" if spec.enabled else "not enabled")
        actual.append(state)
        if (state == "enabled") != spec.enabled:
            problems.append(f"{name} is {state} at boot")
    return Verdict(not problems, ", ".join(expected), ", ".join(actual), "; ".join(problems))
