"""Messages workers post back to the UI thread."""

from __future__ import annotations

from textual.message import Message


class RunProblem(Message):
    """A worker failed in a way the student can act on (or a bug, shown politely)."""

    def __init__(self, what: str, message: str, hint: str = "") -> None:
        super().__init__()
        self.what = what
        self.message = message
        self.hint = hint


class RunReady(Message):
    """The backend is connected: the lab can run."""

    def __init__(self, note: str = "") -> None:
        super().__init__()
        self.note = note


class RunDone(Message):
    def __init__(self, status: str) -> None:
        super().__init__()
        self.status = status


class Paused(Message):
    """Step-by-step mode: the runner waits after ``step_id``."""

    def __init__(self, step_id: str) -> None:
        super().__init__()
        self.step_id = step_id
