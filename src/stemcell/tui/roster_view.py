"""A class roster, checked live: one row per student, filled in as hosts finish.

`stemcell check --roster FILE --tui` opens this. The checking itself is the
same `checks.run_roster` the headless command uses, in a thread worker; its
callbacks hop to the UI thread. Failures are listed below with their hints so
a TA can read what to tell each student.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static

from stemcell.checks.check_runner import CheckOptions, run_roster
from stemcell.checks.model import HostReport, Report, Status
from stemcell.checks.targets import HostSpec


class RosterApp(App[Report]):
    CSS = """
    #roster-hosts { height: 1fr; }
    #roster-failures { height: 1fr; }
    #roster-note { height: auto; padding: 0 1; }
    ProgressBar { padding: 0 1; }
    """
    TITLE = "stemcell · class roster"
    BINDINGS = [Binding("q", "quit", "Quit (stops checking)")]

    def __init__(self, hosts: Sequence[HostSpec], plan: Callable[[HostSpec], Any],
                 options: CheckOptions, *, jobs: int = 20, source: str = "") -> None:
        super().__init__()
        self.hosts = list(hosts)
        self.plan = plan
        self.options = options
        self.jobs = jobs
        self.source = source
        self.report: Report | None = None
        self.finished = 0
        self._started: dict[int, float] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical():
            yield Static(f"Checking {len(self.hosts)} server(s)"
                         + (f" from {self.source}" if self.source else "")
                         + f", {self.jobs} at a time", id="roster-note")
            yield ProgressBar(total=len(self.hosts), show_eta=False, id="roster-progress")
            yield DataTable(id="roster-hosts", cursor_type="row")
            yield DataTable(id="roster-failures", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        hosts = self.query_one("#roster-hosts", DataTable)
        for col in ("student", "host", "state", "passed", "failed", "skipped", "time"):
            hosts.add_column(col, key=col)
        for n, spec in enumerate(self.hosts):
            # Text cells: a DataTable parses str cells as markup, and roster names and
            # hosts are the students' (``alice [/]`` would crash the table).
            hosts.add_row(Text(spec.label), Text(spec.host),
                          Text("queued", style="dim"), "", "", "", "", key=str(n))
        failures = self.query_one("#roster-failures", DataTable)
        for col in ("student", "check", "why", "hint"):
            failures.add_column(col, key=col)
        self._check()

    @work(thread=True, exclusive=True, group="roster")
    def _check(self) -> None:
        index = {id(spec): n for n, spec in enumerate(self.hosts)}

        def started(spec: HostSpec) -> None:
            self.call_from_thread(self._host_started, index[id(spec)])

        def finished(spec: HostSpec, report: HostReport) -> None:
            self.call_from_thread(self._host_finished, index[id(spec)], report)

        report = run_roster(self.hosts, self.plan, self.options, jobs=self.jobs,
                            on_host_started=started, on_host_finished=finished)
        self.call_from_thread(self._all_done, report)

    def _host_started(self, n: int) -> None:
        self._started[n] = time.monotonic()
        self.query_one("#roster-hosts", DataTable).update_cell(
            str(n), "state", Text("checking", style="yellow"))

    def _host_finished(self, n: int, report: HostReport) -> None:
        table = self.query_one("#roster-hosts", DataTable)
        if not report.reachable:
            state = Text(f"unreachable: {report.error}", style="#ff8700")
        elif report.ok:
            state = Text("all passed", style="green")
        else:
            state = Text(f"{report.count(Status.FAILED)} failed", style="bold red")
        table.update_cell(str(n), "state", state)
        table.update_cell(str(n), "passed", str(report.count(Status.PASSED)))
        table.update_cell(str(n), "failed", str(report.count(Status.FAILED)))
        table.update_cell(str(n), "skipped", str(report.count(Status.SKIPPED)))
        table.update_cell(str(n), "time", f"{report.seconds:.1f}s")
        failures = self.query_one("#roster-failures", DataTable)
        for result in report.results:
            if result.status is Status.FAILED:
                cause = result.cause
                failures.add_row(Text(report.name), Text(result.description),
                                 Text(cause.rationale if cause else ""),
                                 Text(cause.help if cause else ""))
        self.finished += 1
        self.query_one(ProgressBar).update(progress=self.finished)

    def _all_done(self, report: Report) -> None:
        self.report = report
        failed = sum(1 for h in report.hosts if not h.ok)
        note = (f"Done: {len(report.hosts)} server(s) in {report.seconds:.1f} s; "
                + ("all passed." if report.ok else f"{failed} need attention (listed below)."))
        self.query_one("#roster-note", Static).update(note)

    def action_quit(self) -> None:  # type: ignore[override]
        cancel = self.options.cancel
        if isinstance(cancel, threading.Event):
            cancel.set()
        self.exit(self.report)
