"""Setup #1 (base image, install at boot) against setup #2 (baked image, code drop).

Built from ``state.timings["instances"]`` alone, so the run summary, the TUI's
comparison pane and ``stemcell report`` all show the same numbers. Phase
durations are recomputed from the marks with ``phases.timeline`` (the same
function the measure step stores them with and the live bars draw with). The
result is typed (``timing.comparison``).
"""

from __future__ import annotations

from typing import Any

from stemcell.timing.comparison import (
    SETUPS,
    ComparisonResult,
    RoleRow,
    SetupBlock,
    Surge,
)
from stemcell.timing.conclusion import conclude
from stemcell.timing.phases import PHASES, timeline
from stemcell.timing.stats import Stats, summarize
from stemcell.timing.surge import Scenario, compare_setups

SETUP_NAMES = {"1": "setup #1 (base image, install at boot)",
               "2": "setup #2 (baked image, code drop)"}


def source_label(simulated: bool) -> str:
    if simulated:
        return "simulated in the sandbox (modeled seconds, not a measurement of AWS)"
    return "measured on AWS"


def setup_block(entries: list[tuple[str, dict[str, Any]]]) -> SetupBlock:
    timelines = [(iid, timeline(entry.get("marks", {}))) for iid, entry in entries]
    phases: dict[str, Stats | None] = {}
    for spec in PHASES:
        phases[spec.key] = summarize([tl.seconds().get(spec.key) for _, tl in timelines])
    stage_values: dict[str, list[float | None]] = {}
    for _, entry in entries:
        stages = (entry.get("cloud_init") or {}).get("stages", {})
        for name, stage in stages.items():
            stage_values.setdefault(name, []).append(stage.get("seconds"))
    return SetupBlock(
        n=len(entries),
        instances=[iid for iid, _ in entries],
        ready=summarize([tl.ready_s for _, tl in timelines]),
        phases=phases,
        bytes=summarize([entry.get("bytes_downloaded") for _, entry in entries]),
        cloud_init={name: summarize(vals) for name, vals in stage_values.items()},
        not_ready=[iid for iid, tl in timelines if tl.ready_s is None],
    )


def dominant_phase(one: SetupBlock, two: SetupBlock) -> str | None:
    """The phase whose medians differ most between the setups."""
    best, gap = None, 0.0
    for spec in PHASES:
        a, b = one.median(spec.key), two.median(spec.key)
        if a is None or b is None:
            continue
        if abs(a - b) > gap:
            best, gap = spec.key, abs(a - b)
    return best


def compare(
    instances: dict[str, dict[str, Any]],
    *,
    simulated: bool,
    roles: list[str] | None = None,
    scenario: Scenario | None = None,
    surge_role: str = "web",
) -> ComparisonResult:
    """The comparison (stored as ``timings["comparison"]`` in its ``to_dict()`` form)."""
    scenario = scenario or Scenario()
    grouped: dict[str, dict[str, list[tuple[str, dict[str, Any]]]]] = {}
    for iid, entry in instances.items():
        setup = str(entry.get("setup", ""))
        if setup not in SETUPS:
            continue  # the builder is not part of the comparison
        grouped.setdefault(str(entry.get("role", "")), {}).setdefault(setup, []).append(
            (iid, entry))
    order = [r for r in (roles or []) if r in grouped]
    order += sorted(r for r in grouped if r not in order)
    rows: list[RoleRow] = []
    for role in order:
        row = RoleRow(role, {s: setup_block(grouped[role][s])
                             for s in SETUPS if s in grouped[role]})
        if row.both:
            r1, r2 = row.ready("1"), row.ready("2")
            if r1 is not None and r2 is not None:
                row.saved_s = r1 - r2
                row.ratio = (r1 / r2) if r2 > 0 else None
            row.dominant_phase = dominant_phase(row.setups["1"], row.setups["2"])
        rows.append(row)
    result = ComparisonResult(simulated=simulated, source=source_label(simulated), roles=rows,
                              surge=surge_block(rows, scenario, surge_role))
    result.conclusion = conclude(result)
    return result


def surge_block(rows: list[RoleRow], scenario: Scenario, surge_role: str) -> Surge | None:
    """The surge model on the customer-facing role (else the first role measured)."""
    candidates = [r for r in rows if r.role == surge_role] + rows
    for row in candidates:
        ready = {s: row.ready(s) for s in row.setups}
        known = {s: r for s, r in ready.items() if r is not None}
        if len(known) == 2:
            results = compare_setups(scenario, known)
            return Surge(row.role, scenario, {s: results[s].rounded() for s in SETUPS})
    return None
