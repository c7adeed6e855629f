"""SSH output per instance: bounded buffer, follow/pause, search (filter) by text."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Log, Static

from stemcell.present.view import ViewModel

MAX_LINES = 5000


class SshPane(Vertical):
    """Lines arrive in batches from the view model; the Log keeps at most MAX_LINES."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.instance: str | None = None  # None: every instance, interleaved
        self.follow = True
        self.query_text = ""
        self._shown = 0

    def compose(self) -> ComposeResult:
        yield Static(id="ssh-header")
        yield Log(max_lines=MAX_LINES, id="ssh-log")
        yield Input(placeholder="/ search SSH output, Enter to filter, Esc to clear",
                    id="ssh-search")

    @property
    def log_widget(self) -> Log:
        return self.query_one("#ssh-log", Log)

    def _wanted(self, instance_id: str, line: str) -> bool:
        if self.instance is not None and instance_id != self.instance:
            return False
        return not self.query_text or self.query_text.lower() in line.lower()

    def _format(self, model: ViewModel, instance_id: str, line: str) -> str:
        if self.instance is not None:
            return line
        return f"{model.instance_label(instance_id)[:12]:>12} │ {line}"

    def append(self, model: ViewModel, lines: list[tuple[str, str]]) -> None:
        if not lines:
            return
        wanted = [self._format(model, i, t) for i, t in lines if self._wanted(i, t)]
        if wanted:
            self._shown += len(wanted)
            self.log_widget.write_lines(wanted[-MAX_LINES:], scroll_end=self.follow)
        self.sync_header(model)

    def rebuild(self, model: ViewModel) -> None:
        """Redraw from the model's buffers (after a new instance, filter or a replay seek)."""
        log = self.log_widget
        log.clear()
        if self.instance is None:
            source = list(model.ssh_all)
        else:
            source = [(self.instance, t) for t in model.ssh.get(self.instance, ())]
        wanted = [self._format(model, i, t) for i, t in source if self._wanted(i, t)]
        self._shown = len(wanted)
        log.write_lines(wanted[-MAX_LINES:], scroll_end=self.follow)
        self.sync_header(model)

    def sync_header(self, model: ViewModel) -> None:
        who = "all instances" if self.instance is None else \
            f"{self.instance} ({model.instance_label(self.instance)})"
        mode = "following" if self.follow else "paused"
        found = f" · '{self.query_text}': {self._shown} found" if self.query_text else ""
        self.query_one("#ssh-header", Static).update(
            f"[b]SSH[/b] {who} · {mode} · {model.ssh_total} lines{found}")

    def set_follow(self, follow: bool, model: ViewModel) -> None:
        self.follow = follow
        self.log_widget.auto_scroll = follow
        if follow:
            self.log_widget.scroll_end(animate=False)
        self.sync_header(model)

    def cycle_instance(self, model: ViewModel) -> None:
        choices: list[str | None] = [None, *[i for i in model.instances if i in model.ssh]]
        at = choices.index(self.instance) if self.instance in choices else 0
        self.instance = choices[(at + 1) % len(choices)]
        self.rebuild(model)
