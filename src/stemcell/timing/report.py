"""The boot-time report of one run, as Markdown, JSON, CSV or self-contained HTML.

Everything comes from the run's ``state.json`` timings, the same source as the
run summary (``stemcell run --json``) and the TUI's comparison pane, so the
numbers agree wherever they are read. ``build`` gives the report's JSON data;
the other formats read its comparison back as types (``timing.comparison``) and
its phases from ``timing.phases``.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from stemcell.engine.state import RunState
from stemcell.timing.compare import SETUP_NAMES, compare
from stemcell.timing.comparison import ComparisonResult, Surge
from stemcell.timing.conclusion import seconds
from stemcell.timing.downloads import human_bytes
from stemcell.timing.marks import ALL_MARKS, offsets
from stemcell.timing.phases import PHASES, timeline
from stemcell.timing.stats import Stats
from stemcell.timing.surge import Scenario

FORMATS = ("md", "json", "csv", "html")
REPORT_VERSION = 1


def build(state: RunState, scenario: Scenario | None = None) -> dict[str, Any]:
    """The report's data. A ``scenario`` re-runs the surge model with other assumptions."""
    timings = state.timings
    instances: dict[str, dict[str, Any]] = timings.get("instances", {})
    stored = ComparisonResult.stored_in(timings)
    simulated = stored.simulated if stored is not None else (
        state.config.get("backend", "sandbox") != "aws")
    if stored is not None and scenario is None:
        comparison = stored
    else:
        roles = [r.role for r in stored.roles] if stored is not None else None
        surge_role = stored.surge.role if stored is not None and stored.surge else "web"
        comparison = compare(instances, simulated=simulated, roles=roles,
                             scenario=scenario, surge_role=surge_role)
    rows = []
    for iid, entry in sorted(instances.items(),
                             key=lambda kv: (str(kv[1].get("setup")), str(kv[1].get("role")),
                                             kv[1].get("marks", {}).get("run_instances_sent", 0),
                                             kv[0])):
        tl = timeline(entry.get("marks", {}))
        rows.append({
            "instance_id": iid,
            "role": entry.get("role", ""),
            "setup": str(entry.get("setup", "")),
            "image_id": entry.get("image_id", ""),
            "marks": entry.get("marks", {}),
            "offsets": offsets(entry.get("marks", {})),
            "phases": tl.seconds(),
            "ready_s": tl.ready_s,
            "lb_s": tl.lb_s,
            "bytes_downloaded": entry.get("bytes_downloaded"),
            "cloud_init": entry.get("cloud_init"),
            "error": entry.get("error", ""),
            "notes": notes(entry),
        })
    return {
        "format": "stemcell-boot-report",
        "version": REPORT_VERSION,
        "run_id": state.run_id,
        "status": state.status,
        "lab": state.config.get("lab", ""),
        "profile": state.config.get("profile", ""),
        "backend": state.config.get("backend", ""),
        "region": state.config.get("region", ""),
        "simulated": simulated,
        "source": comparison.source,
        "instances": rows,
        "comparison": comparison.to_dict(),
        # Hands-on runs: who did each step and how long the student took (for the TA).
        "hands_on": bool(state.config.get("hands_on")),
        "steps": [{"id": sid, "status": rec.status, "by": rec.by, "seconds": rec.seconds}
                  for sid, rec in state.steps.items()] if state.config.get("hands_on") else [],
    }


def notes(entry: dict[str, Any]) -> list[str]:
    """What a reader should know before trusting an instance's marks."""
    out = []
    seen = entry.get("measure") or {}
    if seen.get("ssh_first_look"):
        out.append("SSH already up at the first knock (SSH marks are upper bounds)")
    if seen.get("http_first_look"):
        out.append("healthy at the first probe (ready time taken from cloud-init's finish)")
    if seen.get("from_guest"):
        out.append("from the guest's cloud-init log: " + ", ".join(sorted(seen["from_guest"])))
    offset = ((entry.get("cloud_init") or {}).get("clock_offset") or {})
    if offset.get("significant"):
        out.append(f"guest clock off by {offset['seconds']:+.1f} s "
                   f"(±{offset['uncertainty']:.1f} s), corrected")
    boots = (entry.get("cloud_init") or {}).get("boots_seen", 0)
    if boots > 1:
        out.append(f"{boots} boots in the log; the last one is measured")
    if entry.get("error"):
        out.append(f"error: {entry['error']}")
    return out


