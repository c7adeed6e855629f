"""systemctl and service, over the guest's unit table and running services."""

from __future__ import annotations

import posixpath
import time
import zlib

from stemcell.sandbox.machine.disk import ROOT
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, Shell
from stemcell.sandbox.machine.system import ServiceError

_DESCRIPTIONS = {
    "apache2.service": ("The Apache HTTP Server", "https://httpd.apache.org/docs/2.4/"),
    "ssh.service": ("OpenBSD Secure Shell server", "man:sshd(8)"),
    "cloud-final.service": ("Cloud-init: Final Stage", ""),
    "cron.service": ("Regular background program processing daemon", "man:cron(8)"),
}

_MUTATING = {"start", "stop", "restart", "reload", "enable", "disable", "daemon-reload",
             "try-restart", "reload-or-restart", "mask", "unmask"}


def _pid(unit: str) -> int:
    return 700 + zlib.crc32(unit.encode()) % 2000


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)}min {int(seconds % 60)}s ago"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60)}min ago"


def _status(sh: Shell, unit: str, io: IO) -> int:
    system = sh.system
    if not system.unit_known(unit):
        io.eprint(f"Unit {unit} could not be found.")
        return 4
    desc, docs = _DESCRIPTIONS.get(unit, (unit.removesuffix(".service"), ""))
    enabled = "enabled" if system.disk.units.get(unit) else "disabled"
    active = system.is_active(unit)
    dot = "●"
    io.print(f"{dot} {unit} - {desc}")
    io.print(f"     Loaded: loaded (/usr/lib/systemd/system/{unit}; {enabled}; preset: enabled)")
    if active:
        since = system.services[system.unit_name(unit)]
        stamp = time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime(since))
        io.print(f"     Active: active (running) since {stamp}; {_ago(system.now() - since)}")
    elif unit in system.failed:
        io.print("     Active: failed (Result: exit-code)")
    else:
        io.print("     Active: inactive (dead)")
    if docs:
        io.print(f"       Docs: {docs}")
    running = system.processes.by_unit(unit)
    if running:  # a program the guest's worker runs for this unit
        main = running[0]
        io.print(f"   Main PID: {main.pid} ({posixpath.basename(main.command.split()[0])})")
    elif active:
        name = unit.removesuffix(".service").replace("ssh", "sshd")
        io.print(f"   Main PID: {_pid(unit)} ({name})")
    # The unit's last journal lines, as systemctl status prints them (-n 10).
    entries = system.journal.entries(unit)[-10:]
    if entries:
        io.print()
    for e in entries:
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(e.time))
        ident = (running[0].command.split()[0].rsplit("/", 1)[-1] if e.pid and running
                 else unit.removesuffix(".service"))
        io.print(f"{stamp} {system.hostname} {ident}[{e.pid or _pid(unit)}]: {e.line}")
    return 0 if active else 3


@command("systemctl")
def systemctl(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if not a.startswith("-")]
    flags = {a for a in argv[1:] if a.startswith("-")}
    quiet = "-q" in flags or "--quiet" in flags
    if not args:
        io.print("  UNIT                      LOAD   ACTIVE SUB     DESCRIPTION")
        for unit in sorted(sh.system.services):
            io.print(f"  {unit:<25} loaded active running {_DESCRIPTIONS.get(unit, (unit,))[0]}")
        return 0
    verb, *names = args
    system = sh.system
    units = [system.unit_name(n) for n in names]
    if verb in _MUTATING and sh.user != ROOT:
        what = {"enable": "enable unit", "disable": "disable unit",
                "daemon-reload": "reload daemon"}.get(verb)
        if what:
            io.eprint(f"Failed to {what}: Interactive authentication required.")
        else:
            for u in units:
                io.eprint(f"Failed to {verb} {u}: Interactive authentication required.")
                io.eprint(f"See system logs and 'systemctl status {u}' for details.")
        return 1
    if verb == "daemon-reload":
        return 0
    if verb in ("is-active", "is-failed"):
        status = 3 if verb == "is-active" else 1
        for u in units:
            state = "active" if system.is_active(u) else ("failed" if u in system.failed
                                                          else "inactive")
            if not quiet:
                io.print(state)
            if (verb == "is-active" and state == "active") or (verb == "is-failed"
                                                                and state == "failed"):
                status = 0
        return status if len(units) == 1 else (0 if all(system.is_active(u) for u in units)
                                               else 3)
    if verb == "is-enabled":
        status = 0
        for u in units:
            if not system.unit_known(u):
                io.eprint(f"Failed to get unit file state for {u}: No such file or directory")
                status = 1
                continue
            on = system.disk.units.get(u, False)
            if not quiet:
                io.print("enabled" if on else "disabled")
            if not on:
                status = 1
        return status
    if verb == "status":
        status = 0
        for i, u in enumerate(units):
            if i:
                io.print()
            status = max(status, _status(sh, u, io))
        return status
    if verb in ("enable", "disable"):
        for u in units:
            if not system.unit_known(u):
                io.eprint(f"Failed to {verb} unit: Unit file {u} does not exist.")
                return 1
            on = verb == "enable"
            wants = f"/etc/systemd/system/multi-user.target.wants/{u}"
            with system.lock:
                if system.disk.units.get(u, False) != on:
                    if on:
                        source = system.unit_file(u) or f"/usr/lib/systemd/system/{u}"
                        system.disk.mkdir(posixpath.dirname(wants))
                        system.disk.symlink(source, wants, force=True)
                        io.eprint(f"Created symlink {wants} → {source}.")
                    else:
                        if system.disk.get(wants, follow=False) is not None:
                            system.disk.remove(wants)
                        io.eprint(f"Removed \"{wants}\".")
                system.disk.units[u] = on
            if "--now" in flags:
                try:
                    (system.start_service if on else system.stop_service)(u)
                except ServiceError as exc:
                    io.eprint(str(exc))
                    return 1
        return 0
    if verb in ("start", "stop", "restart", "reload", "try-restart", "reload-or-restart"):
        for u in units:
            try:
                if verb == "start":
                    system.start_service(u)
                elif verb == "stop":
                    system.stop_service(u)
                elif verb == "try-restart":
                    if system.is_active(u):
                        system.restart_service(u)
                elif verb == "reload":
                    if not system.unit_known(u):
                        raise ServiceError(f"Failed to reload {u}: Unit {u} not found.")
                    if not system.is_active(u):
                        raise ServiceError(f"{u} is not active, cannot reload.")
                    system.restart_service(u)
                else:
                    system.restart_service(u)
            except ServiceError as exc:
                io.eprint(str(exc))
                return 1 if "not found" not in str(exc) else 5
        return 0
    io.eprint(f"not simulated in the sandbox: systemctl {verb} (it would run on AWS)")
    return 127


@command("service")
def service(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 3:
        io.eprint("Usage: service < option > | --status-all | "
                  "[ service_name [ command | --full-restart ] ]")
        return 1
    name, verb = argv[1], argv[2]
    if verb == "status":
        return systemctl(sh, ["systemctl", "status", name], io)
    return systemctl(sh, ["systemctl", verb, name], io)
