"""Run state: what a run has done and what it owns, saved after every change.

Saved atomically (write to a temporary file, fsync, rename, fsync the folder) so
a crash mid-write leaves either the old or the new state, never half of one.
A corrupt file or one written by a newer stemcell is an error, never a reset:
resetting would forget resources that still cost money.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stemcell.engine.codec import CodecError, from_data, to_data
from stemcell.engine.errors import StateError
from stemcell.engine.redact import redact_value
from stemcell.engine.statuses import Actor, ResourceStatus, RunStatus, StepStatus

STATE_VERSION = 1


@dataclass
class StepRecord:
    status: StepStatus = StepStatus.PENDING
    started: float = 0.0
    finished: float = 0.0
    seconds: float = 0.0
    error: str = ""
    # Set once the step's cleanup ran: a resumed run must do the step again, since
    # what it made is gone (a "done" step alone would be skipped).
    cleaned: bool = False
    # Hands-on runs: who did the step (GUIDED, written "", in a guided run).
    by: Actor = Actor.GUIDED


@dataclass
class Resource:
    rtype: str  # instance | image | snapshot | key_pair | security_group | bucket | ...
    rid: str
    step_id: str = ""
    name: str = ""
    # A failed deletion stays live (extra["delete_error"] says why); "failed" from
    # older state files counts as live too (ResourceStatus.is_live).
    state: ResourceStatus = ResourceStatus.LIVE
    created: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    # Who made it: stemcell, or the student (a resource adopted in a hands-on run).
    made_by: Actor = Actor.STEMCELL


@dataclass
class RunState:
    run_id: str
    config: dict[str, Any] = field(default_factory=dict)
    status: RunStatus = RunStatus.CREATED
    reason: str = ""
    created: float = field(default_factory=time.time)
    steps: dict[str, StepRecord] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)
    bag: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    api_calls: dict[str, int] = field(default_factory=dict)
    version: int = STATE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dict(to_data(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """Through the codec (``engine/codec.py``), as events are; raises CodecError."""
        return from_data(cls, data)

    def live_resources(self) -> list[Resource]:
        return [r for r in self.resources if r.state.is_live]

    def find(self, rtype: str, rid: str) -> Resource | None:
        for r in self.resources:
            if r.rtype == rtype and r.rid == rid:
                return r
        return None


class StateStore:
    """Owns one run's ``state.json``; every mutation goes through ``save``."""

    def __init__(self, path: Path, state: RunState) -> None:
        self.path = path
        self.state = state
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def save(self) -> None:
        # Redacted as it is written: a step's error text or a run's reason may quote a
        # presigned URL or a key, and the file outlives the run. 0600: it is the
        # user's own record of what costs money, for no one else on the machine.
        with self._lock:
            data = redact_value(self.state.to_dict())
            write_atomic(self.path, json.dumps(data, indent=2, sort_keys=True), mode=0o600)

    @classmethod
    def load(cls, path: Path) -> StateStore:
        return cls(path, load_state(path))


def load_state(path: Path) -> RunState:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StateError(f"{path}: no run state here") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(
            f"{path}: run state is corrupt ({exc.msg} at line {exc.lineno})",
            hint="Resources may still exist: list them by tag with "
            "`stemcell cleanup --all --dry-run`.",
        ) from exc
    if not isinstance(data, dict) or "run_id" not in data:
        raise StateError(f"{path}: not a stemcell run state")
    version = data.get("version")
    if not isinstance(version, int) or version > STATE_VERSION:
        raise StateError(
            f"{path}: run state version {version!r} is newer than this stemcell understands "
            f"(version {STATE_VERSION})",
            hint="Upgrade stemcell to resume this run.",
        )
    try:
        return RunState.from_dict(data)
    except (CodecError, TypeError, ValueError, KeyError, AttributeError) as exc:
        # Any unexpected shape (a list where a mapping belongs ...) is this file's
        # problem, reported for this file; never a crash of whoever lists runs.
        raise StateError(f"{path}: run state is corrupt ({type(exc).__name__}: {exc})") \
            from exc


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
