"""A deadline that closes connections, so no blocked call outlives it.

A hostile (or broken) server can accept SSH and then never answer a channel
request, or drip one byte a minute: paramiko's ``exec_command`` and a socket
read then block far beyond any per-call timeout. A ``Watchdog`` is handed every
socket and transport opened for one host; when the host's time is up (or the
whole check is cancelled) it closes them all from its timer thread, which makes
whatever call is blocked on them fail at once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Protocol


class Closable(Protocol):
    def close(self) -> None: ...


class Watchdog:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.until = time.monotonic() + seconds
        self._watched: list[Closable] = []
        self._lock = threading.Lock()
        self._fired = threading.Event()
        self._timer = threading.Timer(max(0.0, seconds), self.fire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def expired(self) -> bool:
        return self._fired.is_set() or time.monotonic() >= self.until

    def remaining(self) -> float:
        return self.until - time.monotonic()

    def watch(self, thing: Closable) -> None:
        """Close ``thing`` when time is up (at once, if it already is)."""
        with self._lock:
            fired = self._fired.is_set()
            if not fired:
                self._watched.append(thing)
        if fired:
            with contextlib.suppress(Exception):
                thing.close()

    def fire(self) -> None:
        """Time is up (or the check was cancelled): close everything watched."""
        with self._lock:
            self._fired.set()
            watched, self._watched = self._watched, []
        for thing in reversed(watched):
            with contextlib.suppress(Exception):
                thing.close()

    def stop(self) -> None:
        """The host is done: no need to fire any more."""
        self._timer.cancel()
        with self._lock:
            self._watched.clear()
