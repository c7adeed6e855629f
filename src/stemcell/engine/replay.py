"""Replay's headless core: read a recording, pace it, find step boundaries, tell the story.

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
from stemcell.engine.events import (
    ApiCall,
    Event,
    RunFinished,
    RunStarted,
    SshOutput,
    StepFinished,
    StepStarted,
)
from stemcell.engine.recorder import RECORDING_FORMAT, RECORDING_VERSION
from stemcell.engine.run_folder import RunFolder
from stemcell.engine.view import PHASES, WHO, ViewModel, describe, fmt_seconds


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


def story(recording: Recording) -> list[str]:
    """The run told as text: what happened, step by step, then the figures."""
    events = recording.events
    model = ViewModel()
    lines: list[str] = []
    head = recording.header
    label = "SIMULATED sandbox run" if recording.simulated else "run on real AWS"
    lines.append(f"Recording {recording.path.name} (format v{head.get('version')}): {label}")
    for note in recording.notes:
        lines.append(f"note: {note}")
    ssh: Counter[str] = Counter()
    api: Counter[str] = Counter()

    def flush_counts() -> None:
        for iid, count in ssh.items():
            lines.append(f"{'':>8}   ({count} line(s) of SSH output from {iid})")
        if api:
            top = ", ".join(f"{op} x{n}" for op, n in api.most_common(4))
            lines.append(f"{'':>8}   ({sum(api.values())} API call(s): {top})")
        ssh.clear()
        api.clear()

    for event in events:
        model.apply(event)
        if isinstance(event, SshOutput):
            ssh[event.instance_id] += 1
            continue
        if isinstance(event, ApiCall):
            api[f"{event.service}.{event.operation}"] += 1
            continue
        if isinstance(event, (StepStarted, StepFinished, RunFinished)):
            flush_counts()
        line = describe(event, model.started_at)
        if line is not None:
            lines.append(line)
    flush_counts()
    lines.extend(summary_lines(model))
    return lines


def summary_lines(model: ViewModel) -> list[str]:
    out = ["", f"Summary: run {model.run_id or '?'} {model.status}"
           + (f" ({model.reason})" if model.reason else "")]
    for step in model.steps.values():
        extra = f"  {step.error}" if step.error else ""
        # Hands-on runs: who did the step; a student's time is how long they took.
        who = f"  ({WHO.get(step.by, step.by)})" if step.by and step.status == "done" else ""
        out.append(f"  {step.status:<11} {fmt_seconds(step.seconds):>8}  {step.title}{who}"
                   f"{extra}")
    bars = model.boot_bars()
    if bars:
        kind = "simulated" if model.simulated else "measured"
        out.append(f"Boot to healthy, setup #1 (install at boot) vs #2 (baked image), {kind}:")
        for bar in bars:
            parts = ", ".join(f"{p} {fmt_seconds(bar.phases[p])}"
                              for p in PHASES if p in bar.phases)
            state = "" if bar.complete else " (incomplete)"
            out.append(f"  {bar.role:<11} #{bar.setup} {fmt_seconds(bar.total):>8}{state}  "
                       f"{parts}")
    out.extend(f"  {line}" for line in model.conclusion())
    out.append(f"API calls: {model.api_total}"
               + (f", estimated cost ${model.cost_usd:.2f}" if model.cost_usd else ""))
    live = model.live_resources()
    out.append(f"Resources left: {len(live)}"
               + ("" if not live else " (" + ", ".join(f"{r.rtype} {r.rid}" for r in live) + ")"))
    return out
