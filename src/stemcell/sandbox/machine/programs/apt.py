"""apt-get / apt / dpkg-query / dpkg: installs from the catalogue in modeled time.

Output follows apt's own format (C locale, as under cloud-init), so byte counts
can be read back from cloud-init-output.log: ``Get:N URL SUITE/SECTION amd64
NAME ARCH VERSION [SIZE]`` and ``Fetched SIZE in Ns (RATE/s)``.
"""

from __future__ import annotations

import re

from stemcell.sandbox.machine.catalogue import PackageInfo, UnknownPackage
from stemcell.sandbox.machine.disk import ROOT
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
from stemcell.sandbox.machine.shell import IO, Shell
from stemcell.sandbox.machine.system import ServiceError


def size_str(nbytes: float) -> str:
    """apt's SizeToStr: 1000-based units, one decimal below 100 of a unit."""
    units = ["", "k", "M", "G", "T"]
    size = float(nbytes)
    for i, unit in enumerate(units):
        if size < 100 and i != 0:
            return f"{size:.1f} {unit}"
        if size < 10000:
            return f"{size:.0f} {unit}"
        size /= 1000.0
    return f"{size:.0f} P"


def _suite(info: PackageInfo, base: str) -> str:
    # Packages rebuilt after release (ubuntuN.M / ubuntu0.24.04.x) live in -updates.
    return f"{base}-updates" if re.search(r"ubuntu\d+\.\d|0\.2\d\.04|~2\d\.04",
                                          info.version) else base


def _locked(io: IO) -> int:
    io.eprint("E: Could not open lock file /var/lib/dpkg/lock-frontend - open "
              "(13: Permission denied)")
    io.eprint("E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), "
              "are you root?")
    return 100


def _update(sh: Shell, io: IO, quiet: int) -> int:
    system = sh.system
    model = system.model
    cat = system.catalogue
    mirror = cat.mirror
    suite = cat.suite
    indexes = [
        ("Hit", f"{mirror} {suite} InRelease", 0),
        ("Get", f"{mirror} {suite}-updates InRelease", 126_000),
        ("Get", f"{mirror} {suite}-backports InRelease", 126_000),
        ("Get", f"{cat.security} {suite}-security InRelease", 126_000),
        ("Get", f"{mirror} {suite}/universe {cat.arch} Packages", 15_000_000),
        ("Get", f"{mirror} {suite}/universe Translation-en", 5_982_000),
        ("Get", f"{mirror} {suite}-updates/main {cat.arch} Packages", 4_553_000),
        ("Get", f"{mirror} {suite}-updates/universe {cat.arch} Packages", 1_082_000),
        ("Get", f"{cat.security} {suite}-security/main {cat.arch} Packages", 2_834_000),
    ]
    total = sum(b for *_, b in indexes)
    scale = model.apt_update_bytes / total
    per_byte = model.apt_update / model.apt_update_bytes
    fetched = 0
    for n, (kind, what, nbytes) in enumerate(indexes, 1):
        nbytes = int(nbytes * scale)
        sh.sleep(max(0.05, nbytes * per_byte))
        fetched += nbytes
        if quiet < 2:
            io.print(f"{kind}:{n} {what}" + (f" [{size_str(nbytes)}B]" if nbytes else ""))
    secs = max(1, round(model.apt_update))
    if quiet < 2:
        io.print(f"Fetched {size_str(fetched)}B in {secs}s ({size_str(fetched / secs)}B/s)")
        io.print("Reading package lists...")
    with system.lock:
        system.disk.apt_updated = True
        system.disk.write("/var/lib/apt/lists/lock", b"", parents=True)
    return 0


