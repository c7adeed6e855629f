"""Disk and memory: df, du, free, lsblk, nproc.

The machine is the lab's t3.micro (2 vCPUs, 1 GiB of which the kernel reports
MemTotal 936512 kB) with an 8 GiB gp3 root volume laid out as Canonical's
noble cloud images are (nvme0n1p1 ext4 on /, p15 /boot/efi, p16 /boot).
Used space is the image's own plus what the modeled disk holds. Formats:
coreutils 9.4 df/du (human sizes: powers of 1024, rounded up, one decimal below
10), procps-ng 4.0.4 free, util-linux 2.39.3 lsblk.
"""

from __future__ import annotations

import math
import posixpath

from stemcell.sandbox.machine.disk import Disk
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
from stemcell.sandbox.machine.shell import IO, CmdError, Shell
from stemcell.sandbox.machine.system import System

MEM_TOTAL_KB = 936512
CPUS = 2
ROOT_BLOCKS_KB = 7034376  # ext4 on an 8 GiB volume, as df shows it
BASE_USED_KB = 1903916  # a fresh noble cloud image


def human(nbytes: float, *, suffix: str = "") -> str:
    """coreutils' -h: 1024-based, rounded up, one decimal below 10 (4.0K, 28K, 6.8G)."""
    units = ["", "K", "M", "G", "T"]
    value = float(nbytes)
    i = 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024
        i += 1
    if i == 0:
        return f"{int(value)}{'B' if suffix else ''}"
    if value < 10:
        value = math.ceil(value * 10) / 10
        if value >= 10:
            return f"{int(value)}{units[i]}{suffix}"
        return f"{value:.1f}{units[i]}{suffix}"
    return f"{math.ceil(value)}{units[i]}{suffix}"