def render(report: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, sort_keys=True) + "\n"
    if fmt == "md":
        return to_markdown(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report)
    raise ValueError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


# --- shared helpers ---------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _stat(entry: Stats | None) -> str:
    if entry is None:
        return "—"
    text = f"{entry.median:.1f}"
    if entry.n > 1:
        text += f" ({entry.low:.1f}–{entry.high:.1f}, n={entry.n})"
    return text


def _bytes(entry: Stats | None) -> str:
    return "—" if entry is None else human_bytes(entry.median)


def _comparison(report: dict[str, Any]) -> ComparisonResult:
    return ComparisonResult.from_dict(report["comparison"])


def _headline(report: dict[str, Any]) -> str:
    kind = "SIMULATED" if report["simulated"] else "MEASURED"
    return f"{kind}: {report['source']}"


def comparison_rows(report: dict[str, Any]) -> list[list[str]]:
    """Header + one row per (role, phase) pair: the per-phase table."""
    table = [["role", "phase", "setup #1 (s)", "setup #2 (s)"]]
    for row in _comparison(report).roles:
        one = row.setups.get("1")
        two = row.setups.get("2")
        for spec in PHASES:
            table.append([row.role, spec.label,
                          _stat(one.phases.get(spec.key)) if one else "—",
                          _stat(two.phases.get(spec.key)) if two else "—"])
        table.append([row.role, "**ready (sent -> HTTP healthy)**",
                      _stat(one.ready) if one else "—", _stat(two.ready) if two else "—"])
        table.append([row.role, "downloaded at boot",
                      _bytes(one.bytes) if one else "—", _bytes(two.bytes) if two else "—"])
    return table


def surge_rows(report: dict[str, Any]) -> list[list[str]]:
    surge = _comparison(report).surge
    if surge is None:
        return []
    table = [["setup", "ready (s)", "on time", "late", "dropped", "longest wait (s)",
              "backlog gone after (s)"]]
    for setup in ("1", "2"):
        res = surge.results[setup]
        table.append([f"#{setup}", f"{res.ready_s:.1f}", f"{res.on_time:,.0f}",
                      f"{res.late:,.0f}", f"{res.dropped:,.0f}",
                      f"{res.max_wait_s:.1f}",
                      "never" if res.recovered_s is None else f"{res.recovered_s:.1f}"])
    return table


def _scenario_text(surge: Surge) -> str:
    sc = surge.scenario
    return (f"Role {surge.role}: demand jumps to {sc.rate:g} req/s; {sc.fleet} "
            f"servers of {sc.capacity:g} req/s are up, {sc.added} more are launched; "
            f"clients give up after {sc.timeout:g} s, a wait over "
            f"{sc.latency_budget:g} s is late. Counted over "
            f"{surge.results['1'].window_s:.0f} s. See docs/surge-model.md.")


# --- markdown -----------------------------------------------------------------------------


