"""systemctl and service, over the guest's unit table and running services."""

from __future__ import annotations

import posixpath
import time

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


def _ago(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)}s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)}min {int(seconds % 60)}s ago"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60)}min ago"


def _status(sh: Shell, unit: str, io: IO) -> int:
    """systemctl status in systemd 255's layout; processes and log lines from the
    guest's process table and journal."""
    system = sh.system
    if not system.unit_known(unit):
        io.eprint(f"Unit {unit} could not be found.")
        return 4
    desc = system.unit_description(unit) or unit.removesuffix(".service")
    docs = _DESCRIPTIONS.get(unit, ("", ""))[1]
    enabled = "enabled" if system.disk.units.get(unit) else "disabled"
    active = system.is_active(unit)
    path = system.unit_file(unit) or f"/usr/lib/systemd/system/{unit}"
    io.print(f"{'●' if active or unit in system.failed else '○'} {unit} - {desc}")
    io.print(f"     Loaded: loaded ({path}; {enabled}; preset: enabled)")
    procs = [p for p in system.processes.list() if p.unit == unit]
    if active:
        since = system.services[system.unit_name(unit)]
        # The start's time of day on the guest's wall clock; the "ago" is modeled.
        stamp = time.strftime("%a %Y-%m-%d %H:%M:%S UTC", time.gmtime(system.wall_of(since)))
        io.print(f"     Active: active (running) since {stamp}; {_ago(system.now() - since)}")
    elif unit in system.failed:
        io.print("     Active: failed (Result: exit-code)")
    else:
        io.print("     Active: inactive (dead)")
    if docs:
        io.print(f"       Docs: {docs}")
    if active and procs:
        main = procs[0]
        io.print(f"   Main PID: {main.pid} ({main.comm})")
        io.print(f"      Tasks: {len(procs)} (limit: 1130)")
        mem = sum(p.rss_kb for p in procs) / 1024
        io.print(f"     Memory: {mem:.1f}M (peak: {mem * 1.1:.1f}M)")
        io.print(f"        CPU: {sum(p.cpu_seconds for p in procs) * 1000 + 40:.0f}ms")
        io.print(f"     CGroup: /system.slice/{unit}")
        for i, p in enumerate(procs):
            branch = "└─" if i == len(procs) - 1 else "├─"
            io.print(f"             {branch}{p.pid} {p.command}")
    tail = [e for e in system.journal.snapshot() if e.unit == unit][-10:]
    if tail:
        io.print()
        for e in tail:
            stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(system.wall_of(e.time)))
            io.print(f"{stamp} {system.hostname} {e.ident}{f'[{e.pid}]' if e.pid else ''}: "
                     f"{e.message}")
    return 0 if active else 3


def _unit_rows(sh: Shell) -> list[tuple[str, str, str, str]]:
    """Loaded units as list-units shows them: (unit, active, sub, description)."""
    system = sh.system
    running = set(system.services) | {p.unit for p in system.processes.list() if p.unit}
    rows = []
    for unit in sorted(running):
        rows.append((unit, "active", "running", system.unit_description(unit) or unit))
    if system.cloud_init.status in ("done", "error"):
        for unit in ("cloud-config.service", "cloud-final.service", "cloud-init-local.service",
                     "cloud-init.service"):
            rows.append((unit, "active", "exited", system.unit_description(unit) or unit))
    for unit in sorted(system.failed):
        rows.append((unit, "failed", "failed", system.unit_description(unit) or unit))
    return sorted(rows)


def _list_units(sh: Shell, argv: list[str], io: IO) -> int:
    types: set[str] = set()
    states: set[str] = set()
    for a in argv:
        if a.startswith("--type=") or a.startswith("-t="):
            types.update(a.split("=", 1)[1].split(","))
        if a.startswith("--state="):
            states.update(a.split("=", 1)[1].split(","))
    rows = [r for r in _unit_rows(sh)
            if (not types or r[0].rsplit(".", 1)[-1] in types)
            and (not states or r[1] in states or r[2] in states)]
    width = max([len("UNIT")] + [len(r[0]) for r in rows])
    plain = "--plain" in argv
    lead = "" if plain else "  "
    if "--no-legend" not in argv:
        io.print(f"{lead}{'UNIT':<{width}} LOAD   ACTIVE SUB     DESCRIPTION")
    for unit, active, sub, desc in rows:
        mark = "● " if active == "failed" and not plain else lead
        io.print(f"{mark}{unit:<{width}} loaded {active:<6} {sub:<7} {desc}")
    if "--no-legend" not in argv:
        io.print("\nLegend: LOAD   → Reflects whether the unit definition was properly loaded."
                 "\n        ACTIVE → The high-level unit activation state, i.e. "
                 "generalization of SUB.\n        SUB    → The low-level unit activation state,"
                 " values depend on unit type.\n")
        io.print(f"{len(rows)} loaded units listed. Pass --all to see loaded but inactive "
                 "units, too.\nTo show all installed unit files use 'systemctl "
                 "list-unit-files'.")
    return 0


def _list_unit_files(sh: Shell, argv: list[str], io: IO) -> int:
    system = sh.system
    names = set(system.disk.units)
    for folder in ("/usr/lib/systemd/system", "/etc/systemd/system"):
        if system.disk.is_dir(folder):
            names.update(n for n in system.disk.listdir(folder) if "." in n)
    names.discard("multi-user.target.wants")
    rows = sorted(names)
    width = max(len("UNIT FILE"), *(len(n) for n in rows)) if rows else len("UNIT FILE")
    io.print(f"{'UNIT FILE':<{width}} STATE           PRESET")
    for n in rows:
        state = "enabled" if system.disk.units.get(n) else "disabled"
        io.print(f"{n:<{width}} {state:<15} enabled")
    io.print(f"\n{len(rows)} unit files listed.")
    return 0


def _cat(sh: Shell, units: list[str], io: IO) -> int:
    system = sh.system
    status = 0
    for i, u in enumerate(units):
        path = system.unit_file(u)
        if path is None:
            io.eprint(f"No files found for {u}.")
            status = 1
            continue
        if i:
            io.print()
        io.print(f"# {path}")
        io.out(system.disk.read(path))
    return status


@command("systemctl")
def systemctl(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if not a.startswith("-")]
    flags = {a for a in argv[1:] if a.startswith("-")}
    quiet = "-q" in flags or "--quiet" in flags
    if not args or args[0] == "list-units":
        return _list_units(sh, argv, io)
    if args[0] == "list-unit-files":
        return _list_unit_files(sh, argv, io)
    verb, *names = args
    if verb == "cat":
        return _cat(sh, [sh.system.unit_name(n) for n in names], io)
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