def _mounts(disk: Disk) -> list[tuple[str, str, int, int, str]]:
    """(source, type, size KiB, used KiB, mount point)."""
    used = BASE_USED_KB + disk.used_bytes() // 1024
    half = MEM_TOTAL_KB // 2
    return [
        ("/dev/root", "ext4", ROOT_BLOCKS_KB, min(used, ROOT_BLOCKS_KB), "/"),
        ("tmpfs", "tmpfs", half, 0, "/dev/shm"),
        ("tmpfs", "tmpfs", MEM_TOTAL_KB // 5, 900, "/run"),
        ("tmpfs", "tmpfs", 5120, 0, "/run/lock"),
        ("efivarfs", "efivarfs", 128, 3, "/sys/firmware/efi/efivars"),
        ("/dev/nvme0n1p16", "ext4", 901520, 76596, "/boot"),
        ("/dev/nvme0n1p15", "vfat", 106832, 6246, "/boot/efi"),
        ("tmpfs", "tmpfs", MEM_TOTAL_KB // 10, 12, "/run/user/1000"),
    ]


@command("df")
def df(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="hHTkaPlx", valued="t", long=("human-readable", "print-type"))
    hum = o.has("h", "human-readable")
    typed = o.has("T", "print-type")
    mounts = _mounts(sh.system.disk)
    if o.get("t"):
        mounts = [m for m in mounts if m[1] == o.get("t")]
    if o.args:
        chosen = []
        for a in o.args:
            if not sh.system.disk.exists(sh.path(a)):
                io.eprint(f"df: {a}: No such file or directory")
                return 1
            full = sh.system.disk.resolve(sh.path(a))
            best = max((m for m in mounts if full == m[4] or full.startswith(
                m[4].rstrip("/") + "/")), key=lambda m: len(m[4]))
            if best not in chosen:
                chosen.append(best)
        mounts = chosen
    head = ["Filesystem"] + (["Type"] if typed else []) + (
        ["Size", "Used", "Avail", "Use%", "Mounted on"] if hum else
        ["1K-blocks", "Used", "Available", "Use%", "Mounted on"])
    rows = [head]
    for src, fstype, size, used, mnt in mounts:
        avail = max(0, size - used - (size // 20 if fstype == "ext4" else 0))
        pct = f"{math.ceil(100 * used / (used + avail))}%" if used + avail else "-"
        nums = [human(size * 1024), human(used * 1024), human(avail * 1024)] if hum else \
            [str(size), str(used), str(avail)]
        rows.append([src] + ([fstype] if typed else []) + nums + [pct, mnt])
    ncols = len(head)
    widths = [max(len(r[c]) for r in rows) for c in range(ncols)]
    widths[0] = max(widths[0], 14 if not hum else 15)
    if hum:  # coreutils keeps -h size columns at least 5 wide ("  Size  Used Avail")
        first = 2 if typed else 1
        for c in range(first, first + 3):
            widths[c] = max(widths[c], 5)
    left = {0, 1} if typed else {0}
    for r in rows:
        cells = []
        for c in range(ncols):
            if c == ncols - 1:
                cells.append(r[c])
            elif c in left:
                cells.append(r[c].ljust(widths[c]))
            else:
                cells.append(r[c].rjust(widths[c]))
        io.print(" ".join(cells))
    return 0


def _du_size(disk: Disk, path: str) -> int:
    """Bytes of disk blocks: 4 KiB blocks per file and per directory, as ext4 allocates."""
    total = 0
    for p in disk.walk(path):
        node = disk.nodes.get(p)
        if node is None:
            continue
        if node.kind == "dir":
            total += 4096
        elif node.kind == "file":
            total += 4096 * math.ceil(len(node.data) / 4096)
    return total


@command("du")
def du(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="shcak", valued="d", long=("summarize", "human-readable"),
              long_valued=("max-depth",))
    hum = o.has("h", "human-readable")
    summarize = o.has("s", "summarize")
    depth_s = o.get("d", "max-depth")
    depth = int(depth_s) if depth_s and depth_s.isdigit() else None
    disk = sh.system.disk
    status = 0
    grand = 0

    def show(size: int, name: str) -> None:
        io.print(f"{human(size) if hum else math.ceil(size / 1024)}\t{name}")

    for arg in o.args or ["."]:
        full = sh.path(arg)
        if not disk.exists(full):
            io.eprint(f"du: cannot access '{arg}': No such file or directory")
            status = 1
            continue
        if not disk.can_read(full, sh.user):
            io.eprint(f"du: cannot read directory '{arg}': Permission denied")
            status = 1
        real = disk.resolve(full, follow=False)
        size = _du_size(disk, real)
        grand += size
        if not summarize and disk.is_dir(real):
            base = real.rstrip("/").count("/")
            subdirs = [p for p in disk.walk(real) if p != real and disk.nodes[p].kind == "dir"]
            for p in sorted(subdirs, key=lambda p: (-p.count("/"), p)):
                if depth is not None and p.count("/") - base > depth:
                    continue
                shown = arg.rstrip("/") + p[len(real.rstrip("/")):] if real != "/" else \
                    posixpath.join(arg, p.lstrip("/"))
                show(_du_size(disk, p), shown)
        show(size, arg)
    if o.has("c"):
        show(grand, "total")
    return status


def memory(system: System) -> dict[str, int]:
    """/proc/meminfo's view in KiB: total, used, free, shared, buff_cache, available."""
    procs = system.processes.list()
    used = 150000 + sum(p.rss_kb for p in procs) // 3
    cache = min(420000, 300000 + system.disk.used_bytes() // 1024)
    free = max(0, MEM_TOTAL_KB - used - cache)
    return {"total": MEM_TOTAL_KB, "used": used, "free": free, "shared": 1300,
            "buff_cache": cache, "available": free + int(cache * 0.8)}


def _free_human(kib: int) -> str:
    # procps free -h: Ki/Mi/Gi suffixes, one decimal below 10, "0B" for zero.
    if kib == 0:
        return "0B"
    return human(kib * 1024, suffix="i")


@command("free")
def free(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="hmkgbtw", long=("human", "mega", "giga", "kilo", "bytes",
                                                  "total", "wide"))
    mem = memory(sh.system)

    def fmt(kib: int) -> str:
        if o.has("h", "human"):
            return _free_human(kib)
        if o.has("m", "mega"):
            return str(kib // 1024)
        if o.has("g", "giga"):
            return str(kib // (1024 * 1024))
        if o.has("b", "bytes"):
            return str(kib * 1024)
        return str(kib)

    io.print("               total        used        free      shared  buff/cache   "
             "available")
    io.print(f"{'Mem:':<8}" + "".join(f" {fmt(mem[k]):>11}" for k in (
        "total", "used", "free", "shared", "buff_cache", "available")))
    io.print(f"{'Swap:':<8}" + "".join(f" {fmt(0):>11}" for _ in range(3)))
    if o.has("t", "total"):
        io.print(f"{'Total:':<8}" + "".join(f" {fmt(mem[k]):>11}" for k in (
            "total", "used", "free")))
    return 0


@command("lsblk")
def lsblk(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="fbanp", long=("fs",))
    if o.args:
        raise CmdError(f"{o.args[0]}: not a block device", 32)
    rows = [("loop0", "7:0", "0", "27.2M", "1", "loop", "/snap/amazon-ssm-agent/9881"),
            ("loop1", "7:1", "0", "73.9M", "1", "loop", "/snap/core22/1663"),
            ("nvme0n1", "259:0", "0", "8G", "0", "disk", ""),
            ("├─nvme0n1p1", "259:1", "0", "7G", "0", "part", "/"),
            ("├─nvme0n1p14", "259:2", "0", "4M", "0", "part", ""),
            ("├─nvme0n1p15", "259:3", "0", "106M", "0", "part", "/boot/efi"),
            ("└─nvme0n1p16", "259:4", "0", "913M", "0", "part", "/boot")]
    if o.has("f", "fs"):
        io.print("NAME         FSTYPE   FSVER LABEL           UUID                                "
                 " FSAVAIL FSUSE% MOUNTPOINTS")
        fs = {"nvme0n1p1": ("ext4", "1.0", "cloudimg-rootfs"),
              "nvme0n1p15": ("vfat", "FAT32", "UEFI"),
              "nvme0n1p16": ("ext4", "1.0", "BOOT"), "loop0": ("squashfs", "4.0", ""),
              "loop1": ("squashfs", "4.0", "")}
        for name, _mm, _rm, _size, _ro, _kind, mnt in rows:
            fstype, ver, label = fs.get(name.lstrip("├└─"), ("", "", ""))
            io.print(f"{name:<12} {fstype:<8} {ver:<5} {label:<15} {'':<36} {'':>7} {'':>6} "
                     f"{mnt}".rstrip() if fstype else name)
        return 0
    io.print("NAME         MAJ:MIN RM  SIZE RO TYPE MOUNTPOINTS")
    for name, mm, rm, size, ro, kind, mnt in rows:
        major, minor = mm.split(":")  # aligned on the colon, as lsblk prints it
        io.print(f"{name:<12} {major:>3}:{minor:<3} {rm:>2} {size:>5} {ro:>2} {kind:<4} {mnt}")
    return 0


@command("nproc")
def nproc(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], long=("all",), long_valued=("ignore",))
    ignore = o.get("ignore")
    n = CPUS - (int(ignore) if ignore and ignore.isdigit() else 0)
    io.print(str(max(1, n)))
    return 0
