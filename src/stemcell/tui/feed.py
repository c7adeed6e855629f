"""A thread-safe hand-off from worker threads to the UI, drained in batches.

Bus subscribers run on the engine's thread and must be quick: they only append
here. The UI drains on a timer, folding a bounded batch per frame, so a burst of
SSH output costs a few frames of work instead of one repaint per line (the
toolong approach: bounded buffers, batched writes).
"""

from __future__ import annotations

from collections import deque

from stemcell.engine.events import Event

BATCH = 5000  # events folded per frame at most, so frames keep coming during a burst


class EventFeed:
    def __init__(self) -> None:
        self._queue: deque[Event] = deque()

    def push(self, event: Event) -> None:
        self._queue.append(event)  # deque.append is atomic: no lock on the hot path

    def drain(self, limit: int = BATCH) -> list[Event]:
        out: list[Event] = []
        queue = self._queue
        while queue and len(out) < limit:
            out.append(queue.popleft())
        return out

    def __len__(self) -> int:
        return len(self._queue)
