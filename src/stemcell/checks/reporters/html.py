"""A self-contained HTML page (inline CSS, no scripts, no external assets)."""

from __future__ import annotations

from html import escape

from stemcell.checks.model import CheckResult, HostReport, Report, Status

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:70rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4rem .6rem;text-align:left;vertical-align:top}
.passed{color:#1a7f37}.failed,.error{color:#cf222e}.skipped{color:#9a6700}
.unreachable{color:#8250df}.hint{color:#0969da}.dim{color:#666}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;font-size:.85rem;margin:.3rem 0}
.summary span{margin-right:1rem}
"""


def render(report: Report) -> str:
    counts = "".join(
        f'<span class="{s.value}">{report.count(s)} {s.value}</span>'
        for s in Status
        if report.count(s)
    )
    hosts = "\n".join(_host(h) for h in report.hosts)
    title = f"stemcell checks{f' — {escape(report.lab)}' if report.lab else ''}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title><style>{_CSS}</style></head>
<body><h1>{title}</h1>
<p class="summary">{sum(1 for h in report.hosts if h.ok)}/{len(report.hosts)} host(s) all good.
{counts}</p>
{hosts}
</body></html>
"""


def _host(host: HostReport) -> str:
    head = escape(host.name) + (f" ({escape(host.host)})" if host.name != host.host else "")
    error = f'<p class="unreachable">unreachable: {escape(host.error)}</p>' if host.error else ""
    rows = "\n".join(_row(r) for r in host.results)
    return f"""<h2>{head}</h2>{error}
<table><thead><tr><th>result</th><th>check</th><th>details</th></tr></thead>
<tbody>{rows}</tbody></table>"""


def _row(result: CheckResult) -> str:
    status = result.status.value
    details = []
    cause = result.cause
    if cause is not None:
        details.append(f"<div>{escape(cause.rationale)}</div>")
        if cause.expected or cause.actual:
            details.append(
                f'<div class="dim">expected: {escape(cause.expected)}<br>'
                f"actual: {escape(cause.actual)}</div>"
            )
        if cause.help:
            details.append(f'<div class="hint">hint: {escape(cause.help)}</div>')
    if result.log:
        details.append(
            f"<details><summary>what was run</summary><pre>{escape(chr(10).join(result.log))}"
            "</pre></details>"
        )
    return (
        f'<tr><td class="{status}">{status}</td>'
        f"<td>{escape(result.description)}<br>"
        f"<span class='dim'>{escape(result.check_id)}</span></td>"
        f"<td>{''.join(details)}</td></tr>"
    )
