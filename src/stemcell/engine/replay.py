"""Replay's headless core: read a recording, pace it, find step boundaries.

The story told as text is ``present.story`` (one layer up, where events are worded).

A recording is ``recording.jsonl`` (see ``recorder``): a header line, then one
event per line. Reading is strict about what it cannot understand (another
format, a newer version: a clear error, never a guess) and forgiving about what a
crash leaves behind (a cut-off last line ends the recording early, with a note).
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stemcell.engine.codec import CodecError
from stemcell.engine.errors import ConfigError
from stemcell.engine.events import Event, RunFinished, RunStarted, StepStarted
from stemcell.engine.recorder import RECORDING_FORMAT, RECORDING_VERSION
from stemcell.engine.run_folder import RunFolder


class RecordingError(ConfigError):
    """A file replay cannot read (bad input: exit code 2)."""


@dataclass
class Recording:
    path: Path
    header: dict[str, Any]
    events: list[Event]
    notes: list[str] = field(default_factory=list)  # skipped or truncated lines

    @property
    def simulated(self) -> bool:
        for event in self.events:
            if isinstance(event, RunStarted):
                return event.simulated
        return bool(self.header.get("simulated", True))


def read_recording(path: Path) -> Recording:
    try:
        with path.open(encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError as exc:
        raise RecordingError(f"{path}: no such recording",
                             hint="Runs keep theirs at <run folder>/recording.jsonl; "
                                  "`stemcell runs` lists the run folders.") from exc
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise RecordingError(f"{path}: cannot read it as a recording ({exc})") from exc
    if not lines:
        raise RecordingError(f"{path}: empty file, not a stemcell recording")
    header = _header(path, lines[0])
    events: list[Event] = []
    notes: list[str] = []
    unknown: Counter[str] = Counter()
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # the writer was stopped mid-line
                notes.append(f"line {number} is cut off: the recording ends early there")
                break
            raise RecordingError(f"{path}:{number}: not a JSON event line") from None
        if not isinstance(data, dict):
            raise RecordingError(f"{path}:{number}: not a JSON event object")
        try:
            events.append(Event.from_dict(data))
        except CodecError as exc:  # a known event whose fields do not fit it
            raise RecordingError(f"{path}:{number}: malformed {data.get('type')} event "
                                 f"({exc})") from None
        except ValueError:
            unknown[str(data.get("type"))] += 1
    for kind, count in sorted(unknown.items()):
        notes.append(f"skipped {count} event(s) of unknown type {kind!r}")
    return Recording(path, header, events, notes)


def read_run(folder: RunFolder) -> Recording:
    """A run folder's whole story: the first session's recording, then each resumed one's.

    A resumed run appends ``recording-N.jsonl`` rather than rewriting the first
    recording, so a review of the run reads them all, in order.
    """
    whole = read_recording(folder.recording)
    for part in folder.recordings()[1:]:  # the first is the one just read
        more = read_recording(part)
        whole.events.extend(more.events)
        whole.notes.extend(f"{part.name}: {note}" for note in more.notes)
    return whole


def _header(path: Path, line: str) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except json.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("format") != RECORDING_FORMAT:
        raise RecordingError(f"{path}: not a stemcell recording "
                             f"(the first line must be a {RECORDING_FORMAT!r} header)")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RecordingError(f"{path}: recording format version {version!r} is not valid")
    if version > RECORDING_VERSION:
        raise RecordingError(
            f"{path}: recording format version {version} is newer than this stemcell "
            f"reads (version {RECORDING_VERSION})",
            hint="Upgrade stemcell to replay this recording.",
        )
    return header


class Player:
    """Where a replay is: an index into the events and the modeled offset it stands for.

    Offsets are modeled seconds since the first event, made monotonic (events
    from different threads can be a hair out of order). Going back means
    folding again from the start: the reducer is pure and a whole run folds in
    milliseconds, so there is no undo to get wrong.
    """

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        self.offsets: list[float] = []
        start = next((e.t for e in events if e.t), 0.0)
        latest = 0.0
        for event in events:
            latest = max(latest, event.t - start if event.t else latest)
            self.offsets.append(latest)
        self.duration = self.offsets[-1] if self.offsets else 0.0
        self.index = 0  # events[:index] have been applied
        self.boundaries = [i for i, e in enumerate(events)
                           if isinstance(e, (StepStarted, RunFinished))]

    @property
    def position(self) -> float:
        return self.offsets[self.index - 1] if self.index else 0.0

    @property
    def finished(self) -> bool:
        return self.index >= len(self.events)

    def advance_to(self, offset: float) -> list[Event]:
        """Events due by ``offset`` that have not been applied yet."""
        end = bisect.bisect_right(self.offsets, offset)
        if end <= self.index:
            return []
        due = self.events[self.index:end]
        self.index = end
        return due

    def seek_index(self, index: int) -> tuple[bool, list[Event]]:
        """Move to ``index``: (True, events from the start) to refold, or (False, the rest)."""
        index = max(0, min(len(self.events), index))
        if index < self.index:
            self.index = index
            return True, self.events[:index]
        due = self.events[self.index:index]
        self.index = index
        return False, due

    def seek(self, offset: float) -> tuple[bool, list[Event]]:
        return self.seek_index(bisect.bisect_right(self.offsets, offset))

    def next_boundary(self) -> int:
        """Index just past the next step start (so that step shows as running)."""
        for b in self.boundaries:
            if b + 1 > self.index:
                return b + 1
        return len(self.events)

    def previous_boundary(self) -> int:
        """Index just past the previous step start (the current step's, if we are inside it)."""
        earlier = [b + 1 for b in self.boundaries if b + 1 < self.index]
        return earlier[-1] if earlier else 0

    def current_step_number(self) -> tuple[int, int]:
        starts = [i for i, e in enumerate(self.events) if isinstance(e, StepStarted)]
        done = sum(1 for i in starts if i < self.index)
        return done, len(starts)
