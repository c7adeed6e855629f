"""Setup #1 (base image, install at boot) against setup #2 (baked image, code drop).

Built from ``state.timings["instances"]`` alone, so the run summary, the TUI's
comparison pane and ``stemcell report`` all show the same numbers. Phase
durations are recomputed from the marks with ``marks.timeline`` (the same
function the measure step stores them with).
"""

from __future__ import annotations

from typing import Any

from stemcell.timing.conclusion import conclude
from stemcell.timing.marks import PHASES, timeline
from stemcell.timing.stats import Stats, summarize
from stemcell.timing.surge import Scenario, compare_setups

SETUPS: tuple[str, str] = ("1", "2")
SETUP_NAMES = {"1": "setup #1 (base image, install at boot)",
               "2": "setup #2 (baked image, code drop)"}
COMPARISON_VERSION = 1


def _stats(values: list[float | None]) -> dict[str, Any] | None:
    found = summarize(values)
    return found.to_dict() if found is not None else None


def _median(entry: dict[str, Any] | None) -> float | None:
    return None if entry is None else float(entry["median"])


def source_label(simulated: bool) -> str:
    if simulated:
        return "simulated in the sandbox (modeled seconds, not a measurement of AWS)"
    return "measured on AWS"


def setup_block(entries: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    timelines = [(iid, timeline(entry.get("marks", {}))) for iid, entry in entries]
    phases: dict[str, dict[str, Any] | None] = {}
    for spec in PHASES:
        values: list[float | None] = []
        for _, tl in timelines:
            found = next((p for p in tl.phases if p.key == spec.key), None)
            values.append(found.seconds if found is not None else None)
        phases[spec.key] = _stats(values)
    stage_values: dict[str, list[float | None]] = {}
    for _, entry in entries:
        stages = (entry.get("cloud_init") or {}).get("stages", {})
        for name, stage in stages.items():
            stage_values.setdefault(name, []).append(stage.get("seconds"))
    return {
        "n": len(entries),
        "instances": [iid for iid, _ in entries],
        "ready": _stats([tl.ready_s for _, tl in timelines]),
        "phases": phases,
        "bytes": _stats([entry.get("bytes_downloaded") for _, entry in entries]),
        "cloud_init": {name: _stats(vals) for name, vals in stage_values.items()},
        "not_ready": [iid for iid, tl in timelines if tl.ready_s is None],
    }


def dominant_phase(one: dict[str, Any], two: dict[str, Any]) -> str | None:
    """The phase whose medians differ most between the setups."""
    best, gap = None, 0.0
    for spec in PHASES:
        a, b = _median(one["phases"].get(spec.key)), _median(two["phases"].get(spec.key))
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
) -> dict[str, Any]:
    """The comparison as plain JSON-ready data (stored in ``timings["comparison"]``)."""
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
    rows: list[dict[str, Any]] = []
    for role in order:
        setups = {s: setup_block(grouped[role][s]) for s in SETUPS if s in grouped[role]}
        row: dict[str, Any] = {"role": role, "setups": setups, "ratio": None,
                               "saved_s": None, "dominant_phase": None}
        if len(setups) == 2:
            r1, r2 = _median(setups["1"]["ready"]), _median(setups["2"]["ready"])
            if r1 is not None and r2 is not None:
                row["saved_s"] = r1 - r2
                row["ratio"] = (r1 / r2) if r2 > 0 else None
            row["dominant_phase"] = dominant_phase(setups["1"], setups["2"])
        rows.append(row)
    result: dict[str, Any] = {
        "version": COMPARISON_VERSION,
        "simulated": simulated,
        "source": source_label(simulated),
        "units": "seconds",
        "phases": [{"key": p.key, "label": p.label} for p in PHASES],
        "roles": rows,
        "surge": surge_block(rows, scenario, surge_role),
    }
    result["conclusion"] = conclude(result)
    return result


def surge_block(rows: list[dict[str, Any]], scenario: Scenario,
                surge_role: str) -> dict[str, Any] | None:
    """The surge model on the customer-facing role (else the first role measured)."""
    candidates = [r for r in rows if r["role"] == surge_role] + rows
    for row in candidates:
        ready = {s: _median(b["ready"]) for s, b in row["setups"].items()}
        known = {s: r for s, r in ready.items() if r is not None}
        if len(known) == 2:
            results = compare_setups(scenario, known)
            return {
                "role": row["role"],
                "scenario": scenario.to_dict(),
                "results": {s: results[s].to_dict() for s in SETUPS},
            }
    return None


def ready_stats(comparison: dict[str, Any], role: str, setup: str) -> Stats | None:
    for row in comparison.get("roles", []):
        if row["role"] == role and setup in row["setups"]:
            entry = row["setups"][setup]["ready"]
            if entry is not None:
                return Stats(entry["n"], entry["median"], entry["low"], entry["high"])
    return None
