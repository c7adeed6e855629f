"""The comparison told in plain words, from its numbers only.

Every sentence is chosen by the figures (which setup was faster, where the time
went, whether anything was downloaded, what the surge cost) and quotes them, so
different numbers give a different story, including "setup #2 was not faster".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stemcell.timing.downloads import human_bytes
from stemcell.timing.phases import EC2_PHASE_KEYS, PHASE_KEYS, phase

if TYPE_CHECKING:
    from stemcell.timing.comparison import ComparisonResult, RoleRow, SetupBlock, Surge


def seconds(value: float) -> str:
    if abs(value) >= 120:
        return f"{value / 60:.1f} min"
    if abs(value) >= 10:
        return f"{value:.0f} s"
    return f"{value:.1f} s"


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _phase_sum(block: SetupBlock, keys: tuple[str, ...]) -> float | None:
    values = [block.median(k) for k in keys]
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _saved(row: RoleRow) -> float:
    return row.saved_s or 0.0


def conclude(comparison: ComparisonResult) -> list[str]:
    rows = [r for r in comparison.roles if r.saved_s is not None and len(r.setups) == 2]
    lines: list[str] = []
    if not rows:
        missing = [r.role for r in comparison.roles]
        lines.append(
            "Not enough data to compare: no role has a ready time for both setups"
            + (f" (measured: {_join(missing)})." if missing else ".")
        )
        lines.append(_source_sentence(comparison))
        return lines
    faster = [r for r in rows if _saved(r) > 0]
    slower = [r for r in rows if _saved(r) <= 0]
    if faster:
        parts = []
        for r in faster:
            one = r.ready("1") or 0.0
            two = r.ready("2") or 0.0
            ratio = f", {r.ratio:.1f}x sooner" if r.ratio else ""
            parts.append(f"{r.role} in {seconds(two)} instead of {seconds(one)}{ratio}")
        lines.append(
            "Launched from the baked image (setup #2), "
            + ("every role" if not slower else _join([r.role for r in faster]))
            + " served its health check sooner than when installing at boot (setup #1): "
            + "; ".join(parts) + "."
        )
    for r in slower:
        one = r.ready("1") or 0.0
        two = r.ready("2") or 0.0
        lines.append(
            f"For {r.role}, setup #2 was not faster: ready in {seconds(two)} against "
            f"{seconds(one)} for setup #1. Check that its boot script only drops in code."
        )
    lines.extend(_where_the_time_went(rows))
    lines.extend(_downloads(rows))
    surge = _surge(comparison.surge)
    if surge:
        lines.append(surge)
    spread = _spread(rows)
    if spread:
        lines.append(spread)
    lines.append(_source_sentence(comparison))
    return lines


def _where_the_time_went(rows: list[RoleRow]) -> list[str]:
    lines: list[str] = []
    biggest = max(rows, key=lambda r: abs(_saved(r)))
    key = biggest.dominant_phase
    if key:
        one = biggest.setups["1"].median(key) or 0.0
        two = biggest.setups["2"].median(key) or 0.0
        label = phase(key).label if key in PHASE_KEYS else key
        lines.append(
            f"The largest difference is in '{label}' for {biggest.role}: "
            f"{seconds(one)} (setup #1) against {seconds(two)} (setup #2)."
        )
    gaps = []
    for r in rows:
        a = _phase_sum(r.setups["1"], EC2_PHASE_KEYS)
        b = _phase_sum(r.setups["2"], EC2_PHASE_KEYS)
        if a is not None and b is not None:
            gaps.append((r, a, b))
    if gaps:
        total_saved = sum(abs(_saved(r)) for r, _, _ in gaps)
        ec2_gap = sum(abs(a - b) for _, a, b in gaps)
        a_all = sum(a for _, a, _ in gaps) / len(gaps)
        b_all = sum(b for _, _, b in gaps) / len(gaps)
        if total_saved > 0 and ec2_gap <= 0.2 * total_saved:
            lines.append(
                f"Until SSH answered, both setups took about as long ({seconds(a_all)} against "
                f"{seconds(b_all)} on average): the image does not make EC2 start the machine "
                "sooner, it removes the work done after the machine is up."
            )
        else:
            which = "setup #2" if b_all < a_all else "setup #1"
            lines.append(
                f"Even before SSH answered, {which} was quicker ({seconds(a_all)} for setup #1 "
                f"against {seconds(b_all)} for setup #2 on average), so part of the gap is in "
                "EC2's own start-up, not only in cloud-init."
            )
    return lines


def _downloads(rows: list[RoleRow]) -> list[str]:
    def median(block: SetupBlock) -> float | None:
        return None if block.bytes is None else block.bytes.median

    one = [median(r.setups["1"]) for r in rows]
    two = [median(r.setups["2"]) for r in rows]
    if all(v is None for v in one + two):
        return []
    b1 = sum(v for v in one if v is not None) / max(1, sum(v is not None for v in one))
    b2 = sum(v for v in two if v is not None) / max(1, sum(v is not None for v in two))
    if b1 > b2:
        return [f"At boot, setup #1 downloaded {human_bytes(b1)} per server on average "
                f"against {human_bytes(b2)} for setup #2: packages come from the mirror on "
                "every launch instead of once, into the image."]
    if b1 < b2:
        return [f"Setup #2 downloaded more at boot ({human_bytes(b2)} against "
                f"{human_bytes(b1)}): its boot script installs packages the image should hold."]
    return [f"Both setups downloaded {human_bytes(b1)} per server at boot."]


def _surge(surge: Surge | None) -> str:
    if surge is None:
        return ""
    sc = surge.scenario
    one, two = surge.results["1"], surge.results["2"]
    head = (f"In a surge to {sc.rate:.0f} requests/s on {sc.fleet} {surge.role} "
            f"servers of {sc.capacity:.0f} req/s each, adding {sc.added}")
    if one.affected < 0.5 and two.affected < 0.5:
        return head + ", no request is late or dropped with either setup: the existing fleet " \
            "has room for the surge."
    diff = one.affected - two.affected
    text = (f"{head}, setup #1 leaves {one.late:,.0f} requests late and drops "
            f"{one.dropped:,.0f}; setup #2 leaves {two.late:,.0f} late and drops "
            f"{two.dropped:,.0f}")
    if diff > 0.5:
        text += f": {diff:,.0f} more customers served on time thanks to the shorter boot."
    elif diff < -0.5:
        text += f": setup #2 does worse here, by {-diff:,.0f} requests."
    else:
        text += "."
    if one.shortfall_rps > 0:
        text += (f" Even with all {sc.fleet + sc.added} servers, "
                 f"{one.shortfall_rps:.0f} req/s remain unserved: add more instances.")
    return text


def _spread(rows: list[RoleRow]) -> str:
    worst = 0.0
    n = 0
    for r in rows:
        for block in r.setups.values():
            ready = block.ready
            if ready is not None and ready.n > 1:
                n = max(n, ready.n)
                worst = max(worst, ready.spread)
    if n <= 1:
        return ""
    return (f"Figures are medians of up to {n} launches per role and setup; ready times varied "
            f"by at most {seconds(worst)} between launches.")


def _source_sentence(comparison: ComparisonResult) -> str:
    if comparison.simulated:
        return ("These figures are simulated by the sandbox (modeled seconds); "
                "run with --backend aws to measure real instances.")
    return "These figures were measured on real EC2 instances."