def _md_table(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def to_markdown(report: dict[str, Any]) -> str:
    comp = _comparison(report)
    parts = [
        f"# Boot times: run {report['run_id']}",
        "",
        f"**{_headline(report)}**  ",
        f"Lab `{report['lab']}`, profile `{report['profile']}`, backend `{report['backend']}` "
        f"({report['region']}), run status: {report['status']}.",
        "",
        "## Conclusion",
        "",
        *[f"- {line}" for line in comp.conclusion],
        "",
        "## Setup #1 vs setup #2 (median seconds; range when launched more than once)",
        "",
        f"- #1: {SETUP_NAMES['1']}",
        f"- #2: {SETUP_NAMES['2']}",
        "",
        _md_table(comparison_rows(report)),
        "",
    ]
    ratios = [f"{r.role}: {r.ratio:.1f}x" for r in comp.roles if r.ratio]
    if ratios:
        parts += [f"Ready-time ratio (#1 / #2): {', '.join(ratios)}.", ""]
    if comp.surge is not None:
        parts += ["## Surge model", "", _scenario_text(comp.surge), "",
                  _md_table(surge_rows(report)), ""]
    parts += ["## Timelines (seconds after RunInstances was sent)", ""]
    head = ["instance", "role", "setup", *[m for m in ALL_MARKS[1:]], "ready", "downloaded"]
    table = [head]
    for inst in report["instances"]:
        table.append([inst["instance_id"], inst["role"], inst["setup"],
                      *[_num(inst["offsets"].get(m)) for m in ALL_MARKS[1:]],
                      _num(inst["ready_s"]),
                      "—" if inst["bytes_downloaded"] is None
                      else human_bytes(inst["bytes_downloaded"])])
    parts += [_md_table(table), ""]
    flagged = [(i["instance_id"], n) for i in report["instances"] for n in i["notes"]]
    if flagged:
        parts += ["Notes:", "", *[f"- {iid}: {n}" for iid, n in flagged], ""]
    if report.get("steps"):
        rows = [["step", "status", "done by", "seconds"]]
        rows += [[st["id"], st["status"], {"student": "student", "stemcell": "stemcell (show "
                  "me or automatic)"}.get(st["by"], st["by"] or "—"), _num(st["seconds"])]
                 for st in report["steps"]]
        parts += ["## Hands-on: who did each step", "", _md_table(rows), ""]
    return "\n".join(parts)


# --- csv ------------------------------------------------------------------------------------


def to_csv(report: dict[str, Any]) -> str:
    """One tidy table: every number of the report on its own row."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["run_id", "simulated", "section", "role", "setup", "instance_id", "metric",
                  "value", "unit"])
    base = [report["run_id"], str(report["simulated"]).lower()]
    for inst in report["instances"]:
        ident = [inst["role"], inst["setup"], inst["instance_id"]]
        for mark, value in inst["offsets"].items():
            out.writerow([*base, "mark", *ident, mark, _csv(value), "s"])
        for key, value in inst["phases"].items():
            out.writerow([*base, "phase", *ident, key, _csv(value), "s"])
        out.writerow([*base, "instance", *ident, "ready", _csv(inst["ready_s"]), "s"])
        if inst["bytes_downloaded"] is not None:
            out.writerow([*base, "instance", *ident, "bytes_downloaded",
                          inst["bytes_downloaded"], "B"])
    comp = _comparison(report)
    for row in comp.roles:
        for setup, block in row.setups.items():
            ident = [row.role, setup, ""]
            for key, entry in [("ready", block.ready),
                               *[(f"phase:{k}", v) for k, v in block.phases.items()]]:
                if entry is not None:
                    for stat in ("median", "low", "high", "n"):
                        out.writerow([*base, "comparison", *ident, f"{key}:{stat}",
                                      _csv(getattr(entry, stat)), "" if stat == "n" else "s"])
            if block.bytes is not None:
                out.writerow([*base, "comparison", *ident, "bytes:median",
                              _csv(block.bytes.median), "B"])
        if row.ratio is not None:
            out.writerow([*base, "comparison", row.role, "", "", "ready_ratio",
                          _csv(row.ratio), "x"])
    if comp.surge is not None:
        for setup, res in comp.surge.results.items():
            for key in ("ready_s", "window_s", "arrived", "on_time", "late", "dropped",
                        "max_wait_s", "recovered_s", "shortfall_rps"):
                unit = "s" if key.endswith("_s") else ("req/s" if key.endswith("rps") else "req")
                out.writerow([*base, "surge", comp.surge.role, setup, "", key,
                              _csv(getattr(res, key)), unit])
    return buf.getvalue()


def _csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # full precision: CSV numbers must equal the JSON's
    return str(value)


# --- html -----------------------------------------------------------------------------------

_COLOURS = {"api": "#8e8e8e", "pending": "#5b8def", "network": "#36b3c9", "sshd": "#4cb36b",
            "cloud_init": "#e0a526", "app": "#d9534f"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:70rem;
color:#1d1d1f;padding:0 1rem}h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
.badge{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;font-weight:600}
.sim{background:#fff3cd;color:#6b4e00}.real{background:#d1e7dd;color:#0f5132}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;
text-align:right}td:first-child,th:first-child,td.l{text-align:left}
.legend span{display:inline-block;margin-right:1rem}.sw{width:.8rem;height:.8rem;
display:inline-block;margin-right:.3rem;vertical-align:middle}svg text{font-size:11px}
"""


def _html_table(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c.replace('**', ''))}</td>" for c in r) + "</tr>"
        for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _gantt(report: dict[str, Any]) -> str:
    """Every instance's phases as one bar each, on a shared time axis (inline SVG)."""
    bars = [i for i in report["instances"] if i["setup"] in ("1", "2") and i["offsets"]]
    if not bars:
        return "<p>No instance timelines.</p>"
    longest = max(max(i["offsets"].values(), default=0.0) for i in bars) or 1.0
    label_w, width, row_h = 190, 640, 22
    scale = width / longest
    height = row_h * len(bars) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + width + 20}" '
             f'height="{height}" role="img" aria-label="boot timelines">']
    for n, inst in enumerate(bars):
        y = n * row_h + 4
        name = f"{inst['role']} #{inst['setup']} {inst['instance_id']}"
        parts.append(f'<text x="0" y="{y + 13}">{html.escape(name[:30])}</text>')
        x = 0.0
        for spec in PHASES:
            dur = inst["phases"].get(spec.key)
            if dur is None:
                continue
            w = dur * scale
            parts.append(
                f'<rect x="{label_w + x:.1f}" y="{y}" width="{max(w, 0.0):.1f}" height="16" '
                f'fill="{_COLOURS[spec.key]}"><title>{html.escape(spec.label)}: {dur:.1f} s'
                f"</title></rect>")
            x += w
        if inst["ready_s"] is not None:
            parts.append(f'<text x="{label_w + x + 4:.1f}" y="{y + 13}">'
                         f"{seconds(inst['ready_s'])}</text>")
    axis_y = row_h * len(bars) + 20
    for tick in range(0, 6):
        t = longest * tick / 5
        parts.append(f'<text x="{label_w + t * scale:.1f}" y="{axis_y}">{t:.0f} s</text>')
    parts.append("</svg>")
    legend = "".join(
        f'<span><i class="sw" style="background:{_COLOURS[p.key]}"></i>'
        f"{html.escape(p.label)}</span>" for p in PHASES)
    return "".join(parts) + f'<p class="legend">{legend}</p>'


