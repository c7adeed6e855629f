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


class System:
    def __init__(self, disk: Disk, clock: Clock, model: BootModel | None = None, *,
                 catalogue: Catalogue | None = None, instance_id: str = "i-0sandbox",
                 hostname: str = "ip-172-31-0-10", private_ip: str = "172.31.0.10",
                 public_ip: str = "") -> None:
        self.disk = disk
        self.clock = clock
        self.model = model or BootModel.default()
        self.catalogue = catalogue or Catalogue.default()
        self.instance_id = instance_id
        self.hostname = hostname
        self.private_ip = private_ip
        self.public_ip = public_ip
        self.lock = threading.RLock()  # one dpkg / one systemd at a time, as on Ubuntu
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
        # What runs (ps) and what it logged (journalctl): see processes.py.
        self.processes = ProcessTable()
        self.journal = Journal(self.now)

    # --- time ----------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.now()

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
        self.services[unit] = self.now()
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
        self._changed(unit, False)

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

    def _log_journal(self, unit: str, lines: list[str]) -> None:
        for ln in lines:
            self.journal.append(unit, ln)
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(self.now()))
        text = "".join(f"{stamp} {self.hostname} {unit.removesuffix('.service')}[1234]: {ln}\n"
                       for ln in lines)
        try:
            self.disk.write("/var/log/syslog", text, append=True, group="adm", mode=0o640)
        except OSError:
            pass

    def journal_tail(self, unit: str) -> list[str]:
        try:
            text = self.disk.read_text("/var/log/syslog")
        except OSError:
            return []
        name = unit.removesuffix(".service")
        return [ln for ln in text.splitlines() if f" {name}[" in ln][-5:]


_UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")

# Units whose being active matters to something we model (others are bookkeeping).
_REAL_SERVICES = {"apache2.service", "cron.service", "rsyslog.service",
                  "systemd-networkd.service", "systemd-resolved.service"}
