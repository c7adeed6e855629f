"""Looking around: id, whoami, uname, date, env, which, sleep, uptime."""

from __future__ import annotations

import time

from stemcell.sandbox.machine.disk import ROOT
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, CmdError, Shell
from stemcell.sandbox.machine.system import KERNEL

_IDS = {ROOT: (0, "root", "root"), "ubuntu": (1000, "ubuntu",
        "ubuntu,4(adm),24(cdrom),27(sudo),30(dip),105(lxd)"), "www-data": (33, "www-data",
                                                                            "www-data")}


@command("id")
def id_(sh: Shell, argv: list[str], io: IO) -> int:
    uid, name, groups = _IDS.get(sh.user, (1001, sh.user, sh.user))
    if "-u" in argv:
        io.print(name if "-n" in argv else str(uid))
        return 0
    first, *rest = groups.split(",")
    extra = "".join("," + g for g in rest)
    io.print(f"uid={uid}({name}) gid={uid}({name}) groups={uid}({first}){extra}")
    return 0


@command("whoami")
def whoami(sh: Shell, argv: list[str], io: IO) -> int:
    io.print(sh.user)
    return 0


@command("uname")
def uname(sh: Shell, argv: list[str], io: IO) -> int:
    system = sh.system
    arch = "aarch64" if system.disk.arch == "arm64" else "x86_64"
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


@command("date")
def date(sh: Shell, argv: list[str], io: IO) -> int:
    now = sh.system.now()
    fmt = next((a[1:] for a in argv[1:] if a.startswith("+")), None)
    t = time.gmtime(now)  # instances run in UTC
    if "-Iseconds" in argv or "--iso-8601=seconds" in argv:
        io.print(time.strftime("%Y-%m-%dT%H:%M:%S+00:00", t))
    elif "-I" in argv:
        io.print(time.strftime("%Y-%m-%d", t))
    elif fmt:
        io.print(time.strftime(fmt.replace("%N", f"{int((now % 1) * 1e9):09d}")
                               .replace("%s", str(int(now))), t))
    else:
        io.print(time.strftime("%a %b %e %H:%M:%S UTC %Y", t))
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
    clock = time.strftime("%H:%M:%S", time.gmtime(sh.system.now()))
    io.print(f" {clock} up {int(up // 60)} min,  1 user,  load average: 0.08, 0.03, 0.01")
    return 0


@command("lsb_release")
def lsb_release(sh: Shell, argv: list[str], io: IO) -> int:
    text = sh.system.disk.read_text("/etc/lsb-release")
    fields = dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)
    io.eprint("No LSB modules are available.")
    desc = fields.get("DISTRIB_DESCRIPTION", "").strip('"')
    io.print(f"Distributor ID:\t{fields.get('DISTRIB_ID', 'Ubuntu')}\nDescription:\t{desc}\n"
             f"Release:\t{fields.get('DISTRIB_RELEASE', '')}\n"
             f"Codename:\t{fields.get('DISTRIB_CODENAME', '')}")
    return 0
