"""journalctl over the guest's journal (System.journal), and tail -f.

Output is systemd 255's default "short" format (`Nov 30 04:00:00 host ident[pid]:
message`), `-- No entries --` when nothing matches, `-o cat` for the message alone.
Follow modes (`journalctl -f`, `tail -f`) wait in wall time for new lines and end
on Ctrl-C (the shell's interrupt) or when the session closes, as on Ubuntu.
"""

from __future__ import annotations

import json
import time

from stemcell.sandbox.machine.disk import ROOT
from stemcell.sandbox.machine.processes import JournalEntry
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, CmdError, Shell, ShellExit

FOLLOW_POLL = 0.1  # wall seconds between checks for new lines


def _line(e: JournalEntry, host: str, output: str, off: float) -> str:
    """One entry as journalctl prints it. Entries keep their modeled instant (so
    intervals between them are the model's); ``off`` (System.clock_offset) puts the
    stamp on the guest's wall clock, the one ``date`` reads."""
    if output == "cat":
        return e.message
    wall = e.time - off
    if output == "json":
        return json.dumps({"__REALTIME_TIMESTAMP": str(int(wall * 1e6)),
                           "_SYSTEMD_UNIT": e.unit, "SYSLOG_IDENTIFIER": e.ident,
                           "_PID": str(e.pid), "_HOSTNAME": host, "MESSAGE": e.message})
    stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(wall))
    if output == "short-iso":
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(wall))
    pid = f"[{e.pid}]" if e.pid else ""
    return f"{stamp} {host} {e.ident}{pid}: {e.message}"


def _interrupted(sh: Shell) -> bool:
    return sh.system.cancel.is_set() or (sh.cancel is not None and sh.cancel.is_set())


@command("journalctl")
def journalctl(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    units: list[str] = []
    lines: int | None = None
    follow = False
    boot: int | None = None
    output = "short"
    kernel = False
    reverse = False
    i = 0
    while i < len(args):
        a = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if a in ("-u", "--unit") and nxt is not None:
            units.append(nxt)
            i += 1
        elif a.startswith("--unit="):
            units.append(a.split("=", 1)[1])
        elif a.startswith("-u") and len(a) > 2:
            units.append(a[2:])
        elif a in ("-n", "--lines") and nxt is not None and nxt.lstrip("+").isdigit():
            lines = int(nxt.lstrip("+"))
            i += 1
        elif a.startswith("--lines="):
            lines = int(a.split("=", 1)[1])
        elif a.startswith("-n") and a[2:].isdigit():
            lines = int(a[2:])
        elif a in ("-f", "--follow"):
            follow = True
        elif a in ("-b", "--boot"):
            boot = 0
            if nxt is not None and nxt.lstrip("-").isdigit():
                boot = int(nxt)
                i += 1
        elif a in ("-o", "--output") and nxt is not None:
            output = nxt
            i += 1
        elif a.startswith("--output="):
            output = a.split("=", 1)[1]
        elif a in ("-k", "--dmesg"):
            kernel = True
            boot = 0 if boot is None else boot
        elif a in ("-r", "--reverse"):
            reverse = True
        elif a in ("-e", "--pager-end"):
            lines = 1000 if lines is None else lines
        elif a in ("--no-pager", "-x", "--catalog", "-q", "--quiet", "-a", "--all",
                   "--no-hostname", "--system"):
            pass
        elif a in ("--since", "--until", "-p", "--priority", "-t", "--identifier") and nxt:
            raise CmdError(f"{a} is not simulated in the sandbox (it would run on AWS)", 127)
        elif a.startswith("-xeu") or a.startswith("-eu") or a.startswith("-xu"):
            units.append(args[i + 1] if len(a) <= 4 and nxt else a[4:])
            lines = 1000 if lines is None else lines
            if len(a) <= 4:
                i += 1
        else:
            raise CmdError(f"unrecognized option '{a}'" if a.startswith("--") else
                           f"invalid option -- '{a.lstrip('-')[:1]}'", 1)
        i += 1
    system = sh.system
    if sh.user != ROOT and not system.disk.member(sh.user, "adm") and \
            not system.disk.member(sh.user, "systemd-journal"):
        io.print("Hint: You are currently not seeing messages from other users and the "
                 "system.\n      Users in groups 'adm', 'systemd-journal' can see all "
                 "messages.\n      Pass -q to turn off this notice.")
        io.print("-- No entries --")
        return 0
    wanted = {system.unit_name(u) for u in units}
    boots = system.journal.boots

    def keep(e: JournalEntry) -> bool:
        if wanted and e.unit not in wanted:
            return False
        if kernel and e.ident != "kernel":
            return False
        if boot is not None and boots:
            index = len(boots) - 1 + boot if boot <= 0 else boot - 1
            if index < 0 or index >= len(boots):
                return False
            start = boots[index]
            end = boots[index + 1] if index + 1 < len(boots) else float("inf")
            return start <= e.time < end
        return True

    if boot is not None and boot != 0 and not (-len(boots) < boot <= 0 or
                                               0 < boot <= len(boots)):
        io.eprint("Data from the specified boot is not available: No such boot ID in journal")
        return 1
    entries, seen = system.journal.since(0)
    chosen = [e for e in entries if keep(e)]
    if follow and lines is None:
        lines = 10
    if lines is not None:
        chosen = chosen[-lines:] if lines else []
    if reverse:
        chosen.reverse()
    host = system.hostname
    if not chosen and not follow:
        io.print("-- No entries --")
        return 0
    for e in chosen:
        io.print(_line(e, host, output, system.clock_offset))
    if not follow:
        return 0
    while True:
        if _interrupted(sh):
            raise ShellExit(130)
        if system.journal.wait_beyond(seen, FOLLOW_POLL):
            fresh, seen = system.journal.since(seen)
            for e in fresh:
                if keep(e):
                    io.print(_line(e, host, output, system.clock_offset))


def follow_file(sh: Shell, path: str, shown: int, io: IO) -> int:
    """tail -f: print what is appended to ``path`` after ``shown`` bytes, until Ctrl-C."""
    disk = sh.system.disk
    while True:
        if _interrupted(sh):
            raise ShellExit(130)
        node = disk.get(path)
        data = node.data if node is not None and node.kind == "file" else b""
        if len(data) < shown:
            io.eprint(f"tail: {path}: file truncated")
            shown = 0
        if len(data) > shown:
            io.out(data[shown:])
            shown = len(data)
        with sh.system.clock.idle():  # following waits on the writers, it is not work
            time.sleep(FOLLOW_POLL)