def to_html(report: dict[str, Any]) -> str:
    comp = _comparison(report)
    badge_class = "sim" if report["simulated"] else "real"
    body = [
        f"<h1>Boot times: run {html.escape(report['run_id'])}</h1>",
        f'<p><span class="badge {badge_class}">{html.escape(_headline(report))}</span></p>',
        f"<p>Lab <code>{html.escape(report['lab'])}</code>, profile "
        f"<code>{html.escape(report['profile'])}</code>, backend "
        f"<code>{html.escape(report['backend'])}</code> ({html.escape(report['region'])}), "
        f"run status: {html.escape(report['status'])}.</p>",
        "<h2>Conclusion</h2><ul>",
        *[f"<li>{html.escape(line)}</li>" for line in comp.conclusion],
        "</ul><h2>Timelines</h2>",
        _gantt(report),
        "<h2>Setup #1 vs setup #2</h2>",
        f"<p>#1: {html.escape(SETUP_NAMES['1'])}; #2: {html.escape(SETUP_NAMES['2'])}. "
        "Median seconds; range when launched more than once.</p>",
        _html_table(comparison_rows(report)),
    ]
    if comp.surge is not None:
        body += ["<h2>Surge model</h2>", f"<p>{html.escape(_scenario_text(comp.surge))}</p>",
                 _html_table(surge_rows(report))]
    table = [["instance", "role", "setup", *ALL_MARKS[1:], "ready", "downloaded"]]
    for inst in report["instances"]:
        table.append([inst["instance_id"], inst["role"], inst["setup"],
                      *[_num(inst["offsets"].get(m)) for m in ALL_MARKS[1:]],
                      _num(inst["ready_s"]),
                      "—" if inst["bytes_downloaded"] is None
                      else human_bytes(inst["bytes_downloaded"])])
    body += ["<h2>Marks (seconds after RunInstances was sent)</h2>", _html_table(table)]
    flagged = [(i["instance_id"], n) for i in report["instances"] for n in i["notes"]]
    if flagged:
        body += ["<ul>", *[f"<li>{html.escape(iid)}: {html.escape(n)}</li>"
                           for iid, n in flagged], "</ul>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>stemcell boot report {html.escape(report['run_id'])}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