def _install(sh: Shell, io: IO, names: list[str], yes: bool, quiet: int) -> int:
    system = sh.system
    cat = system.catalogue
    model = system.model
    disk = system.disk
    if quiet < 2:
        io.print("Reading package lists...")
        io.print("Building dependency tree...")
        io.print("Reading state information...")
    wanted = []
    for raw in names:
        name, _, _ver = raw.partition("=")
        if name not in disk.packages and (not disk.apt_updated or name not in cat.packages):
            io.eprint(f"E: Unable to locate package {name}")
            return 100
        wanted.append(name)
    try:
        plan = cat.closure(wanted, disk.packages)
    except UnknownPackage as exc:
        io.eprint(f"E: Unable to locate package {exc.args[0]}")
        return 100
    for name in wanted:
        if name in disk.packages and quiet < 2:
            io.print(f"{name} is already the newest version ({disk.packages[name]}).")
    if not plan:
        if quiet < 2:
            io.print("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
        return 0
    extra = [p.name for p in plan if p.name not in wanted]
    if extra and quiet < 2:
        io.print("The following additional packages will be installed:")
        io.print(_wrap(sorted(extra)))
    if quiet < 2:
        io.print("The following NEW packages will be installed:")
        io.print(_wrap(sorted(p.name for p in plan)))
        io.print(f"0 upgraded, {len(plan)} newly installed, 0 to remove and 0 not upgraded.")
    download = sum(p.download for p in plan)
    installed = sum(p.installed_kb for p in plan) * 1024
    if quiet < 2:
        io.print(f"Need to get {size_str(download)}B of archives.")
        io.print(f"After this operation, {size_str(installed)}B of additional disk space "
                 "will be used.")
    if not yes:
        io.print("Do you want to continue? [Y/n] ", end="")
        answer = io.stdin.decode(errors="replace").strip().lower()[:1]
        if answer != "y":
            # Without a terminal apt reads EOF and gives up, as in a user-data script.
            io.print("Abort.")
            return 1
    # Downloads: one Get line per .deb, in dependency order like apt's acquire queue.
    for i, p in enumerate(plan, 1):
        sh.sleep(model.download_seconds(p.download))
        if quiet < 2:
            io.print(f"Get:{i} {cat.mirror} {_suite(p, cat.suite)}/{p.section} {cat.arch} {p.name} "
                     f"{p.arch} {p.version} [{size_str(p.download)}B]")
    secs = model.download_seconds(download)
    if quiet < 2:
        io.print(f"Fetched {size_str(download)}B in {max(0, int(secs))}s "
                 f"({size_str(download / max(secs, 0.001))}B/s)")
    with system.lock:
        files = 70_500
        for i, p in enumerate(plan):
            pname = _dpkg_name(p)
            io.print(f"Selecting previously unselected package {pname}.")
            if i == 0:
                io.print(f"(Reading database ... {files} files and directories currently "
                         "installed.)")
            io.print(f"Preparing to unpack .../{i:02d}-{p.deb_name()} ...")
            sh.sleep(model.unpack_per_package + p.installed_kb * 1024 / model.unpack_bytes_per_s)
            io.print(f"Unpacking {pname} ({p.version}) ...")
        restart: list[str] = []
        for p in plan:
            pname = _dpkg_name(p)
            sh.sleep(model.configure_per_package)
            io.print(f"Setting up {pname} ({p.version}) ...")
            fx = cat.apply(disk, p)
            for msg in fx.messages:
                io.print(msg)
            for unit in fx.start:
                try:
                    system.start_service(unit)
                except ServiceError as exc:
                    io.eprint(str(exc))
            restart.extend(u for u in fx.restart if u not in restart)
        sh.sleep(model.triggers)
        io.print("Processing triggers for ufw (0.36.2-6) ...")
        io.print("Processing triggers for man-db (2.12.0-4build2) ...")
        io.print("Processing triggers for libc-bin (2.39-0ubuntu8.3) ...")
        for unit in restart:
            if system.is_active(unit):
                system.restart_service(unit)
        disk.write("/var/log/apt/history.log",
                   f"\nStart-Date: {_stamp(sh)}\nCommandline: apt-get install {' '.join(names)}"
                   f"\nInstall: {', '.join(f'{p.name}:{cat.arch} ({p.version})' for p in plan)}"
                   f"\nEnd-Date: {_stamp(sh)}\n", append=True, parents=True)
    return 0


def _dpkg_name(p: PackageInfo) -> str:
    # dpkg qualifies only Multi-Arch: same packages (the shared libraries) with the arch.
    multi = p.name.startswith("lib") and not p.name.startswith("libapache2")
    return f"{p.name}:{p.arch}" if multi and p.arch != "all" else p.name


def _stamp(sh: Shell) -> str:
    import time

    return time.strftime("%Y-%m-%d  %H:%M:%S", time.gmtime(sh.system.wall_now()))


def _wrap(names: list[str]) -> str:
    lines, cur = [], "  "
    for n in names:
        if len(cur) + len(n) + 1 > 80 and cur.strip():
            lines.append(cur.rstrip())
            cur = "  "
        cur += n + " "
    lines.append(cur.rstrip())
    return "\n".join(lines)


@command("apt-get", "apt")
def apt_get(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="yqsfm", valued="o",
              long=("yes", "assume-yes", "quiet", "no-install-recommends", "fix-missing",
                    "allow-downgrades", "allow-change-held-packages", "force-yes"),
              long_valued=("option",))
    quiet = sum(1 for a in argv[1:] if a.startswith("-q")) + argv[1:].count("-qq")
    quiet = 2 if any(a == "-qq" for a in argv[1:]) else min(quiet, 1)
    # -o NAME=VALUE sets a configuration item (profiles use DPkg::Lock::Timeout=300 to wait
    # for unattended-upgrades at first boot); apt refuses one without "=".
    option = o.get("o", "option")
    if option is not None and "=" not in option:
        io.eprint(f"E: Option {option}: Configuration item specification must have an =<val>.")
        return 100
    if not o.args:
        io.print(f"apt {sh.system.disk.packages.get('apt', '2.7.14build2')} "
                 f"({sh.system.catalogue.arch})\nUsage: apt-get [options] command")
        return 1
    verb, *rest = o.args
    yes = o.has("y", "yes", "assume-yes")
    if verb in ("update", "install", "upgrade", "remove", "purge", "dist-upgrade") \
            and sh.user != ROOT:
        if verb == "update":
            io.print("Reading package lists...")
            io.eprint("E: Could not open lock file /var/lib/apt/lists/lock - open "
                      "(13: Permission denied)")
            io.eprint("E: Unable to lock directory /var/lib/apt/lists/")
            return 100
        return _locked(io)
    if argv[0] == "apt" and verb in ("update", "install"):
        io.eprint("\nWARNING: apt does not have a stable CLI interface. Use with caution in "
                  "scripts.\n")
    if verb == "update":
        return _update(sh, io, quiet)
    if verb == "install":
        if not rest:
            io.print("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
            return 0
        # --no-install-recommends is accepted: the catalogue has no Recommends.
        return _install(sh, io, rest, yes or "-y" in argv, quiet)
    if verb in ("upgrade", "dist-upgrade"):
        io.print("Reading package lists...\nBuilding dependency tree...\n"
                 "Reading state information...\nCalculating upgrade...")
        io.print("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
        return 0
    if verb == "clean" or verb == "autoclean" or verb == "autoremove":
        return 0
    io.eprint(f"not simulated in the sandbox: {argv[0]} {verb} (it would run on AWS)")
    return 127


def _status_block(sh: Shell, name: str) -> str:
    version = sh.system.disk.packages[name]
    info = sh.system.catalogue.packages.get(name)
    arch = info.arch if info else sh.system.catalogue.arch
    size = info.installed_kb if info else 100
    return (f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"Installed-Size: {size}\nMaintainer: Ubuntu Developers "
            f"<ubuntu-devel-discuss@lists.ubuntu.com>\nArchitecture: {arch}\n"
            f"Version: {version}\n")


@command("dpkg-query")
def dpkg_query(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="WslL", valued="f", long=("show", "status", "list"),
              long_valued=("showformat",))
    fmt = o.get("f", "showformat")
    pkgs = sh.system.disk.packages
    status = 0
    if o.has("s", "status"):
        for name in o.args:
            if name not in pkgs:
                io.eprint(f"dpkg-query: package '{name}' is not installed and no information "
                          "is available")
                status = 1
                continue
            io.print(_status_block(sh, name))
        return status
    if o.has("l", "list"):
        return _dpkg_list(sh, o.args, io)
    names = o.args or sorted(pkgs)
    for name in names:
        matches = [n for n in sorted(pkgs) if re.fullmatch(name.replace("*", ".*"), n)]
        if not matches:
            io.eprint(f"dpkg-query: no packages found matching {name}")
            status = 1
            continue
        for m in matches:
            if fmt is None:
                io.print(f"{m}\t{pkgs[m]}")
            else:
                info = sh.system.catalogue.packages.get(m)
                fields = {"Package": m, "Version": pkgs[m], "Status": "install ok installed",
                          "db:Status-Abbrev": "ii ", "binary:Package": m,
                          "Architecture": info.arch if info else sh.system.catalogue.arch,
                          "Installed-Size": str(info.installed_kb if info else 100)}
                text = _fill(fmt, fields)
                text = text.replace("\\n", "\n").replace("\\t", "\t")
                io.print(text, end="")
    return status


def _fill(fmt: str, fields: dict[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda mm: fields.get(mm.group(1), ""), fmt)


def _dpkg_list(sh: Shell, names: list[str], io: IO) -> int:
    pkgs = sh.system.disk.packages
    io.print("Desired=Unknown/Install/Remove/Purge/Hold\n"
             "| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n"
             "|/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n"
             "||/ Name                    Version                      Architecture Description\n"
             "+++-=======================-============================-============-"
             "================================")
    status = 0
    for name in names or sorted(pkgs):
        matches = [n for n in sorted(pkgs) if re.fullmatch(name.replace("*", ".*"), n)]
        if not matches:
            io.eprint(f"dpkg-query: no packages found matching {name}")
            status = 1
        for m in matches:
            info = sh.system.catalogue.packages.get(m)
            arch = info.arch if info else sh.system.catalogue.arch
            io.print(f"ii  {m:<23} {pkgs[m]:<28} {arch:<12} {m} (simulated)")
    return status


@command("dpkg")
def dpkg(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if args and args[0] in ("-l", "--list"):
        return _dpkg_list(sh, args[1:], io)
    if args and args[0] in ("-s", "--status", "-L", "--listfiles"):
        return dpkg_query(sh, ["dpkg-query", *args], io)
    if args and args[0] == "--print-architecture":
        io.print(sh.system.catalogue.arch)
        return 0
    io.eprint(f"not simulated in the sandbox: dpkg {' '.join(args[:1])} (it would run on AWS)")
    return 127
