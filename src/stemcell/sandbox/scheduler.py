"""Runs the sandbox's state changes at modeled times.

One thread sleeps on the clock until the next due change; the clock wakes it
when its rate changes (engine/clock.py), so a change is never late by more
than a thread switch. Readers may also call ``run_due()`` before they answer,
so an API poll never sees a state that is already overdue. Running a change is
host work, counted as such.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from stemcell.engine.clock import ModelClock

log = logging.getLogger(__name__)


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Scheduler:
    def __init__(self, clock: ModelClock, name: str = "sandbox-scheduler") -> None:
        self.clock = clock
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        # The clock's own condition: a new job and a change of rate both wake the loop.
        self._cond = clock.condition
        # Actions run one at a time, whoever runs them (the thread or a reader).
        self._run_lock = threading.RLock()
        self._local = threading.local()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def at(self, modeled: float, action: Callable[[], None]) -> _Job:
        job = _Job(modeled, next(self._seq), action)
        with self._cond:
            heapq.heappush(self._heap, job)
            self._cond.notify_all()  # the clock's condition: others wait on it too
        return job

    def after(self, modeled_seconds: float, action: Callable[[], None]) -> _Job:
        return self.at(self.clock.now() + max(0.0, modeled_seconds), action)

    def run_due(self) -> None:
        """Run every action due by now, in due order (re-entrant calls do nothing)."""
        if getattr(self._local, "running", False):
            return
        self._local.running = True
        try:
            with self._run_lock:
                while True:
                    job = self._pop_due()
                    if job is None:
                        return
                    self._run(job)
        finally:
            self._local.running = False

    def pending(self) -> int:
        with self._cond:
            return sum(1 for job in self._heap if not job.cancelled)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()  # the clock's condition: others wait on it too
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _pop_due(self) -> _Job | None:
        now = self.clock.now()
        with self._cond:
            while self._heap and self._heap[0].cancelled:
                heapq.heappop(self._heap)
            if self._heap and self._heap[0].due <= now:
                return heapq.heappop(self._heap)
        return None

    def _run(self, job: _Job) -> None:
        try:
            with self.clock.busy():
                job.action()
        except Exception:  # one broken change must not stop the sandbox's clockwork
            log.exception("sandbox scheduled action failed")

    def _loop(self) -> None:
        # The next change's due time caps the clock (engine/clock.py): modeled time
        # waits there until this thread has woken and made the change.
        token: int | None = None
        try:
            while True:
                with self._cond:
                    if self._closed:
                        return
                    while self._heap and self._heap[0].cancelled:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._uncap(token)
                        token = None
                        self._cond.wait()
                        continue
                    due = self._heap[0].due
                    if self.clock.now() < due:
                        self._uncap(token)
                        token = self.clock.cap(due)
                        # An estimate at the current rate; a change of rate wakes us.
                        self._cond.wait(timeout=max(0.0, self.clock.to_wall(due) - time.time()))
                        continue
                with self.clock.busy():
                    self._uncap(token)
                    token = None
                    self.run_due()
        finally:
            self._uncap(token)

    def _uncap(self, token: int | None) -> None:
        if token is not None:
            self.clock.uncap(token)
