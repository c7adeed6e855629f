"""The terminal table: one row per check, the cause and hint under a failure."""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from stemcell.checks.model import CheckResult, HostReport, Report, Status

SYMBOL = {
    Status.PASSED: (":)", "green"),
    Status.FAILED: (":(", "red"),
    Status.SKIPPED: (":|", "yellow"),
    Status.UNREACHABLE: ("--", "magenta"),
    Status.ERROR: ("!!", "red"),
}


def host_table(host: HostReport, *, verbose: bool = False) -> Table:
    title = f"{host.name}" + (f" ({host.host})" if host.name != host.host else "")
    if host.address and host.address.split(":")[0] != host.host:
        title += f" via {host.address}"
    # A Text, not a str: a roster name like "alice [/]" is not Rich markup.
    table = Table(title=Text(title), title_justify="left", expand=False, show_lines=False)
    table.add_column("", width=2)
    table.add_column("check")
    table.add_column("result")
    for result in host.results:
        table.add_row(*_row(result, verbose))
    return table


def _row(result: CheckResult, verbose: bool) -> tuple[Text, Text, Text]:
    symbol, style = SYMBOL[result.status]
    what = Text(result.description)
    what.append(f"\n{result.check_id}", style="dim")
    detail = Text(result.status.value, style=style)
    cause = result.cause
    if result.status is Status.UNREACHABLE:
        cause = None  # the host's cause is printed once, above its table
    if cause is not None:
        detail.append(f"\n{cause.rationale}")
        if cause.expected or cause.actual:
            detail.append(f"\nexpected: {cause.expected}\nactual:   {cause.actual}", style="dim")
        if cause.help:
            detail.append(f"\nhint: {cause.help}", style="cyan")
    if verbose or result.status is Status.FAILED:
        for line in result.log[:12]:
            detail.append(f"\n  {line}", style="dim")
    return Text(symbol, style=style), what, detail


def summary_line(report: Report) -> str:
    parts = [f"{report.count(s)} {s.value}" for s in Status if report.count(s)]
    hosts = len(report.hosts)
    ok = sum(1 for h in report.hosts if h.ok)
    return f"{ok}/{hosts} host(s) all good; checks: {', '.join(parts) or 'none'}"


def render(report: Report, *, width: int = 110, verbose: bool = False) -> str:
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    parts: list[Table | Text] = []
    for host in report.hosts:
        if not host.reachable and host.error:
            parts.append(Text(f"{host.name}: unreachable: {host.error}", style="magenta"))
        parts.append(host_table(host, verbose=verbose))
    parts.append(Text(summary_line(report), style="bold"))
    console.print(Group(*parts))
    return console.export_text()


def print_report(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Straight to a (colour) console, for the CLI."""
    for host in report.hosts:
        if not host.reachable and host.error:
            console.print(Text(f"{host.name}: unreachable: {host.error}", style="magenta"))
        console.print(host_table(host, verbose=verbose))
    console.print(Text(summary_line(report), style="bold"))
