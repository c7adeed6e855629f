"""What a guest is running and what it logged: the process table ``ps`` reads and
the journal ``journalctl`` reads.

Two small shared structures on ``System``: ``System.processes`` (a
``ProcessTable``: the programs running in the guest's worker, plus the
long-lived daemons the model stands for) and ``System.journal`` (a ``Journal``:
``(time, unit, line)`` entries, newest last, bounded). Programs run in the
guest's isolated worker (``worker.py``) register here while they run; their
stdout and stderr lines go to the journal under their unit, as systemd's
journald does for a service's standard streams (systemd.exec(5),
``StandardOutput=journal`` is the default).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# journald keeps a bounded journal (SystemMaxUse=); we keep the newest entries.
JOURNAL_LIMIT = 20_000


@dataclass(frozen=True)
class JournalEntry:
    time: float  # modeled epoch seconds
    unit: str  # "stemcell-worker.service", "apache2.service", "kernel", ...
    line: str
    pid: int = 0


class Journal:
    """The guest's systemd journal: an append-only, bounded list of entries."""

    def __init__(self, now: Callable[[], float], limit: int = JOURNAL_LIMIT) -> None:
        self._now = now
        self._limit = limit
        self._entries: list[JournalEntry] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    def append(self, unit: str, line: str, *, pid: int = 0) -> None:
        entry = JournalEntry(self._now(), unit, line.rstrip("\n"), pid)
        with self._changed:
            self._entries.append(entry)
            if len(self._entries) > self._limit:
                del self._entries[: len(self._entries) - self._limit]
            self._changed.notify_all()

    def entries(self, unit: str | None = None) -> list[JournalEntry]:
        """A copy of the entries, oldest first (only ``unit``'s if given)."""
        with self._lock:
            items = list(self._entries)
        if unit is None:
            return items
        return [e for e in items if e.unit == unit]

    def wait(self, count: int, timeout: float) -> bool:
        """Wait until more than ``count`` entries exist (``journalctl -f``)."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._entries) > count, timeout)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries())


@dataclass
class Process:
    pid: int
    user: str
    command: str  # the full command line, as ps's COMMAND/args column shows it
    started: float  # modeled epoch seconds
    unit: str = ""  # the systemd unit that runs it ("" for a program typed in a shell)
    ppid: int = 1


class ProcessTable:
    """The programs a guest runs, by pid. Thread-safe; ``running()`` is a snapshot."""

    # Ubuntu's first user processes get pids in the hundreds after boot.
    FIRST_PID = 1000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: dict[int, Process] = {}
        self._next = itertools.count(self.FIRST_PID)

    def spawn(self, user: str, command: str, started: float, *, unit: str = "",
              ppid: int = 1) -> Process:
        with self._lock:
            proc = Process(next(self._next), user, command, started, unit, ppid)
            self._procs[proc.pid] = proc
            return proc

    def exit(self, pid: int) -> None:
        with self._lock:
            self._procs.pop(pid, None)

    def get(self, pid: int) -> Process | None:
        with self._lock:
            return self._procs.get(pid)

    def running(self) -> list[Process]:
        with self._lock:
            return sorted(self._procs.values(), key=lambda p: p.pid)

    def by_unit(self, unit: str) -> list[Process]:
        return [p for p in self.running() if p.unit == unit]

    def __iter__(self) -> Iterator[Process]:
        return iter(self.running())

    def __len__(self) -> int:
        with self._lock:
            return len(self._procs)
