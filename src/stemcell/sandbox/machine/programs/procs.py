"""Processes: ps (BSD and standard syntax), top -b, pgrep/pkill, kill.

Formats follow procps-ng 4.0.4 (Ubuntu 24.04's procps package): column
widths, alignment and headers as ps(1)'s STANDARD FORMAT SPECIFIERS table
gives them; `-o key:width` pads a column as `ps -o user:50` does.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from stemcell.sandbox.machine.disk import ROOT
from stemcell.sandbox.machine.processes import Process
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.resources import MEM_TOTAL_KB, memory
from stemcell.sandbox.machine.shell import IO, CmdError, Shell

_SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15,
            "CONT": 18, "STOP": 19, "0": 0}


@dataclass(frozen=True)
class _Col:
    header: str
    width: int
    right: bool


# ps(1) STANDARD FORMAT SPECIFIERS: header, default width, alignment.
_COLS: dict[str, _Col] = {
    "pid": _Col("PID", 7, True), "ppid": _Col("PPID", 7, True),
    "user": _Col("USER", 8, False), "euser": _Col("EUSER", 8, False),
    "uid": _Col("UID", 5, True), "group": _Col("GROUP", 8, False),
    "comm": _Col("COMMAND", 15, False), "ucmd": _Col("CMD", 15, False),
    "args": _Col("COMMAND", 27, False), "command": _Col("COMMAND", 27, False),
    "cmd": _Col("CMD", 27, False),
    "pcpu": _Col("%CPU", 4, True), "%cpu": _Col("%CPU", 4, True),
    "pmem": _Col("%MEM", 4, True), "%mem": _Col("%MEM", 4, True),
    "vsz": _Col("VSZ", 6, True), "rss": _Col("RSS", 5, True),
    "tty": _Col("TT", 8, False), "tname": _Col("TTY", 8, False),
    "stat": _Col("STAT", 4, False), "s": _Col("S", 1, False),
    "start": _Col("STARTED", 8, True), "lstart": _Col("STARTED", 24, False),
    "stime": _Col("STIME", 5, False), "etime": _Col("ELAPSED", 11, True),
    "etimes": _Col("ELAPSED", 7, True), "time": _Col("TIME", 8, True),
    "nlwp": _Col("NLWP", 4, True), "ni": _Col("NI", 3, True), "pri": _Col("PRI", 3, True),
}
_UIDS = {"root": 0, "systemd-network": 998, "systemd-resolve": 991, "messagebus": 101,
         "syslog": 102, "www-data": 33, "ubuntu": 1000}


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _etime(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d}-{h:02d}:{m:02d}:{s:02d}"
    if h:
        return f"{h:02d}:{m:02d}:{s:02d}"
    return f"{m:02d}:{s:02d}"


def _start(p: Process, now: float, off: float) -> str:
    """START/STIME: the time of day if started today, else month and day (ps(1)).
    ``now`` and ``p.started`` are modeled; ``off`` turns them into the guest's wall
    clock (System.wall_of), so START agrees with ``date`` and ELAPSED stays modeled."""
    t = time.gmtime(p.started - off)
    if now - p.started < 86400 and time.gmtime(now - off).tm_yday == t.tm_yday:
        return time.strftime("%H:%M", t)
    return time.strftime("%b%d", t)


def _value(key: str, p: Process, now: float, off: float) -> str:
    pcpu = min(99.9, 100.0 * p.cpu_seconds / max(1.0, now - p.started))
    return {
        "pid": str(p.pid), "ppid": str(p.ppid), "user": p.user, "euser": p.user,
        "uid": str(_UIDS.get(p.user, 1001)), "group": p.user if p.user != "syslog" else "syslog",
        "comm": p.comm, "ucmd": p.comm, "args": p.command, "command": p.command,
        "cmd": p.command, "pcpu": f"{pcpu:.1f}", "%cpu": f"{pcpu:.1f}",
        "pmem": f"{100.0 * p.rss_kb / MEM_TOTAL_KB:.1f}",
        "%mem": f"{100.0 * p.rss_kb / MEM_TOTAL_KB:.1f}",
        "vsz": str(p.vsz_kb), "rss": str(p.rss_kb), "tty": p.tty, "tname": p.tty,
        "stat": p.stat, "s": p.stat[:1],
        "start": time.strftime("%H:%M:%S", time.gmtime(p.started - off)),
        "lstart": time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(p.started - off)),
        "stime": _start(p, now, off), "etime": _etime(now - p.started),
        "etimes": str(int(now - p.started)), "time": _clock(p.cpu_seconds),
        "nlwp": "1", "ni": "0", "pri": "19",
    }[key]


def _table(sh: Shell, argv: list[str]) -> list[Process]:
    """The process table as this ps sees it, including the ps itself."""
    system = sh.system
    procs = system.processes.list()
    me = Process(system.processes.next_pid(), procs[-1].pid if procs else 1, sh.user,
                 " ".join(argv), system.now(), tty=sh.terminal.name if sh.terminal else "?",
                 stat="R+" if sh.terminal else "R", vsz_kb=11320, rss_kb=4480)
    return [*procs, me]


def _keys(spec: str) -> list[tuple[str, int, str]]:
    out = []
    for item in spec.replace(" ", ",").split(","):
        if not item:
            continue
        name, _, rest = item.partition(":")
        header = ""
        if "=" in name:
            name, _, header = name.partition("=")
        if "=" in rest:
            rest, _, header = rest.partition("=")
        col = _COLS.get(name.lower())
        if col is None:
            raise CmdError("error: unknown user-defined format specifier \"" + name + "\"\n\n"
                           "Usage:\n ps [options]\n\n Try 'ps --help <simple|list|output|"
                           "threads|misc|all>'\n  or 'ps --help <s|l|o|t|m|a>'\n for "
                           "additional help text.\n\nFor more details see ps(1).", 1)
        width = int(rest) if rest.isdigit() else col.width
        blank = "=" in item  # `-o user=`: this column's header is empty
        out.append((name.lower(), width, header if blank else col.header))
    return out


@command("ps")
def ps(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    bsd: set[str] = set()
    every = False
    fmt: list[tuple[str, int, str]] | None = None
    pids: list[int] | None = None
    users: set[str] | None = None
    names: set[str] | None = None
    headers = True
    full = False
    sort_spec = ""
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-e", "-A"):
            every = True
        elif a in ("-ef", "-fe", "-Af", "-fA", "-eF"):
            every, full = True, True
        elif a == "-f" or a == "-F":
            full = True
        elif a in ("-w", "-ww", "ww", "w", "-Aww", "-eww") or a.lstrip("-") in ("ww", "w"):
            every = every or a.startswith("-A") or a.startswith("-e")
        elif a in ("-o", "o", "--format", "-eo", "-Ao", "-p", "p", "--pid", "-C", "-u", "U",
                   "-U", "--user", "--sort", "-Aww"):
            if i + 1 >= len(args):
                raise CmdError("error: list of process IDs must follow -p" if "p" in a else
                               "error: format specification must follow -o", 1)
            val = args[i + 1]
            i += 1
            if a in ("-o", "o", "--format", "-eo", "-Ao"):
                every = every or a in ("-eo", "-Ao")
                fmt = (fmt or []) + _keys(val)
            elif a in ("-p", "p", "--pid"):
                try:
                    pids = (pids or []) + [int(x) for x in val.replace(",", " ").split()]
                except ValueError:
                    raise CmdError("error: process ID list syntax error", 1) from None
            elif a == "-C":
                names = set(val.split(","))
            elif a in ("-u", "U", "-U", "--user"):
                users = set(val.split(","))
            elif a == "--sort":
                sort_spec = val
        elif a.startswith("--sort") or a.startswith("--format=") or a.startswith("-o"):
            if a.startswith("--sort="):
                sort_spec = a.split("=", 1)[1]
            elif a.startswith("-o"):
                fmt = (fmt or []) + _keys(a[2:])
            elif a.startswith("--format="):
                fmt = (fmt or []) + _keys(a.split("=", 1)[1])
        elif a in ("--no-headers", "--no-heading", "h"):
            headers = False
        elif a.startswith("-p") and a[2:].isdigit():
            pids = (pids or []) + [int(a[2:])]
        elif re.fullmatch(r"-?[auxwfe]+", a) and not a.startswith("-e"):
            bsd.update(a.lstrip("-"))
        else:
            raise CmdError(f"error: unsupported option (BSD syntax)\n\n{_USAGE}"
                           if not a.startswith("-") else
                           f"error: unsupported SysV option\n\n{_USAGE}", 1)
        i += 1
    now, off = sh.system.now(), sh.system.clock_offset
    rows = _table(sh, argv)
    if pids is not None:
        rows = [p for p in rows if p.pid in pids]
    elif names is not None:
        rows = [p for p in rows if p.comm in names]
    elif users is not None:
        rows = [p for p in rows if p.user in users]
    elif not every and not ({"a", "x"} <= bsd):
        # Without selection: this terminal's processes (ps alone, ps u, ps -f).
        tty = sh.terminal.name if sh.terminal else "?"
        rows = [p for p in rows if p.tty == tty and p.user == sh.user
                and (p.tty != "?" or p is rows[-1] or p.command.endswith("bash"))]
    if sort_spec:
        rows = _sorted(rows, sort_spec, now, off)
    if fmt is not None:
        keys = fmt
    elif "u" in bsd:
        keys = [("user", 8, "USER"), ("pid", 7, "PID"), ("pcpu", 4, "%CPU"),
                ("pmem", 4, "%MEM"), ("vsz", 6, "VSZ"), ("rss", 5, "RSS"),
                ("tname", 8, "TTY"), ("stat", 4, "STAT"), ("stime", 5, "START"),
                ("bsdtime", 6, "TIME"), ("args", 0, "COMMAND")]
        keys = [k if k[0] != "bsdtime" else ("time", 6, "TIME") for k in keys]
    elif bsd:
        keys = [("pid", 7, "PID"), ("tname", 8, "TTY"), ("stat", 4, "STAT"),
                ("time", 6, "TIME"), ("args", 0, "COMMAND")]
    elif full:
        keys = [("user", 8, "UID"), ("pid", 7, "PID"), ("ppid", 7, "PPID"), ("c", 2, "C"),
                ("stime", 5, "STIME"), ("tname", 8, "TTY"), ("time", 8, "TIME"),
                ("cmd", 0, "CMD")]
    else:
        keys = [("pid", 7, "PID"), ("tname", 8, "TTY"), ("time", 8, "TIME"),
                ("ucmd", 0, "CMD")]
    bsd_time = bool(bsd) and fmt is None
    _render_rows(keys, rows, now, off, io, headers, bsd_time)
    return 0 if rows else 1


def _sorted(rows: list[Process], spec: str, now: float, off: float) -> list[Process]:
    """--sort=[+|-]key,...: numeric keys compare as numbers (ps(1) OBSOLETE SORT KEYS
    aside, the STANDARD FORMAT SPECIFIERS are accepted)."""
    for item in reversed([x for x in spec.split(",") if x]):
        desc = item.startswith("-")
        key = item.lstrip("+-").lower()
        if key not in _COLS:
            raise CmdError(f"error: unknown sort specifier\n\n{_USAGE}", 1)

        def value(p: Process, k: str = key) -> tuple[float, str]:
            v = _value(k, p, now, off)
            try:
                return (float(v), "")
            except ValueError:
                return (0.0, v)
        rows = sorted(rows, key=value, reverse=desc)
    return rows


def _render_rows(keys: list[tuple[str, int, str]], rows: list[Process], now: float, off: float,
                 io: IO, headers: bool, bsd_time: bool) -> None:
    def value(k: str, p: Process) -> str:
        if k == "c":
            return "0"
        if k in ("user", "euser", "group"):
            # procps shows a name wider than its column as its first chars and "+"
            # (systemd-network -> "systemd+"); a width given with user:N is honoured.
            name = _value(k, p, now, off)
            width = next(w for key, w, _ in keys if key == k)
            return name if len(name) <= width else name[:width - 1] + "+"
        if k == "time" and bsd_time:
            s = int(p.cpu_seconds)
            return f"{s // 60}:{s % 60:02d}"
        return _value(k, p, now, off)

    def right(k: str) -> bool:
        return k == "c" or _COLS[k].right

    table = []
    if headers and any(h for _, _, h in keys):  # all headers blanked: no header line
        table.append([(h, w, right(k)) for k, w, h in keys])
    table += [[(value(k, p), w, right(k)) for k, w, _ in keys] for p in rows]
    for cells in table:
        out = []
        debt = 0  # procps takes a too-wide value's overflow back from the next paddings
        for i, (text, width, r) in enumerate(cells):
            last = i == len(cells) - 1
            eff = max(len(text), width - debt)
            debt = max(0, debt + eff - width)
            out.append(text.rjust(eff) if r else (text if last else text.ljust(eff)))
        io.print(" ".join(out))


_USAGE = ("Usage:\n ps [options]\n\n Try 'ps --help <simple|list|output|threads|misc|all>'\n"
          "  or 'ps --help <s|l|o|t|m|a>'\n for additional help text.\n\n"
          "For more details see ps(1).")


@command("top")
def top(sh: Shell, argv: list[str], io: IO) -> int:
    flags = "".join(a.lstrip("-") for a in argv[1:] if a.startswith("-"))
    if "b" in flags:
        _top_frame(sh, argv, io)
        return 0
    term = sh.terminal
    if term is None:
        io.eprint("top: failed tty get")
        return 1
    # Full screen: a frame every 3 s (top's default delay, in wall time) until q or ^C.
    term.raw(True)
    term.write(b"\x1b[?1049h")
    try:
        while True:
            buf: list[bytes] = []
            _top_frame(sh, argv, IO(b"", buf.append))
            cols, rows = term.size()
            frame = b"".join(buf).decode().splitlines()[:rows]
            term.write(("\x1b[H\x1b[2J" + "\r\n".join(ln[:cols] for ln in frame)).encode())
            deadline = time.monotonic() + 3.0
            while time.monotonic() < deadline:
                sh.check_cancel()
                data = term.read(0.2)
                if data is None:
                    return 129
                if b"q" in data or b"\x03" in data:
                    return 0
    finally:
        term.write(b"\x1b[?1049l")
        term.raw(False)


def _top_frame(sh: Shell, argv: list[str], io: IO) -> None:
    system = sh.system
    rows = _table(sh, argv)
    up = system.uptime()
    users = system.processes.logins()
    clock = time.strftime("%H:%M:%S", time.gmtime(system.wall_now()))  # time of day
    mem = memory(system)
    io.print(f"top - {clock} up {_up(up)},  {users} user{'s' if users != 1 else ''},  "
             "load average: 0.00, 0.00, 0.00")
    running = 1
    io.print(f"Tasks: {len(rows):>3} total, {running:>3} running, {len(rows) - running:>3} "
             "sleeping,   0 stopped,   0 zombie")
    io.print("%Cpu(s):  0.0 us,  0.0 sy,  0.0 ni,100.0 id,  0.0 wa,  0.0 hi,  0.0 si,  0.0 st ")
    mib = {k: v / 1024 for k, v in mem.items()}
    io.print(f"MiB Mem : {mib['total']:>8.1f} total, {mib['free']:>8.1f} free, "
             f"{mib['used']:>8.1f} used, {mib['buff_cache']:>8.1f} buff/cache     ")
    io.print(f"MiB Swap: {0.0:>8.1f} total, {0.0:>8.1f} free, {0.0:>8.1f} used. "
             f"{mib['available']:>8.1f} avail Mem ")
    io.print("")
    io.print("    PID USER      PR  NI    VIRT    RES    SHR S  %CPU  %MEM     TIME+ COMMAND")
    for p in rows:
        cs = int(p.cpu_seconds * 100)
        tplus = f"{cs // 6000}:{cs // 100 % 60:02d}.{cs % 100:02d}"
        pr = "rt" if p.comm.startswith("migration") else "20"
        ni = "-20" if p.stat.startswith("I<") else "0"
        shr = int(p.rss_kb * 0.7)
        user = p.user if len(p.user) <= 8 else p.user[:7] + "+"
        io.print(f"{p.pid:>7} {user:<8} {pr:>3} {ni:>3} {p.vsz_kb:>7} {p.rss_kb:>6} "
                 f"{shr:>6} {p.stat[0]} {0.0:>5.1f} {100 * p.rss_kb / MEM_TOTAL_KB:>5.1f} "
                 f"{tplus:>9} {p.comm}")


def _up(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60}:{minutes % 60:02d}"


def _match(sh: Shell, argv: list[str]) -> tuple[list[Process], str, int]:
    """pgrep/pkill selection: (processes, listing mode, signal number for pkill)."""
    args = argv[1:]
    full = exact = False
    mode = ""
    users: set[str] | None = None
    pattern: str | None = None
    sig = ""
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-u", "-U") and i + 1 < len(args):
            users = set(args[i + 1].split(","))
            i += 1
        elif a.startswith("--signal"):
            sig = args[i + 1] if a == "--signal" else a.split("=", 1)[1]
            i += 1 if a == "--signal" else 0
        elif a.startswith("-") and len(a) > 1 and a[1:].upper() in _SIGNALS | {
                str(n): n for n in _SIGNALS.values()}:
            sig = a[1:]
        elif a.startswith("-") and len(a) > 1:
            for c in a[1:]:
                if c == "f":
                    full = True
                elif c == "x":
                    exact = True
                elif c in "la" or c in "con":
                    mode = c
                else:
                    raise CmdError(f"invalid option -- '{c}'\n\nUsage:\n {argv[0]} [options] "
                                   "<pattern>", 2)
        elif pattern is None:
            pattern = a
        i += 1
    signal = _signal_number(sig) if sig else 15
    if signal is None:
        raise CmdError(f"Unknown signal \"{sig}\".", 2)
    if pattern is None and users is None:
        raise CmdError(f"no matching criteria specified\nTry `{argv[0]} --help' for more "
                       "information.", 2)
    try:
        rx = re.compile(pattern or "")
    except re.error as exc:
        raise CmdError(f"cannot compile regular expression '{pattern}': {exc}", 2) from None
    own = sh.system.processes.list()
    found = []
    for p in own:
        hay = p.command if full and not p.command.startswith("[") else p.comm
        hit = (rx.fullmatch(hay) if exact else rx.search(hay)) if pattern is not None else True
        if hit and (users is None or p.user in users):
            found.append(p)
    return found, mode, signal


@command("pgrep")
def pgrep(sh: Shell, argv: list[str], io: IO) -> int:
    found, mode, _ = _match(sh, argv)
    if mode in ("o", "n") and found:
        # -o oldest / -n newest: by start time, then pid.
        found = [sorted(found, key=lambda p: (p.started, p.pid))[0 if mode == "o" else -1]]
        mode = ""
    if mode == "c":
        io.print(str(len(found)))
    for p in found if mode != "c" else []:
        if mode == "l":
            io.print(f"{p.pid} {p.comm}")
        elif mode == "a":
            io.print(f"{p.pid} {p.command}")
        else:
            io.print(str(p.pid))
    return 0 if found else 1


@command("pkill")
def pkill(sh: Shell, argv: list[str], io: IO) -> int:
    found, _, signal = _match(sh, argv)
    status = 1
    for p in found:
        if _signal(sh, p, io, "pkill", signal) == 0:
            status = 0
    return status


def _signal_number(spec: str) -> int | None:
    spec = spec.upper().removeprefix("SIG")
    if spec.isdigit():
        return int(spec) if int(spec) <= 64 else None
    return _SIGNALS.get(spec)


# Signals that end a process; the others (HUP, USR1, USR2, CONT, STOP, 0) leave it running
# (apache2 and sshd reload on HUP, as their units' ExecReload does).
_FATAL = {2, 3, 9, 15}


def _signal(sh: Shell, p: Process, io: IO, who: str, signal: int = 15) -> int:
    if sh.user != ROOT and p.user != sh.user:
        io.eprint(f"{who}: killing pid {p.pid} failed: Operation not permitted"
                  if who == "pkill" else f"{sh.name}: kill: ({p.pid}) - Operation not permitted")
        return 1
    if signal not in _FATAL:
        return 0
    system = sh.system
    if p.unit and p.ppid in (0, 1) and p.unit in system.services:
        # The main process of a service died: systemd sees the unit go down.
        system.stop_service(p.unit, modeled=False)
    else:
        system.processes.kill(p.pid)
    return 0


@command("kill")
def kill(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if args and args[0] == "-l":
        io.print(" 1) SIGHUP\t 2) SIGINT\t 3) SIGQUIT\t 4) SIGILL\t 5) SIGTRAP\n"
                 " 6) SIGABRT\t 7) SIGBUS\t 8) SIGFPE\t 9) SIGKILL\t10) SIGUSR1\n"
                 "11) SIGSEGV\t12) SIGUSR2\t13) SIGPIPE\t14) SIGALRM\t15) SIGTERM")
        return 0
    signal = 15
    if args and args[0].startswith("-") and args[0] != "--":
        named = args[1] if args[0] in ("-s", "-n") and len(args) > 1 else args[0][1:]
        number = _signal_number(named)
        if number is None:
            io.eprint(f"{sh.name}: kill: {named}: invalid signal specification")
            return 1
        signal = number
        args = args[2:] if args[0] in ("-s", "-n") else args[1:]
    if not args:
        io.eprint("kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... "
                  "or kill -l [sigspec]")
        return 2
    status = 0
    for a in args:
        if not a.lstrip("-").isdigit():
            io.eprint(f"{sh.name}: kill: {a}: arguments must be process or job IDs")
            status = 1
            continue
        p = sh.system.processes.get(int(a))
        if p is None:
            io.eprint(f"{sh.name}: kill: ({a}) - No such process")
            status = 1
            continue
        status = _signal(sh, p, io, "kill", signal) or status
    return status
