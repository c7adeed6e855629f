"""The running operating system of a guest, as the shell's commands see it:
disk, clock, services, identity, cloud-init state. No sockets here, so the
interpreter and every command can be tested without a network."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stemcell.engine.clock import Clock
from stemcell.sandbox.machine import apache_server
from stemcell.sandbox.machine.boot_model import BootModel
from stemcell.sandbox.machine.catalogue import Catalogue
from stemcell.sandbox.machine.disk import Disk
from stemcell.sandbox.machine.processes import Journal, ProcessTable

KERNEL = "6.8.0-1019-aws"

Sleeper = Callable[[float], None]


@dataclass
class CloudInitState:
    """What `cloud-init status` and `cloud-init analyze` report."""

    status: str = "not started"  # not started | running | done | error
    stage: str = ""
    boot_started: float = 0.0
    errors: list[str] = field(default_factory=list)
    recoverable: list[str] = field(default_factory=list)  # warnings: status "degraded done"
    # cloud-init analyze dump events (dicts in cloud-init's event format)
    events: list[dict[str, Any]] = field(default_factory=list)
    last_update: float = 0.0


class ServiceError(Exception):
    pass


class Timeline:
    """A modeled-time cursor. Work advances it by its modeled duration and we sleep
    until the clock reaches it, so Python's own overhead (which a high --speed turns
    into many modeled seconds) is absorbed instead of added, as long as it is smaller
    than the modeled work."""

    def __init__(self, clock: Clock, start: float | None = None) -> None:
        self.clock = clock
        self.t = clock.now() if start is None else start

    def advance(self, seconds: float, cancel: threading.Event | None) -> bool:
        self.t += max(0.0, seconds)
        return self.clock.sleep(max(0.0, self.t - self.clock.now()), cancel)

    def until(self, modeled: float, cancel: threading.Event | None) -> bool:
        self.t = max(self.t, modeled)
        return self.clock.sleep(max(0.0, self.t - self.clock.now()), cancel)


class WaitingLock:
    """A re-entrant lock whose waiters do not hold the modeled clock.

    The holder may be in a modeled wait (apt's download under the dpkg lock);
    a waiter counted as host work would stop the clock that wait needs."""

    def __init__(self, clock: Clock) -> None:
        self._lock = threading.RLock()
        self._clock = clock

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(blocking=False):
            return True
        if not blocking:
            return False
        with self._clock.idle():
            return self._lock.acquire(timeout=timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class System:
    def __init__(self, disk: Disk, clock: Clock, model: BootModel | None = None, *,
                 catalogue: Catalogue | None = None, instance_id: str = "i-0sandbox",
                 hostname: str = "ip-172-31-0-10", private_ip: str = "172.31.0.10",
                 public_ip: str = "") -> None:
        self.disk = disk
        self.clock = clock
        self.model = model or BootModel.default()
        self.catalogue = catalogue or Catalogue.for_image(disk.release, disk.arch)
        self.instance_id = instance_id
        self.hostname = hostname
        self.private_ip = private_ip
        self.public_ip = public_ip
        self.lock = WaitingLock(clock)  # one dpkg / one systemd at a time, as on Ubuntu
        self.cancel = threading.Event()  # set on shutdown: running commands give up
        self.services: dict[str, float] = {}  # active unit -> modeled start time
        self.failed: set[str] = set()
        self.cloud_init = CloudInitState()
        self.cloud_init_done = threading.Event()
        self.booted_at: float = 0.0
        self.network_up = False
        # Listeners (the HTTP server) learn about service changes through this.
        self.on_service_change: list[Callable[[str, bool], None]] = []
        # The guest's own web server, for curl http://localhost/ inside the guest.
        self.local_http: Callable[[str, str, dict[str, str]],
                                  tuple[int, dict[str, str], bytes]] | None = None
        self.image_id = ""
        self.imds_tokens: set[str] = set()
        # The running command's way of spending modeled time (per thread), so a
        # service start inside `apt-get install` is on that command's timeline.
        self._local = threading.local()
        # What `ps` and `journalctl` read (processes.py): filled at boot and as services
        # start and stop.
        self.processes = ProcessTable()
        self.processes.boot(clock.now())
        self.journal = Journal(now=self.now)
        # The guest's realtime clock is set from the host's when the instance is created
        # (as chrony sets an instance's clock from the Amazon Time Sync Service,
        # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/set-time.html), then ticks at
        # the model's pace: a constant offset from modeled time. See wall_now().
        self.clock_offset = clock.now() - time.time()
        disk.clock.use(self.wall_now)

    def power_on(self, at: float) -> None:
        """A new boot: pid 1 and the base processes again; journald marks the boot."""
        self.booted_at = at
        self.processes.boot(at)
        self.journal.boots.append(at)
        self.journal.append("", f"Linux version {KERNEL} (buildd@lcy02-amd64-086) "
                            "#19-Ubuntu SMP", ident="kernel", when=at)
        self.journal.append("", "systemd 255.4-1ubuntu8.4 running in system mode",
                            ident="systemd", pid=1, when=at)

    # --- time ----------------------------------------------------------------------

    def now(self) -> float:
        """The *modeled* instant. Use it for durations and for what is stored to compute
        durations later: timelines and sleeps, uptime, process start times (``ps``'s
        elapsed), service start times (``systemctl status``'s "N min ago"), journal
        entries. Never print it as a time of day: render a stored modeled instant with
        :meth:`wall_of`, and stamp "now" with :meth:`wall_now`."""
        return self.clock.now()

    def wall_now(self) -> float:
        """The guest's wall clock (epoch seconds): what ``date``, ``timedatectl``, file
        mtimes (``ls -l``, ``stat``, ``touch``, ``find -mmin``), ``uptime``'s time of day,
        PHP's ``time()``, HTTP ``Date:`` headers and every log line the guest writes
        (cloud-init's logs, Apache's, the journal as shown) read.

        It read the host's clock when the instance was created and has since advanced by
        modeled time, so the time of day is the host's (give or take the modeled time
        this guest has compressed) while every *interval* between two stamps is modeled:
        ``cloud-init analyze`` on the guest's own log measures modeled durations. It is
        one clock, as on Ubuntu, where ``date`` and the log stamps agree: the lab reads
        ``date +%s.%N`` to learn a guest's clock offset and corrects the cloud-init stamps
        by it (timing/skew.py), which only works if ``date`` reads the clock that stamps
        the logs. A guest clock that read the host's clock exactly while the logs kept
        modeled intervals would be two clocks, and that correction would move the
        cloud-init stages by the whole gap."""
        return self.clock.now() - self.clock_offset

    def wall_of(self, modeled: float) -> float:
        """A stored modeled instant (a process's start, a journal entry) on the guest's
        wall clock, for printing as a time of day."""
        return modeled - self.clock_offset

    def sleep(self, seconds: float) -> bool:
        """Spend ``seconds`` of modeled time; False if the machine is going down."""
        sleeper: Sleeper | None = getattr(self._local, "sleeper", None)
        if sleeper is not None:
            sleeper(seconds)  # raises the shell's interrupt if cancelled
            return True
        if seconds <= 0:
            return not self.cancel.is_set()
        return self.clock.sleep(seconds, self.cancel)

    def set_sleeper(self, sleeper: Sleeper | None) -> Sleeper | None:
        previous: Sleeper | None = getattr(self._local, "sleeper", None)
        self._local.sleeper = sleeper
        return previous

    def uptime(self) -> float:
        return max(0.0, self.now() - self.booted_at) if self.booted_at else 0.0

    # --- services ------------------------------------------------------------------

    @staticmethod
    def unit_name(name: str) -> str:
        return name if "." in name else f"{name}.service"

    def unit_file(self, unit: str) -> str | None:
        for folder in _UNIT_DIRS:
            path = f"{folder}/{unit}"
            if self.disk.is_file(path):
                return path
        return None

    def unit_known(self, unit: str) -> bool:
        unit = self.unit_name(unit)
        return unit in self.disk.units or unit == "ssh.service" or \
            self.unit_file(unit) is not None

    def _exec_start_missing(self, unit: str) -> str | None:
        """The ExecStart program of a unit file, if it is not on the disk."""
        path = self.unit_file(unit)
        if path is None:
            return None
        for line in self.disk.read_text(path).splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "ExecStart" and value.strip():
                prog = value.strip().lstrip("-@:+!").split()[0]
                if prog.startswith("/") and not self.disk.is_file(prog):
                    return prog
        return None

    def is_active(self, unit: str) -> bool:
        return self.unit_name(unit) in self.services

    def start_service(self, unit: str, *, modeled: bool = True) -> None:
        unit = self.unit_name(unit)
        if not self.unit_known(unit):
            raise ServiceError(f"Failed to start {unit}: Unit {unit} not found.")
        if unit in self.services:
            return
        if unit == "apache2.service":
            errors = apache_server.read_config(self.disk).errors
            if errors:
                self.failed.add(unit)
                self._log_journal(unit, errors)
                raise ServiceError(
                    f"Job for {unit} failed because the control process exited with error "
                    f"code.\nSee \"systemctl status {unit}\" and \"journalctl -xeu {unit}\" "
                    "for details.")
        missing = self._exec_start_missing(unit) if unit not in _REAL_SERVICES else None
        if missing:
            self.failed.add(unit)
            self._log_journal(unit, [f"{unit}: Failed to locate executable {missing}: No such "
                                     "file or directory",
                                     f"{unit}: Main process exited, code=exited, "
                                     "status=203/EXEC"])
            raise ServiceError(f"Job for {unit} failed because the control process exited "
                               f"with error code.\nSee \"systemctl status {unit}\" and "
                               f"\"journalctl -xeu {unit}\" for details.")
        if modeled:
            self.sleep(self.model.service_start)
        self.failed.discard(unit)
        now = self.now()
        self.services[unit] = now
        self.processes.start_unit(unit, self.exec_start(unit), now,
                                  self._unit_key(unit, "User") or "root")
        desc = self.unit_description(unit)
        named = f"{unit} - {desc}" if desc else unit
        self.journal.append(unit, f"Starting {named}...", ident="systemd", pid=1, when=now)
        if unit == "apache2.service" and not any(
                line.strip().lower().startswith("servername ")
                for _, line in apache_server.config_lines(self.disk)):
            # What apachectl prints on every Ubuntu start without a global ServerName.
            self.journal.append(unit, "AH00558: apache2: Could not reliably determine the "
                                f"server's fully qualified domain name, using {self.private_ip}"
                                ". Set the 'ServerName' directive globally to suppress this "
                                "message", ident="apachectl",
                                pid=self.processes.next_pid(), when=now)
        self.journal.append(unit, f"Started {named}.", ident="systemd", pid=1, when=now)
        self._changed(unit, True)

    def stop_service(self, unit: str, *, modeled: bool = True) -> None:
        unit = self.unit_name(unit)
        if not self.unit_known(unit):
            raise ServiceError(f"Failed to stop {unit}: Unit {unit} not loaded.")
        if unit not in self.services:
            return
        if modeled:
            self.sleep(self.model.service_stop)
        del self.services[unit]
        self.processes.stop_unit(unit)
        desc = self.unit_description(unit)
        named = f"{unit} - {desc}" if desc else unit
        now = self.now()
        self.journal.append(unit, f"Stopping {named}...", ident="systemd", pid=1, when=now)
        self.journal.append(unit, f"{unit}: Deactivated successfully.", ident="systemd",
                            pid=1, when=now)
        self.journal.append(unit, f"Stopped {named}.", ident="systemd", pid=1, when=now)
        self._changed(unit, False)

    def unit_ended(self, unit: str, failed: bool) -> None:
        """The unit's program ended by itself: the unit is inactive, or failed. systemd
        logs no "Stopping/Stopped" then; the worker has logged why the program ended."""
        unit = self.unit_name(unit)
        if unit in self.services:
            del self.services[unit]
            self.processes.stop_unit(unit)
            if not failed:
                self.journal.append(unit, f"{unit}: Deactivated successfully.",
                                    ident="systemd", pid=1)
            self._changed(unit, False)
        if failed:
            self.failed.add(unit)

    def restart_service(self, unit: str) -> None:
        self.stop_service(unit)
        self.start_service(unit)

    def stop_all(self) -> None:
        for unit in list(self.services):
            self.stop_service(unit, modeled=False)

    def start_enabled(self) -> list[str]:
        """What systemd's multi-user.target does at boot (except ssh, started separately)."""
        started = []
        for unit, on in sorted(self.disk.units.items()):
            # Units an admin dropped into /etc/systemd/system start too (the worker).
            custom = self.disk.is_file(f"/etc/systemd/system/{unit}")
            if on and unit != "ssh.service" and (unit in _REAL_SERVICES or custom):
                try:
                    self.start_service(unit, modeled=False)
                    started.append(unit)
                except ServiceError:
                    pass
        return started

    def _changed(self, unit: str, active: bool) -> None:
        for cb in list(self.on_service_change):
            cb(unit, active)

    def exec_start(self, unit: str) -> str | None:
        """The ExecStart command line of a unit file on the disk, if any."""
        return self._unit_key(unit, "ExecStart")

    def unit_description(self, unit: str) -> str | None:
        return self._unit_key(unit, "Description") or \
            UNIT_DESCRIPTIONS.get(self.unit_name(unit))

    def _unit_key(self, unit: str, key: str) -> str | None:
        path = self.unit_file(self.unit_name(unit))
        if path is None:
            return None
        for line in self.disk.read_text(path).splitlines():
            k, _, value = line.partition("=")
            if k.strip() == key and value.strip():
                return value.strip().lstrip("-@:+!") if key == "ExecStart" else value.strip()
        return None

    def _log_journal(self, unit: str, lines: list[str]) -> None:
        for ln in lines:
            self.journal.append(unit, ln, when=self.now())
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(self.wall_now()))
        text = "".join(f"{stamp} {self.hostname} {unit.removesuffix('.service')}[1234]: {ln}\n"
                       for ln in lines)
        try:
            self.disk.write("/var/log/syslog", text, append=True, group="adm", mode=0o640)
        except OSError:
            pass

# Descriptions of the image's own units (their unit files are not modeled).
UNIT_DESCRIPTIONS = {
    "apache2.service": "The Apache HTTP Server",
    "ssh.service": "OpenBSD Secure Shell server",
    "cron.service": "Regular background program processing daemon",
    "rsyslog.service": "System Logging Service",
    "systemd-networkd.service": "Network Configuration",
    "systemd-resolved.service": "Network Name Resolution",
    "systemd-journald.service": "Journal Service",
    "systemd-logind.service": "User Login Management",
    "systemd-udevd.service": "Rule-based Manager for Device Events and Files",
    "cloud-init-local.service": "Cloud-init: Local Stage (pre-network)",
    "cloud-init.service": "Cloud-init: Network Stage",
    "cloud-config.service": "Cloud-init: Config Stage",
    "cloud-final.service": "Cloud-init: Final Stage",
    "snapd.service": "Snap Daemon",
    "unattended-upgrades.service": "Unattended Upgrades Shutdown",
    "dbus.service": "D-Bus System Message Bus",
    "getty@tty1.service": "Getty on tty1",
    "serial-getty@ttyS0.service": "Serial Getty on ttyS0",
    "apache-htcacheclean.service": "Disk Cache Cleaning Daemon for Apache HTTP Server",
}

_UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")

# Units whose being active matters to something we model (others are bookkeeping).
_REAL_SERVICES = {"apache2.service", "cron.service", "rsyslog.service",
                  "systemd-networkd.service", "systemd-resolved.service"}
