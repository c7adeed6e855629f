"""A JSONL recording of a run's events, redacted, with a format version.

The first line is a header ``{"format": "stemcell-recording", "version": N, ...}``;
every following line is one event. Lines are buffered and flushed in batches so a
burst of SSH output costs one write per batch, not one per line.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

from stemcell.engine.events import Event, RunFinished
from stemcell.engine.redact import StreamRedactor, redact_value

RECORDING_FORMAT = "stemcell-recording"
RECORDING_VERSION = 1


class Recorder:
    def __init__(self, path: Path, header: dict[str, Any] | None = None) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0600 from the first byte: a recording holds a run's whole story.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._fh: IO[str] = os.fdopen(fd, "w", encoding="utf-8")
        self._lock = threading.Lock()
        self._pending: list[str] = []
        self._last_flush = time.monotonic()
        self._redactor = StreamRedactor()  # a key printed line by line is one secret
        head = {"format": RECORDING_FORMAT, "version": RECORDING_VERSION, **(header or {})}
        self._fh.write(json.dumps(redact_value(head), sort_keys=True) + "\n")
        self._fh.flush()

    def __call__(self, event: Event) -> None:
        clean = self._redactor.event(event)
        line = json.dumps(redact_value(clean.to_dict()), sort_keys=True, default=str)
        with self._lock:
            if self._fh.closed:
                return
            self._pending.append(line)
            now = time.monotonic()
            if (
                len(self._pending) >= 256
                or now - self._last_flush > 0.5
                or isinstance(event, RunFinished)
            ):
                self._flush_locked()

    def _flush_locked(self) -> None:
        if self._pending:
            self._fh.write("\n".join(self._pending) + "\n")
            self._pending.clear()
        self._fh.flush()
        self._last_flush = time.monotonic()

    def flush(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._flush_locked()

    def close(self) -> None:
        with self._lock:
            if not self._fh.closed:
                self._flush_locked()
                self._fh.close()
