"""Small questions: confirm the AWS cost, why skip a step, what to do with live resources."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class Confirm(ModalScreen[bool]):
    """A yes/no question; No is focused first, because yes may cost money."""

    BINDINGS = [Binding("escape", "no", "Cancel")]
    # Focus No when the dialog opens. (Focusing it in on_mount is not enough: some
    # Textual releases then auto-focus the first focusable, the scrollable body.)
    AUTO_FOCUS = "#no"

    def __init__(self, title: str, body: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text, self.body, self.yes, self.no = title, body, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.body, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.no, id="no")
                yield Button(self.yes, id="yes", variant="warning")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_no(self) -> None:
        self.dismiss(False)


class SkipReason(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, step_title: str) -> None:
        super().__init__()
        self.step_title = step_title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Skip “{self.step_title}”?", classes="dialog-title")
            yield Static("Say why (it is recorded with the run, so a TA reviewing it knows):")
            yield Input(placeholder="reason, e.g. no TA keys yet", id="reason")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Skip step", id="skip", variant="warning")

    @on(Input.Submitted)
    @on(Button.Pressed, "#skip")
    def _skip(self) -> None:
        reason = self.query_one("#reason", Input).value.strip()
        if not reason:
            self.query_one("#reason", Input).placeholder = "a reason is needed to skip"
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitWithResources(ModalScreen[str]):
    """Quitting while resources are alive: clean up now, keep them, or stay."""

    BINDINGS = [Binding("escape", "stay", "Cancel")]
    AUTO_FOCUS = "#stay"  # Cancel first: see Confirm

    def __init__(self, count: int, run_id: str, running: bool) -> None:
        super().__init__()
        self.count, self.run_id, self.running = count, run_id, running

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"{self.count} resource(s) of this run are still alive",
                        classes="dialog-title")
            if self.running:
                body = ("The lab is still running. Stopping it cleans up everything it "
                        "created (newest first) before quitting.")
            else:
                body = ("They keep costing money on AWS until deleted. If you keep them, "
                        f"clean up later with:\n\n  stemcell cleanup --run {self.run_id}\n\n"
                        "or find every tagged leftover with `stemcell cleanup --all`.")
            yield Static(body, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="stay")
                if not self.running:
                    yield Button("Keep them", id="keep")
                yield Button("Stop and clean up" if self.running else "Clean up now",
                             id="cleanup", variant="warning")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id or "stay")

    def action_stay(self) -> None:
        self.dismiss("stay")
