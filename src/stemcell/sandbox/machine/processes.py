"""The guest's process table and journal, as `ps`, `top`, `pgrep`, `kill` and
`journalctl` read them.

Processes are what a freshly booted Ubuntu 24.04 EC2 instance shows in `ps aux`
(systemd, journald, udevd, networkd, resolved, logind, cron, rsyslogd, sshd,
agetty...) plus one set per running service (apache2: a root parent and two
www-data children under mpm_event, as Debian's apache2 starts them). Services
add and remove theirs when they start and stop (System.start_service), so
the table always agrees with `systemctl is-active`.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Process:
    pid: int
    ppid: int
    user: str
    command: str  # the full command line (ps's args/COMMAND column)
    started: float  # epoch seconds
    unit: str = ""  # the systemd unit it belongs to ("" for kernel threads and sessions)
    tty: str = "?"
    stat: str = "Ss"
    vsz_kb: int = 10000
    rss_kb: int = 5000
    cpu_seconds: float = 0.0

    @property
    def comm(self) -> str:
        """The kernel's comm: the program's base name, at most 15 characters."""
        if self.command.startswith("["):
            return self.command.strip("[]")[:15]
        first = self.command.split()[0] if self.command.split() else ""
        if first.endswith(":"):  # "sshd: ubuntu [priv]" keeps its name
            first = first[:-1]
        return first.rsplit("/", 1)[-1].lstrip("-")[:15]


# (command, user, unit, vsz_kb, rss_kb): Ubuntu 24.04 server on EC2 (t3.micro), ps aux.
_BASE: list[tuple[str, str, str, int, int]] = [
    ("/sbin/init", "root", "", 22068, 13056),
    ("[kthreadd]", "root", "", 0, 0),
    ("[pool_workqueue_release]", "root", "", 0, 0),
    ("[ksoftirqd/0]", "root", "", 0, 0),
    ("[rcu_preempt]", "root", "", 0, 0),
    ("[migration/0]", "root", "", 0, 0),
    ("[kworker/0:1-events]", "root", "", 0, 0),
    ("/usr/lib/systemd/systemd-journald", "root", "systemd-journald.service", 50516, 16384),
    ("/usr/lib/systemd/systemd-udevd", "root", "systemd-udevd.service", 25508, 6272),
    ("/usr/lib/systemd/systemd-networkd", "systemd-network", "systemd-networkd.service",
     18848, 8064),
    ("/usr/lib/systemd/systemd-resolved", "systemd-resolve", "systemd-resolved.service",
     21724, 12416),
    ("/usr/sbin/cron -f -P", "root", "cron.service", 7200, 2688),
    ("@dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation "
     "--syslog-only", "messagebus", "dbus.service", 9624, 4992),
    ("/usr/sbin/rsyslogd -n -iNONE", "syslog", "rsyslog.service", 222508, 5632),
    ("/usr/lib/systemd/systemd-logind", "root", "systemd-logind.service", 17992, 7936),
    ("/sbin/agetty -o -p -- \\u --noclear - linux", "root", "getty@tty1.service", 6104, 1920),
    ("/sbin/agetty -o -p -- \\u --keep-baud 115200,57600,38400,9600 - vt220", "root",
     "serial-getty@ttyS0.service", 6148, 2048),
    ("/usr/bin/python3 /usr/share/unattended-upgrades/unattended-upgrade-shutdown "
     "--wait-for-signal", "root", "unattended-upgrades.service", 109988, 22144),
    ("/usr/lib/snapd/snapd", "root", "snapd.service", 1831112, 31104),
]

# What each service runs once started (user, command, vsz, rss).
SERVICE_PROCESSES: dict[str, list[tuple[str, str, int, int]]] = {
    "ssh.service": [("root", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",
                     12020, 7936)],
    "apache2.service": [("root", "/usr/sbin/apache2 -k start", 6528, 4608),
                        ("www-data", "/usr/sbin/apache2 -k start", 1997868, 4480),
                        ("www-data", "/usr/sbin/apache2 -k start", 1997868, 4480)],
}

_BASE_UNITS = {unit for _, _, unit, _, _ in _BASE if unit}


@dataclass
class ProcessTable:
    """Running processes by pid; safe to read while services start and stop."""

    procs: dict[int, Process] = field(default_factory=dict)
    _pids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def boot(self, now: float) -> None:
        """The processes of a freshly booted system (pid 1 first)."""
        with self._lock:
            self.procs.clear()
            self._pids = itertools.count(1)
        for command, user, unit, vsz, rss in _BASE:
            ppid = 0 if command == "/sbin/init" or command == "[kthreadd]" else (
                2 if command.startswith("[") else 1)
            self.spawn(command, user=user, ppid=ppid, unit=unit, started=now,
                       vsz_kb=vsz, rss_kb=rss, tty="tty1" if "linux" in command else
                       "ttyS0" if "vt220" in command else "?",
                       stat="I<" if command.startswith("[") else "Ss")
        # A real boot spends a few hundred pids on early work before userspace settles.
        with self._lock:
            self._pids = itertools.count(max(self.procs) + 400)

    def spawn(self, command: str, *, user: str, ppid: int = 1, unit: str = "",
              started: float | None = None, vsz_kb: int = 10000, rss_kb: int = 5000,
              tty: str = "?", stat: str = "Ss") -> Process:
        with self._lock:
            pid = next(self._pids)
            proc = Process(pid, ppid, user, command, time.time() if started is None
                           else started, unit, tty, stat, vsz_kb, rss_kb)
            self.procs[pid] = proc
            return proc

    def start_unit(self, unit: str, command: str | None, now: float, user: str = "root") -> None:
        """Processes of ``unit`` once it is active (its ExecStart, as its User=, for
        custom units)."""
        if unit in _BASE_UNITS and any(p.unit == unit for p in self.list()):
            return
        specs = SERVICE_PROCESSES.get(unit)
        if specs is None:
            if not command:
                return
            specs = [(user, command, 30000, 12000)]
        parent: Process | None = None
        for user, cmd, vsz, rss in specs:
            proc = self.spawn(cmd, user=user, ppid=parent.pid if parent else 1, unit=unit,
                              started=now, vsz_kb=vsz, rss_kb=rss,
                              stat="Ss" if parent is None else "Sl")
            parent = parent or proc

    def stop_unit(self, unit: str) -> None:
        with self._lock:
            for pid in [p.pid for p in self.procs.values() if p.unit == unit]:
                del self.procs[pid]

    def kill(self, pid: int) -> Process | None:
        with self._lock:
            return self.procs.pop(pid, None)

    def by_unit(self, unit: str) -> list[Process]:
        return [p for p in self.list() if p.unit == unit]

    def get(self, pid: int) -> Process | None:
        with self._lock:
            return self.procs.get(pid)

    def list(self) -> list[Process]:
        with self._lock:
            return sorted(self.procs.values(), key=lambda p: p.pid)

    def logins(self) -> int:
        """Users logged in on a terminal (login shells), as uptime and top count them."""
        with self._lock:
            return sum(1 for p in self.procs.values() if p.command == "-bash")

    def next_pid(self) -> int:
        """Reserve a pid for a short-lived process (a command the shell runs)."""
        with self._lock:
            return next(self._pids)


MAX_ENTRIES = 20000


@dataclass
class JournalEntry:
    time: float
    unit: str  # "" for kernel messages
    ident: str  # SYSLOG_IDENTIFIER: systemd, apache2, sshd, kernel...
    pid: int
    message: str


@dataclass
class Journal:
    """systemd-journald's store: every entry with its unit, in order."""

    # The guest's clock, so entries written without a time (a program's output in the
    # isolated worker) stamp the same time as the system's own lines.
    now: Callable[[], float] = time.time
    entries: list[JournalEntry] = field(default_factory=list)
    boots: list[float] = field(default_factory=list)  # start time of each boot
    total: int = 0  # entries ever appended (rotation drops old ones from ``entries``)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._changed = threading.Condition(self._lock)

    def append(self, unit: str, line: str, *, ident: str = "", pid: int = 0,
               when: float | None = None) -> None:
        entry = JournalEntry(self.now() if when is None else when, unit,
                             ident or unit.removesuffix(".service"), pid, line)
        with self._changed:
            self.entries.append(entry)
            self.total += 1
            if len(self.entries) > MAX_ENTRIES:
                # journald rotates (SystemMaxUse): the oldest entries go.
                del self.entries[:len(self.entries) - MAX_ENTRIES // 2]
            self._changed.notify_all()

    def snapshot(self, unit: str | None = None) -> list[JournalEntry]:
        """A copy of the kept entries, oldest first (only ``unit``'s if given)."""
        with self._lock:
            kept = list(self.entries)
        return kept if unit is None else [e for e in kept if e.unit == unit]

    def since(self, total: int) -> tuple[list[JournalEntry], int]:
        """Entries appended after the journal had ``total`` (as far as still kept), and
        the new total: what journalctl -f prints next."""
        with self._lock:
            fresh = self.total - total
            return (list(self.entries[-fresh:]) if fresh > 0 else []), self.total

    def wait_beyond(self, total: int, timeout: float) -> bool:
        """Wait until more than ``total`` entries were ever appended (journalctl -f)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.total > total, timeout)
