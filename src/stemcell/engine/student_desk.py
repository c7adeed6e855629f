"""Hands-on mode, as the runner sees it: tasks the student does, and "show me".

In a hands-on run the runner does not ``run`` a step that has a task: it shows
the task's brief (goal, exact commands, the console way) and then asks the task
"done yet?" once per tick, with the run's cancel honoured between ticks, until
the task has recognised the student's resources and every check passes. The
tasks themselves live in ``stemcell.handson`` (they read the cloud and run the
lab's checks); the engine only knows this protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from stemcell.engine.context import Context


@dataclass
class Brief:
    goal: str
    commands: list[str] = field(default_factory=list)
    console: str = ""  # the console way, in one sentence
    notes: list[str] = field(default_factory=list)


@dataclass
class CheckLine:
    id: str
    description: str
    status: str  # passed | failed | waiting
    why: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "description": self.description, "status": self.status,
                "why": self.why, "hint": self.hint}


@dataclass
class Progress:
    """One look at the student's work: verified, or what is still missing and why."""

    done: bool
    found: str = ""
    lines: list[CheckLine] = field(default_factory=list)

    def view(self) -> tuple[str, tuple[tuple[str, str, str], ...]]:
        return self.found, tuple((c.id, c.status, c.why) for c in self.lines)


class HandsOnTask(Protocol):
    def brief(self, ctx: Context) -> Brief:
        """What to do; called once when the step begins (may prepare files, e.g. user data)."""
        ...

    def poll(self, ctx: Context) -> Progress:
        """One tick: recognise and adopt the student's resources, run the checks."""
        ...


class StudentDesk:
    """The hands-on side of a run: the tasks by step id, and the student's requests.

    ``show_me`` and ``recheck`` come from the UI thread; the runner's wait wakes
    up at once for either.
    """

    def __init__(self, tasks: Mapping[str, HandsOnTask], *, show_me_allowed: bool = True,
                 why_not: str = "") -> None:
        self.tasks = dict(tasks)
        self.show_me_allowed = show_me_allowed
        self.why_not = why_not
        self.wake = threading.Event()
        self.waiting_on = ""  # the step the runner waits on now, "" when none
        self._lock = threading.Lock()
        self._show_me: set[str] = set()

    def task_for(self, step_id: str) -> HandsOnTask | None:
        return self.tasks.get(step_id)

    def show_me(self, step_id: str = "") -> str:
        """Ask stemcell to do the step (the waiting one by default); '' or why not."""
        if not self.show_me_allowed:
            return self.why_not or "the course allows hands-on mode only here"
        with self._lock:
            step = step_id or self.waiting_on
            if not step or step != self.waiting_on:
                return "show me works on the step that waits for you"
            self._show_me.add(step)
        self.wake.set()
        return ""

    def recheck(self) -> None:
        self.wake.set()

    def take_show_me(self, step_id: str) -> bool:
        with self._lock:
            if step_id in self._show_me:
                self._show_me.discard(step_id)
                return True
            return False
