"""Check my servers: the lab's checks (the ones a TA runs) against this run's live servers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Log, Static

from stemcell.engine.statuses import ResourceStatus

if TYPE_CHECKING:  # the engine and the checks' types only for hints
    from stemcell.checks.model import CheckResult
    from stemcell.checks.targets import HostSpec
    from stemcell.engine.context import Context


STYLES = {"passed": "green", "failed": "bold red", "skipped": "yellow",
          "unreachable": "#ff8700", "error": "bold red"}


class CheckScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("k", "run_checks", "Run again")]

    def __init__(self, ctx: Context, step_id: str | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        # "Check this step": only the checks written beside that step (and what they
        # depend on); None checks everything the lab has.
        self.step_id = step_id
        self.busy = False
        self.results: list[tuple[str, CheckResult]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="checks"):
            what = (f"the checks of step [b]{self.step_id}[/b]" if self.step_id
                    else "the lab's checks")
            yield Static(f"[b]Check my servers[/b]: {what}, as a TA would run them, "
                         "against this run's live servers.", id="checks-title")
            yield DataTable(id="checks-table", cursor_type="row")
            yield Log(id="checks-log", max_lines=500)
            yield Static(id="checks-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back", id="back")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("status", "server", "check", "why"):  # status first: what is scanned
            table.add_column(col, key=col)
        self.action_run_checks()

    def action_run_checks(self) -> None:
        if self.busy:
            return
        self.busy = True
        self.results.clear()
        self.query_one(DataTable).clear()
        self.query_one("#checks-note", Static).update("checking…")
        self._run()

    @work(thread=True, exclusive=True, group="checks")
    def _run(self) -> None:
        try:
            from stemcell.checks.check_runner import run_checks
            from stemcell.checks.plan import select
            from stemcell.checks.student import run_hosts, run_options

            ctx = self.ctx
            steps = [self.step_id] if self.step_id else []
            checks = select(ctx.lab, steps)
            hosts = [h for h in self._hosts(run_hosts) if self._alive(h.host)]
            # Each server gets the checks for its role (a worker has no web page).
            plans = [(h, select(ctx.lab, steps, role=h.role)) for h in hosts]
            plans = [(h, p) for h, p in plans if p]
            if not checks or not plans:
                why = ("this step has no checks" if self.step_id else
                       "this lab has no checks") if not checks else (
                    "none of this run's servers is running. Checks need live servers: turn "
                    "on step mode (n) and check right after the step.")
                self.app.call_from_thread(self._finished, f"Nothing to check: {why}")
                return
            options = run_options(ctx)
            for host, planned in plans:
                label = f"{host.role} {host.host}" if host.role else host.host

                def heard(result: CheckResult, label: str = label) -> None:
                    self.app.call_from_thread(self._add, label, result)

                run_checks(planned, host, options, on_result=heard)
            self.app.call_from_thread(self._finished, "")
        except Exception as exc:  # never a traceback: say what happened
            self.app.call_from_thread(self._finished, f"Checks could not run: {exc}")

    def _hosts(self, run_hosts: Callable[..., list[HostSpec]]) -> list[HostSpec]:
        """Setup #2 servers, and the builder while it lives (its steps' checks)."""
        from pathlib import Path

        from stemcell.checks.targets import HostSpec

        bag = self.ctx.state.bag
        hosts = list(run_hosts(self.ctx.state, setup="2"))
        builder = bag.get("builder_id")
        # Only for one step's checks: the whole lab's include ones a builder cannot pass
        # (it was not launched from the image it is about to become).
        if builder and self.step_id:
            key = bag.get("key_path")
            hosts.insert(0, HostSpec(host=str(builder), name=f"builder ({builder})",
                                     key=Path(key) if key else None, role="builder"))
        return hosts

    def _alive(self, instance_id: str) -> bool:
        res = self.ctx.state.find("instance", instance_id)
        return res is not None and res.state == ResourceStatus.LIVE

    def _add(self, host: str, result: CheckResult) -> None:
        status = str(getattr(result.status, "value", result.status))
        why = result.cause.rationale if result.cause else ""
        self.results.append((host, result))
        self.query_one(DataTable).add_row(Text(status, style=STYLES.get(status, "")), host,
                                          result.description, why)
        log = self.query_one(Log)
        log.write_line(f"[{status}] {host}: {result.description}")
        log.write_lines([f"    {line}" for line in result.log[:20]])

    def _finished(self, note: str) -> None:
        self.busy = False
        if not note:
            counts: dict[str, int] = {}
            for _, r in self.results:
                key = str(getattr(r.status, "value", r.status))
                counts[key] = counts.get(key, 0) + 1
            note = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no results"
        self.query_one("#checks-note", Static).update(note)

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        self.dismiss(None)
