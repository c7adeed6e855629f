"""A thread-safe hand-off from worker threads to the UI, drained in batches.

Bus subscribers run on the engine's thread and must be quick: they only append
here. The first event into an empty feed rings ``on_ready`` (the lab screen posts
an ``EventsQueued`` message, which coalesces with any still queued); the UI then
drains a bounded batch per frame, so a burst of SSH output costs a few frames of
work instead of one repaint per line (the toolong approach: bounded buffers,
batched writes), and an idle run costs nothing: no timer polls the feed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from stemcell.engine.events import Event

BATCH = 5000  # events folded per frame at most, so frames keep coming during a burst


class EventFeed:
    def __init__(self, on_ready: Callable[[], object] | None = None) -> None:
        self._queue: deque[Event] = deque()
        self.on_ready = on_ready
        # Set by the producer when it rang, cleared by the UI before it drains: an event
        # appended after the clear rings again, one appended before it is drained.
        self._rung = False

    def push(self, event: Event) -> None:
        self._queue.append(event)  # deque.append is atomic: no lock on the hot path
        if not self._rung and self.on_ready is not None:
            self._rung = True
            self.on_ready()

    def drain(self, limit: int = BATCH) -> list[Event]:
        self._rung = False
        out: list[Event] = []
        queue = self._queue
        while queue and len(out) < limit:
            out.append(queue.popleft())
        return out

    def __len__(self) -> int:
        return len(self._queue)
