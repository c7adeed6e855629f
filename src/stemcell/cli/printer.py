"""The headless view: plain, readable progress from the event stream.

The same events feed the TUI and the recorder; this prints them as lines, worded
by ``present.event_text`` (the words of the TUI's event log and of replay) in
Rich markup, laid out for a terminal: step headers, indented detail, a table
for the comparison. What it adds is *when* to print: SSH output only with
``--verbose`` (a bake prints hundreds of apt lines; by default each step says
how many lines it streamed), an instance's state when it changes, a bake's
progress by quarters.
"""

from __future__ import annotations

import threading
from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stemcell.engine import events as ev
from stemcell.engine.redact import StreamRedactor, redact
from stemcell.present.event_text import details, headline, markup
from stemcell.timing.comparison import ComparisonResult


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
        if isinstance(event, ev.SshOutput):
            self._ssh_lines[self._step] += 1
            if self.verbose:
                self.console.print(f"    [dim]{escape(event.instance_id)}│[/] "
                                   f"{escape(redact(event.line))}", highlight=False)
            return
        if not self._wanted(event):
            return
        if isinstance(event, ev.Comparison):
            self._comparison(event.data)
            return
        phrase = headline(event)
        if phrase is None:
            return
        line = markup(phrase)
        indent = "    "
        if isinstance(event, ev.RunStarted):
            self._simulated = event.simulated
            self._index = {s["id"]: i + 1 for i, s in enumerate(event.steps)}
            self._total = len(event.steps)
            line, indent = f"[bold]stemcell[/] {line}", ""
        elif isinstance(event, ev.StepStarted):
            self._step = event.step_id
            n = self._index.get(event.step_id, 0)
            line, indent = f"[bold]▶ [{n}/{self._total}][/] {line}", ""
        elif isinstance(event, ev.StepFinished):
            streamed = self._ssh_lines.get(event.step_id, 0)
            if streamed and not self.verbose:
                line += f" [dim]({streamed} lines of SSH output; --verbose shows them)[/]"
            indent = "  "
        elif isinstance(event, (ev.CleanupStarted, ev.RunFinished)):
            indent = ""
        elif isinstance(event, (ev.StudentTask, ev.CleanupFinished)):
            indent = "  "
        # redact() again on the way out: the events are redacted copies already, this
        # is the last line of defence for what reaches the terminal.
        self.console.print(redact(indent + line), highlight=False)
        for more in details(event):
            self.console.print(redact(indent + "  " + markup(more)), highlight=False)

    def _wanted(self, event: ev.Event) -> bool:
        """Whether this event is worth a line now (the rest is noise on a terminal)."""
        if isinstance(event, ev.Log) and event.level == "debug":
            return self.verbose
        if isinstance(event, (ev.TimingMark, ev.ApiCall)):
            return False  # the TUI's panes count these; a terminal would scroll them away
        if isinstance(event, ev.InstanceState):
            if self._states.get(event.instance_id) == event.state:
                return False
            self._states[event.instance_id] = event.state
        if isinstance(event, ev.ImageState):
            # A bake polls for minutes: print phase changes and every quarter of progress.
            mark = (event.state, event.phase, int(event.progress * 4))
            if self._images.get(event.image_id) == mark:
                return False
            self._images[event.image_id] = mark
        return True

    def _comparison(self, data: dict[str, object]) -> None:
        """A table of ready times; the compare step logs the generated conclusion itself."""
        try:
            comparison = ComparisonResult.from_dict(data)
        except (AttributeError, KeyError, TypeError, ValueError):
            self.console.print("    comparison ready (in a form this stemcell cannot read)")
            return
        if not comparison.roles:
            return
        unit = "s (simulated)" if comparison.simulated else "s"
        table = Table(title=f"time to ready, median {unit}: setup #1 (install at boot) "
                            "vs setup #2 (baked image)")
        table.add_column("role")
        table.add_column("setup #1", justify="right")
        table.add_column("setup #2", justify="right")
        table.add_column("ratio", justify="right")
        for row in comparison.roles:
            cells = []
            for setup in ("1", "2"):
                median = row.ready(setup)
                cells.append("—" if median is None else f"{median:.1f}")
            table.add_row(row.role, *cells, "—" if row.ratio is None else f"{row.ratio:.1f}×")
        self.console.print(table)
