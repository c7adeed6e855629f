"""Looking around: id, whoami, uname, date, timedatectl, env, which, sleep, uptime."""

from __future__ import annotations

import calendar
import re
import time
import zlib

from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
from stemcell.sandbox.machine.shell import IO, CmdError, Shell
from stemcell.sandbox.machine.system import KERNEL


def _ids(sh: Shell, user: str) -> tuple[int, int, list[tuple[int, str]]] | None:
    """(uid, gid, [(gid, group)...] primary first) from the disk's passwd and group."""
    disk = sh.system.disk
    passwd = {ln.split(":")[0]: ln.split(":") for ln in
              disk.read_text("/etc/passwd").splitlines() if ln.count(":") >= 3}
    if user.isdigit():
        user = next((n for n, f in passwd.items() if f[2] == user), user)
    row = passwd.get(user)
    if row is None:
        return None
    uid, gid = int(row[2]), int(row[3])
    groups: list[tuple[int, str]] = []
    for ln in disk.read_text("/etc/group").splitlines():
        f = ln.split(":")
        if len(f) < 4 or not f[2].isdigit():
            continue
        if int(f[2]) == gid:
            groups.insert(0, (gid, f[0]))
        elif user in f[3].split(","):
            groups.append((int(f[2]), f[0]))
    if not groups or groups[0][0] != gid:
        groups.insert(0, (gid, str(gid)))
    return uid, gid, groups


@command("id")
def id_(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="ugGnrza", long=("user", "group", "groups", "name", "real"))
    if len(o.args) > 1:
        raise CmdError(f"extra operand ‘{o.args[1]}’\nTry 'id --help' for more information.")
    user = o.args[0] if o.args else sh.user
    got = _ids(sh, user)
    if got is None:
        raise CmdError(f"‘{user}’: no such user")
    uid, gid, groups = got
    name = o.has("n", "name")
    picks = [k for k in ("u", "g", "G") if o.has(k, {"u": "user", "g": "group",
                                                       "G": "groups"}[k])]
    if len(picks) > 1:
        raise CmdError("cannot print \"only\" of more than one choice", 1)
    if name and not picks:
        raise CmdError("cannot print only names or real IDs in default format", 1)
    uname = next(iter(ln.split(":")[0] for ln in sh.system.disk.read_text(
        "/etc/passwd").splitlines() if ln.split(":")[2:3] == [str(uid)]), str(uid))
    if picks == ["u"]:
        io.print(uname if name else str(uid))
    elif picks == ["g"]:
        io.print(groups[0][1] if name else str(gid))
    elif picks == ["G"]:
        io.print(" ".join(g if name else str(n) for n, g in groups))
    else:
        listed = ",".join(f"{n}({g})" for n, g in groups)
        io.print(f"uid={uid}({uname}) gid={gid}({groups[0][1]}) groups={listed}")
    return 0


@command("whoami")
def whoami(sh: Shell, argv: list[str], io: IO) -> int:
    io.print(sh.user)
    return 0


@command("uname")
def uname(sh: Shell, argv: list[str], io: IO) -> int:
    system = sh.system
    arch = arch_names(sh)[0]
    flags = "".join(a[1:] for a in argv[1:] if a.startswith("-")) or "s"
    build = "#19-Ubuntu SMP Wed Oct  9 16:48:22 UTC 2024"
    if "a" in flags:
        io.print(f"Linux {system.hostname} {KERNEL} {build} {arch} {arch} {arch} GNU/Linux")
        return 0
    out = []
    for c in flags:
        out.append({"s": "Linux", "n": system.hostname, "r": KERNEL, "v": build, "m": arch,
                    "p": arch, "i": arch, "o": "GNU/Linux"}.get(c, ""))
    io.print(" ".join(x for x in out if x))
    return 0


