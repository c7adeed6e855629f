"""Messages workers post back to the UI thread (dataclasses: fields, repr and eq for free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class RunProblem(Message):
    """A worker failed in a way the student can act on (or a bug, shown politely)."""

    what: str
    message: str
    hint: str = ""


@dataclass
class RunReady(Message):
    """The backend is connected: the lab can run."""

    note: str = ""


@dataclass
class RunDone(Message):
    status: str


@dataclass
class Paused(Message):
    """Step-by-step mode: the runner waits after ``step_id``."""

    step_id: str


@dataclass
class RunsListed(Message):
    """The start screen's past runs, read off the UI thread."""

    runs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class EventsQueued(Message):
    """Engine events are waiting in the screen's feed.

    Posted by the engine's thread for every event; while one is still queued, the next
    replaces it (``can_replace``), so a burst of 100,000 SSH lines costs a handful of
    drains, and an idle run costs nothing: no timer polls the feed.
    """

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, EventsQueued)
