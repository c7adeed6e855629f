"""command: a read-only command's exit status and output."""

from __future__ import annotations

from stemcell.checks.kinds.base import Verdict
from stemcell.checks.probe import Probe
from stemcell.content.models import CheckSpec


def check(spec: CheckSpec, probe: Probe) -> Verdict:
    want_status = 0 if spec.exit_status is None else spec.exit_status
    result = probe.sh(spec.command or "")
    expected = [f"exit status {want_status}"]
    actual = [f"exit status {result.exit_status}"]
    problems = []
    if result.exit_status != want_status:
        problems.append(f"exited {result.exit_status}")
    if spec.stdout_contains is not None:
        expected.append(f"output contains {spec.stdout_contains!r}")
        found = spec.stdout_contains in result.stdout
        actual.append("output contains it" if found else "output does not contain it")
        if not found:
            problems.append(f"output lacks {spec.stdout_contains!r}")
    return Verdict(not problems, ", ".join(expected), ", ".join(actual), "; ".join(problems))
