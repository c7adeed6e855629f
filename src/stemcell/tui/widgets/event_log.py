"""The API/event log: every event as a line, API call counts and the running cost."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Static

from stemcell.present.view import LOG_LINES, ViewModel


class EventLogPane(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="api-counts")
        yield Log(max_lines=LOG_LINES, id="event-log")

    def append(self, model: ViewModel, lines: list[str]) -> None:
        if lines:
            self.query_one("#event-log", Log).write_lines(lines[-LOG_LINES:])

    def rebuild(self, model: ViewModel) -> None:
        log = self.query_one("#event-log", Log)
        log.clear()
        log.write_lines(list(model.log))
        self.sync_counts(model)

    def sync_counts(self, model: ViewModel) -> None:
        if model.backend == "aws" or not model.simulated:
            cost = f"estimated cost so far ${model.cost_usd:.2f}"
        else:
            cost = "cost: $0.00 (sandbox: simulated, nothing is billed)"
        top = ", ".join(f"{op} {n}" for op, n in model.api_counts.most_common(3))
        self.query_one("#api-counts", Static).update(
            f"[b]API calls: {model.api_total}[/b] · {cost}\n[dim]{top or 'no calls yet'}[/dim]")
