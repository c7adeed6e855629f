"""The headless view: plain, readable progress from the event stream.

The same events feed the TUI and the recorder; this prints them as lines. SSH
output is shown with ``--verbose`` (a bake prints hundreds of apt lines); by
default each step says how many lines it streamed.
"""

from __future__ import annotations

import threading
from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stemcell.engine import events as ev
from stemcell.engine.redact import StreamRedactor, redact

STATUS_STYLE = {
    "done": "green",
    "skipped": "yellow",
    "failed": "bold red",
    "interrupted": "bold yellow",
    "succeeded": "bold green",
}


CHECK_MARK = {"passed": "[green]✓[/]", "failed": "[red]✗[/]", "waiting": "[dim]…[/]"}


def who_did(by: str) -> str:
    """Hands-on runs: who did a step, in words (StepFinished.by)."""
    return {"student": "done by you", "stemcell": "done by stemcell"}.get(by, by)


class Printer:
    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self._lock = threading.Lock()
        self._ssh_lines: Counter[str] = Counter()
        self._step = ""
        self._index: dict[str, int] = {}
        self._total = 0
        self._states: dict[str, str] = {}
        self._simulated = False
        self._images: dict[str, tuple[str, str, int]] = {}
        # Every branch prints a redacted copy: a key streamed line by line, a step's
        # error quoting a presigned URL, a resource name, a hint.
        self._redactor = StreamRedactor()

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            self._print(self._redactor.event(event))

    def _print(self, event: ev.Event) -> None:
        out = self.console.print
        if isinstance(event, ev.RunStarted):
            self._simulated = event.simulated
            self._index = {s["id"]: i + 1 for i, s in enumerate(event.steps)}
            self._total = len(event.steps)
            where = "sandbox (simulated, offline)" if event.simulated else f"AWS {event.region}"
            out(f"[bold]stemcell[/] run [cyan]{event.run_id}[/]: {escape(event.lab)} "
                f"with {escape(event.profile)} on {where}")
        elif isinstance(event, ev.StepStarted):
            n = self._index.get(event.step_id, 0)
            self._step = event.step_id
            out(f"[bold]▶ [{n}/{self._total}] {escape(event.title)}[/]")
        elif isinstance(event, ev.StepFinished):
            style = STATUS_STYLE.get(event.status, "white")
            unit = "s (simulated)" if self._simulated else "s"
            line = f"  [{style}]{event.status}[/] {event.step_id} in {event.seconds:.1f}{unit}"
            if event.by and event.status == "done":
                line += f" [dim]({who_did(event.by)})[/]"
            streamed = self._ssh_lines.get(event.step_id, 0)
            if streamed and not self.verbose:
                line += f" [dim]({streamed} lines of SSH output; --verbose shows them)[/]"
            out(line)
            if event.error and event.status != "done":
                out(f"    [red]{escape(redact(event.error))}[/]")
            if event.hint:
                out(f"    [yellow]hint:[/] {escape(event.hint)}")
        elif isinstance(event, ev.ResourceCreated):
            out(f"    [green]+[/] {event.rtype} [cyan]{event.rid}[/]"
                + (f" ({escape(event.name)})" if event.name else ""))
        elif isinstance(event, ev.ResourceDeleted):
            if event.error:
                out(f"    [red]![/] {event.rtype} {event.rid}: {escape(event.error)}")
            else:
                out(f"    [dim]-[/] {event.rtype} [cyan]{event.rid}[/] deleted")
        elif isinstance(event, ev.InstanceState):
            if self._states.get(event.instance_id) != event.state:
                self._states[event.instance_id] = event.state
                who = f"{event.role} setup #{event.setup}" if event.setup in ("1", "2") \
                    else event.role
                out(f"    [dim]{event.instance_id} ({who}): {event.state}[/]")
        elif isinstance(event, ev.ImageState):
            # A bake polls for minutes: print phase changes and every quarter of progress.
            mark = (event.state, event.phase, int(event.progress * 4))
            if self._images.get(event.image_id) == mark:
                return
            self._images[event.image_id] = mark
            # No id yet: the bake's first phase is the builder stopping (CreateImage follows).
            name = event.image_id or "(not created yet)"
            out(f"    [dim]image {name}: {event.state}"
                + (f" ({event.phase}, {event.progress:.0%})" if event.phase else "") + "[/]")
        elif isinstance(event, ev.SshOutput):
            self._ssh_lines[self._step] += 1
            if self.verbose:
                out(f"    [dim]{event.instance_id}│[/] {escape(redact(event.line))}",
                    highlight=False)
        elif isinstance(event, ev.Log):
            if event.level == "debug" and not self.verbose:
                return
            style = {"warning": "yellow", "error": "red", "debug": "dim"}.get(event.level, "")
            text = escape(redact(event.message))
            out(f"    [{style}]{text}[/]" if style else f"    {text}")
        elif isinstance(event, ev.CostEstimate):
            out(f"    estimated cost: [bold]${event.usd:.2f}[/] {escape(event.detail)}")
        elif isinstance(event, ev.CleanupStarted):
            out(f"[bold]⟲ cleaning up[/] ({escape(event.reason)})")
        elif isinstance(event, ev.CleanupFinished):
            if event.left:
                out(f"  [red]{event.left} resource(s) could not be deleted[/]: "
                    "see `stemcell cleanup --all --dry-run`")
            else:
                out("  [green]nothing left behind[/]")
        elif isinstance(event, ev.Comparison):
            self._comparison(event.data)
        elif isinstance(event, ev.StudentTask):
            self._task(event)
        elif isinstance(event, ev.StudentCheck):
            self._checks(event)
        elif isinstance(event, ev.RunFinished):
            style = STATUS_STYLE.get(event.status, "white")
            out(f"[{style}]run {event.status}[/]"
                + (f": {escape(redact(event.reason))}" if event.reason else ""))

    def _task(self, event: ev.StudentTask) -> None:
        out = self.console.print
        out(f"  [bold]your turn:[/] {escape(event.goal)}")
        for command in event.commands:
            out(f"    $ {escape(command)}", highlight=False)
        if event.console:
            out(f"  [dim]console: {escape(event.console)}[/]")
        for note in event.notes:
            out(f"  [dim]note: {escape(note)}[/]")
        out("  [dim]stemcell watches your account and checks each tick.[/]")

    def _checks(self, event: ev.StudentCheck) -> None:
        out = self.console.print
        if event.found:
            out(f"    [dim]found: {escape(event.found)}[/]")
        for line in event.results:
            mark = CHECK_MARK.get(line.get("status", ""), "?")
            text = f"    {mark} {escape(line.get('description', ''))}"
            if line.get("why") and line.get("status") != "passed":
                text += f": {escape(redact(line['why']))}"
            out(text)
            if line.get("hint") and line.get("status") == "failed":
                out(f"      [yellow]hint:[/] {escape(line['hint'])}")

    def _comparison(self, data: dict[str, object]) -> None:
        """A table of ready times; the compare step logs the generated conclusion itself."""
        roles = data.get("roles")
        if not isinstance(roles, list) or not roles:
            return
        unit = "s (simulated)" if data.get("simulated") else "s"
        table = Table(title=f"time to ready, median {unit}: setup #1 (install at boot) "
                            "vs setup #2 (baked image)")
        table.add_column("role")
        table.add_column("setup #1", justify="right")
        table.add_column("setup #2", justify="right")
        table.add_column("ratio", justify="right")
        for row in roles:
            if not isinstance(row, dict):
                continue
            setups = row.get("setups", {})
            cells = []
            for setup in ("1", "2"):
                ready = setups.get(setup, {}).get("ready", {}) if isinstance(setups, dict) else {}
                median = ready.get("median") if isinstance(ready, dict) else None
                cells.append(f"{median:.1f}" if isinstance(median, (int, float)) else "—")
            ratio = row.get("ratio")
            table.add_row(str(row.get("role", "")), *cells,
                          f"{ratio:.1f}×" if isinstance(ratio, (int, float)) else "—")
        self.console.print(table)