def _strftime(fmt: str, t: float) -> str:
    """GNU date's format on UTC (instances run in UTC): glibc's strftime plus the
    conversions only date knows (%N, %3N, %:z) and %s/%Z computed here, since the host's own
    time zone must not leak in."""
    frac = f"{round((t % 1) * 1e9) % 1_000_000_000:09d}"
    tm = time.gmtime(t)
    return "%".join(time.strftime(
        re.sub(r"%([1-9]?)N", lambda m: frac[:int(m.group(1) or 9)], part)
        .replace("%s", str(int(t // 1))).replace("%:z", "+00:00")
        .replace("%Z", "UTC").replace("%z", "+0000"), tm) for part in fmt.split("%%"))


_ISO = {"date": "%Y-%m-%d", "hours": "%Y-%m-%dT%H%:z", "minutes": "%Y-%m-%dT%H:%M%:z",
        "seconds": "%Y-%m-%dT%H:%M:%S%:z", "ns": "%Y-%m-%dT%H:%M:%S,%N%:z"}
_RFC3339 = {"date": "%Y-%m-%d", "seconds": "%Y-%m-%d %H:%M:%S%:z",
            "ns": "%Y-%m-%d %H:%M:%S.%N%:z"}


def _date_arg(sh: Shell, text: str) -> float:
    """``date -d``: ``@EPOCH``, ``now`` and absolute ``YYYY-MM-DD[ HH:MM[:SS]]`` (UTC)."""
    text = text.strip()
    if text.startswith("@"):
        try:
            return float(text[1:])
        except ValueError:
            raise CmdError(f"invalid date '{text}'") from None
    if text in ("", "now"):
        return sh.system.wall_now()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return float(calendar.timegm(time.strptime(text, fmt)))
        except ValueError:
            continue
    raise CmdError(f"date strings other than @EPOCH, now and YYYY-MM-DD [HH:MM[:SS]] are "
                   f"not simulated in the sandbox: '{text}'", 2)


@command("date")
def date(sh: Shell, argv: list[str], io: IO) -> int:
    """The guest's wall clock (System.wall_now), never the modeled instant."""
    fmt = "%a %b %e %H:%M:%S %Z %Y"
    when: float | None = None
    args = argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("+"):
            fmt = a[1:]
        elif a in ("-u", "--utc", "--universal"):
            pass  # the instance's time zone is UTC already
        elif a in ("-R", "--rfc-email", "--rfc-2822"):
            fmt = "%a, %d %b %Y %H:%M:%S %z"
        elif a.startswith(("-I", "--iso-8601")):
            spec = a[2:] if a.startswith("-I") else a.partition("=")[2]
            if spec.lstrip("=") not in ("", *_ISO):
                raise CmdError(f"invalid argument '{spec}' for '--iso-8601'", 1)
            fmt = _ISO[spec.lstrip("=") or "date"]
        elif a.startswith("--rfc-3339="):
            spec = a.partition("=")[2]
            if spec not in _RFC3339:
                raise CmdError(f"invalid argument '{spec}' for '--rfc-3339'", 1)
            fmt = _RFC3339[spec]
        elif a in ("-d", "--date") or a.startswith(("--date=", "-d")):
            if a in ("-d", "--date"):
                i += 1
                if i >= len(args):
                    raise CmdError(f"option requires an argument -- '{a.lstrip('-')[:1]}'", 1)
                text = args[i]
            else:
                text = a.partition("=")[2] if a.startswith("--") else a[2:]
            when = _date_arg(sh, text)
        elif a in ("-r", "--reference") or a.startswith("--reference="):
            if "=" in a:
                name = a.partition("=")[2]
            else:
                i += 1
                if i >= len(args):
                    raise CmdError("option requires an argument -- 'r'", 1)
                name = args[i]
            node = sh.system.disk.get(sh.path(name))
            if node is None:
                raise CmdError(f"{name}: No such file or directory")
            when = node.mtime
        elif a in ("-s", "--set") or a.startswith("--set="):
            raise CmdError("cannot set date: Operation not permitted", 1)
        else:
            raise CmdError(f"invalid date '{a}'", 1)
        i += 1
    io.print(_strftime(fmt, sh.system.wall_now() if when is None else when))
    return 0


@command("timedatectl")
def timedatectl(sh: Shell, argv: list[str], io: IO) -> int:
    """``timedatectl [status]`` (Ubuntu 24.04's layout); the clock is the guest's wall
    clock, synchronized as an EC2 instance's is (chrony with the Amazon Time Sync
    Service, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/set-time.html)."""
    args = [a for a in argv[1:] if not a.startswith("-")]
    if args and args[0] != "status":
        if args[0].startswith("set-") and sh.user != "root":
            raise CmdError("Failed to set time: Access denied", 1)
        raise CmdError(f"timedatectl {args[0]} is not simulated in the sandbox (it would run "
                       "on AWS)", 127)
    now = sh.system.wall_now()
    ntp = "active" if "systemd-timesyncd" in sh.system.disk.packages else "n/a"
    io.print(f"               Local time: {_strftime('%a %Y-%m-%d %H:%M:%S %Z', now)}\n"
             f"           Universal time: {_strftime('%a %Y-%m-%d %H:%M:%S %Z', now)}\n"
             f"                 RTC time: {_strftime('%a %Y-%m-%d %H:%M:%S', now)}\n"
             "                Time zone: Etc/UTC (UTC, +0000)\n"
             "System clock synchronized: yes\n"
             f"              NTP service: {ntp}\n"
             "          RTC in local TZ: no")
    return 0


@command("env", "printenv")
def env(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if argv[0] == "printenv" and args:
        found = [sh.env[a] for a in args if a in sh.env]
        for v in found:
            io.print(v)
        return 0 if len(found) == len(args) else 1
    assigns = {}
    while args and "=" in args[0] and not args[0].startswith("-"):
        k, _, v = args.pop(0).partition("=")
        assigns[k] = v
    if args:
        sub = sh.child()
        sub.env.update(assigns)
        return sub.invoke(args, io)
    for k in sorted(sh.exported):
        if k in sh.env:
            io.print(f"{k}={sh.env[k]}")
    for k, v in assigns.items():
        io.print(f"{k}={v}")
    return 0


@command("which")
def which(sh: Shell, argv: list[str], io: IO) -> int:
    status = 0
    for name in argv[1:]:
        if name.startswith("-"):
            continue
        path = sh.which(name)
        if path:
            io.print(path)
        else:
            status = 1
    return status


@command("sleep")
def sleep(sh: Shell, argv: list[str], io: IO) -> int:
    total = 0.0
    for a in argv[1:]:
        mult = {"s": 1, "m": 60, "h": 3600}.get(a[-1:], 1)
        num = a[:-1] if a[-1:] in "smh" else a
        try:
            total += float(num) * mult
        except ValueError:
            raise CmdError(f"invalid time interval '{a}'") from None
    sh.sleep(total)
    return 0


@command("uptime")
def uptime(sh: Shell, argv: list[str], io: IO) -> int:
    up = sh.system.uptime()
    clock = time.strftime("%H:%M:%S", time.gmtime(sh.system.wall_now()))  # time of day
    users = sh.system.processes.logins()
    minutes = int(up // 60)
    since = f"{minutes} min" if minutes < 60 else f"{minutes // 60}:{minutes % 60:02d}"
    io.print(f" {clock} up {since},  {users} user{'s' if users != 1 else ''},  "
             "load average: 0.08, 0.03, 0.01")
    return 0


def arch_names(sh: Shell) -> tuple[str, str]:
    """(uname -m, dpkg architecture) of the guest's image."""
    return ("aarch64", "arm64") if sh.system.disk.arch in ("arm64", "aarch64") else \
        ("x86_64", "amd64")


@command("lsb_release")
def lsb_release(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="aidrcsv", long=("all", "id", "description", "release",
                                                 "codename", "short"))
    text = sh.system.disk.read_text("/etc/lsb-release")
    fields = dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)
    values = [("i", "Distributor ID", fields.get("DISTRIB_ID", "Ubuntu")),
              ("d", "Description", fields.get("DISTRIB_DESCRIPTION", "").strip('"')),
              ("r", "Release", fields.get("DISTRIB_RELEASE", "")),
              ("c", "Codename", fields.get("DISTRIB_CODENAME", ""))]
    long_names = {"i": "id", "d": "description", "r": "release", "c": "codename"}
    every = o.has("a", "all")
    chosen = [v for v in values if every or o.has(v[0], long_names[v[0]])]
    # lsb_release prints its modules line (to stderr) unless only -s fields are asked.
    if not o.has("s", "short") or every or not chosen:
        io.eprint("No LSB modules are available.")
    if not chosen:
        return 0
    if o.has("s", "short"):
        io.print("\n".join(v for _, _, v in chosen) if not every else
                 " ".join(v for _, _, v in chosen))
    else:
        io.print("\n".join(f"{label}:\t{v}" for _, label, v in chosen))
    return 0


@command("hostnamectl")
def hostnamectl(sh: Shell, argv: list[str], io: IO) -> int:
    args = [a for a in argv[1:] if not a.startswith("-")]
    system = sh.system
    if args and args[0] not in ("status", "hostname"):
        if sh.user != "root":
            raise CmdError("Could not set hostname: Access denied", 1)
        raise CmdError(f"hostnamectl {args[0]} is not simulated in the sandbox (it would run "
                       "on AWS)", 127)
    if args and args[0] == "hostname":
        io.print(system.hostname)
        return 0
    pretty = next((ln.split("=", 1)[1].strip('"') for ln in system.disk.read_text(
        "/etc/os-release").splitlines() if ln.startswith("PRETTY_NAME=")), "Ubuntu")
    machine = f"{zlib.crc32(system.instance_id.encode()):08x}" * 4
    boot = f"{zlib.crc32(str(system.booted_at).encode()):08x}" * 4
    uname_m, _ = arch_names(sh)
    io.print(f" Static hostname: {system.hostname}\n"
             "       Icon name: computer-vm\n"
             "         Chassis: vm 🖴\n"
             f"      Machine ID: {machine}\n"
             f"         Boot ID: {boot}\n"
             "  Virtualization: amazon\n"
             f"Operating System: {pretty}\n"
             f"          Kernel: Linux {KERNEL}\n"
             f"    Architecture: {'arm64' if uname_m == 'aarch64' else 'x86-64'}\n"
             " Hardware Vendor: Amazon EC2\n"
             f"  Hardware Model: {'t4g.micro' if uname_m == 'aarch64' else 't3.micro'}\n"
             "Firmware Version: 1.0\n"
             "   Firmware Date: Mon 2017-10-16")
    return 0
