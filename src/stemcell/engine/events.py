"""Typed events: the spine every view hangs from.

The runner and the steps emit events; the TUI, the headless printer, the
recorder and replay all consume the same stream. Every event carries ``t``, the
modeled time (see ``clock``), so a replay can pace itself and a recording reads
the same whatever the sandbox speed was.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from stemcell.engine.codec import from_data, to_data
from stemcell.engine.statuses import Actor, ResourceStatus, RunStatus, StepStatus

EVENT_TYPES: dict[str, type[Event]] = {}
# What a step finished in an earlier session says in words when a resumed run
# announces it; the flag ``StepFinished.earlier`` is what code reads.
EARLIER_NOTE = "(done in an earlier session)"


@dataclass(kw_only=True)
class Event:
    kind: ClassVar[str] = "event"
    t: float = 0.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        EVENT_TYPES[cls.kind] = cls

    # One codec for events and run state (engine/codec.py): fields by their types,
    # plus the event's ``type``; unknown keys of an older or newer recording ignored.
    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = to_data(self)
        data["type"] = self.kind
        return data

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Event:
        kind = data.get("type")
        cls = EVENT_TYPES.get(str(kind))
        if cls is None:
            raise ValueError(f"unknown event type: {kind!r}")
        return from_data(cls, _upgrade(cls, data), cls.kind)


@dataclass(kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    run_id: str
    lab: str
    profile: str
    backend: str
    region: str
    simulated: bool
    steps: list[dict[str, str]] = field(default_factory=list)  # id, title, kind


@dataclass(kw_only=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    run_id: str
    status: RunStatus  # succeeded | failed | interrupted
    reason: str = ""


@dataclass(kw_only=True)
class StepStarted(Event):
    kind: ClassVar[str] = "step_started"
    step_id: str
    title: str
    step_kind: str = ""


@dataclass(kw_only=True)
class StepFinished(Event):
    kind: ClassVar[str] = "step_finished"
    step_id: str
    status: StepStatus  # done | failed | skipped | interrupted
    seconds: float = 0.0
    error: str = ""
    hint: str = ""
    # Finished in an earlier session of a resumed run: announced, not run again
    # (``error`` then says so in words, for the eye only).
    earlier: bool = False
    # Hands-on runs: "student" (verified after the student did it) or "stemcell"
    # (run by stemcell: a step nobody acts on, or "show me"); "" in a guided run.
    # For a student's step, ``seconds`` is how long the student took.
    by: Actor = Actor.GUIDED


@dataclass(kw_only=True)
class CleanupStarted(Event):
    kind: ClassVar[str] = "cleanup_started"
    reason: str


@dataclass(kw_only=True)
class CleanupFinished(Event):
    kind: ClassVar[str] = "cleanup_finished"
    left: int = 0  # resources that could not be deleted


@dataclass(kw_only=True)
class ResourceCreated(Event):
    kind: ClassVar[str] = "resource_created"
    rtype: str
    rid: str
    step_id: str = ""
    name: str = ""
    made_by: Actor = Actor.STEMCELL  # STUDENT: made by hand, adopted in a hands-on run


@dataclass(kw_only=True)
class ResourceDeleted(Event):
    kind: ClassVar[str] = "resource_deleted"
    rtype: str
    rid: str
    error: str = ""
    # DELETED by stemcell, or GONE: it had disappeared already (deleted outside
    # stemcell, or along with something else).
    state: ResourceStatus = ResourceStatus.DELETED


@dataclass(kw_only=True)
class InstanceState(Event):
    kind: ClassVar[str] = "instance_state"
    instance_id: str
    state: str
    role: str = ""
    setup: str = ""  # "1" | "2" | "builder"
    image_id: str = ""
    address: str = ""
    launched_at: float = 0.0


@dataclass(kw_only=True)
class ImageState(Event):
    kind: ClassVar[str] = "image_state"
    image_id: str
    state: str  # pending | available | failed | deregistered
    phase: str = ""  # stopping | snapshot | available
    progress: float = 0.0  # 0..1


@dataclass(kw_only=True)
class SshOutput(Event):
    kind: ClassVar[str] = "ssh_output"
    instance_id: str
    line: str
    stream: str = "stdout"


@dataclass(kw_only=True)
class TimingMark(Event):
    kind: ClassVar[str] = "timing_mark"
    instance_id: str
    mark: str
    at: float
    role: str = ""
    setup: str = ""


@dataclass(kw_only=True)
class ApiCall(Event):
    kind: ClassVar[str] = "api_call"
    service: str
    operation: str
    total: int = 0


@dataclass(kw_only=True)
class CostEstimate(Event):
    kind: ClassVar[str] = "cost"
    usd: float
    detail: str = ""


@dataclass(kw_only=True)
class Log(Event):
    kind: ClassVar[str] = "log"
    message: str
    level: str = "info"  # info | warning | error
    step_id: str = ""


@dataclass(kw_only=True)
class Comparison(Event):
    """The setup #1 vs #2 comparison, emitted once measured."""

    kind: ClassVar[str] = "comparison"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class StudentTask(Event):
    """A hands-on step began: what to do, the exact commands, the console way.

    Commands hold paths and ids, never a secret: the role's user data (with its
    presigned URL) is a 0600 file in the run folder that the commands name.
    """

    kind: ClassVar[str] = "student_task"
    step_id: str
    goal: str
    commands: list[str] = field(default_factory=list)
    console: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class StudentCheck(Event):
    """What stemcell sees of a hands-on step so far; emitted when it changes.

    ``results``: one dict per check (``id``, ``description``, ``status``
    passed | failed | waiting, ``why``, ``hint``). ``found`` names what was recognised.
    """

    kind: ClassVar[str] = "student_check"
    step_id: str
    found: str = ""
    results: list[dict[str, str]] = field(default_factory=list)


def _upgrade(cls: type[Event], data: dict[str, Any]) -> dict[str, Any]:
    """Recordings made before ``StepFinished.earlier`` and ``ResourceDeleted.state``
    existed said both in words only; read them as the fields they became (only when
    the field is absent: a newer line's field always wins)."""
    if cls is StepFinished and "earlier" not in data and data.get("error") == EARLIER_NOTE:
        return {**data, "earlier": True}
    if cls is ResourceDeleted and "state" not in data \
            and str(data.get("error", "")).startswith("gone"):
        return {**data, "state": ResourceStatus.GONE.value}
    return data


Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous fan-out; subscribers must be quick (UIs hop threads themselves)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    def emit(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for fn in subscribers:
            fn(event)
