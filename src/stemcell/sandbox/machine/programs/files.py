"""File commands: mkdir, cp, mv, rm, touch, chown, chmod, ln, ls."""

from __future__ import annotations

import posixpath
import re
import time

from stemcell.sandbox.machine.disk import ROOT, Disk, Node
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
from stemcell.sandbox.machine.programs.builtins import mode_string
from stemcell.sandbox.machine.shell import IO, CmdError, Shell


def _users(sh: Shell) -> set[str]:
    text = sh.system.disk.read_text("/etc/passwd") if sh.system.disk.exists("/etc/passwd") else ""
    return {ln.split(":", 1)[0] for ln in text.splitlines() if ln}


def _groups(sh: Shell) -> set[str]:
    text = sh.system.disk.read_text("/etc/group") if sh.system.disk.exists("/etc/group") else ""
    return {ln.split(":", 1)[0] for ln in text.splitlines() if ln}


@command("mkdir")
def mkdir(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="pv", valued="m", long=("parents", "verbose"))
    if not o.args:
        raise CmdError("missing operand")
    disk = sh.system.disk
    mode = int(o.get("m") or "755", 8)
    status = 0
    for a in o.args:
        full = sh.path(a)
        if disk.exists(full):
            if not o.has("p", "parents"):
                io.eprint(f"mkdir: cannot create directory '{a}': File exists")
                status = 1
            continue
        # The first missing ancestor decides whether we may create it.
        probe = full
        while not disk.exists(posixpath.dirname(probe)):
            probe = posixpath.dirname(probe)
        if not o.has("p", "parents") and probe != full:
            io.eprint(f"mkdir: cannot create directory '{a}': No such file or directory")
            status = 1
            continue
        if not disk.can_write(probe, sh.user):
            io.eprint(f"mkdir: cannot create directory '{a}': Permission denied")
            status = 1
            continue
        with sh.system.lock:
            disk.mkdir(full, mode=mode, owner=sh.user)
        if o.has("v", "verbose"):
            io.print(f"mkdir: created directory '{a}'")
    return status


def _copy_node(sh: Shell, src: str, dst: str, recursive: bool, label: str) -> None:
    disk = sh.system.disk
    node = disk.get(src)
    if node is None:
        raise CmdError(f"cannot stat '{label}': No such file or directory")
    if node.kind == "dir":
        if not recursive:
            raise CmdError(f"-r not specified; omitting directory '{label}'")
        if not disk.exists(dst):
            if not disk.can_write(dst, sh.user):
                raise CmdError(f"cannot create directory '{dst}': Permission denied")
            disk.mkdir(dst, mode=node.mode, owner=sh.user)
        for name in disk.listdir(src):
            _copy_node(sh, posixpath.join(src, name), posixpath.join(dst, name), True, label)
        return
    if not disk.can_read(src, sh.user):
        raise CmdError(f"cannot open '{label}' for reading: Permission denied")
    if disk.is_dir(dst):
        dst = posixpath.join(dst, posixpath.basename(src))
    if not disk.can_write(dst, sh.user):
        raise CmdError(f"cannot create regular file '{dst}': Permission denied")
    existed = disk.exists(dst)
    disk.write(dst, node.data, mode=None if existed else node.mode,
               owner=None if existed else sh.user, group=None if existed else sh.user)


@command("cp")
def cp(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="rRafpvTn", long=("recursive", "archive", "force", "verbose",
                                                "no-clobber", "preserve"))
    if len(o.args) < 2:
        raise CmdError(f"missing destination file operand after '{o.args[0]}'" if o.args
                       else "missing file operand")
    recursive = o.has("r", "R", "a", "recursive", "archive")
    *srcs, dst = o.args
    disk = sh.system.disk
    dst_full = sh.path(dst)
    if len(srcs) > 1 and not disk.is_dir(dst_full):
        raise CmdError(f"target '{dst}' is not a directory")
    status = 0
    for s in srcs:
        src_full = sh.path(s)
        target = dst_full
        if disk.is_dir(dst_full) and not o.has("T"):
            target = posixpath.join(dst_full, posixpath.basename(src_full.rstrip("/")))
        try:
            with sh.system.lock:
                _copy_node(sh, src_full, target, recursive, s)
        except CmdError as exc:
            io.eprint(f"cp: {exc}")
            status = 1
    return status


@command("mv")
def mv(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="fvnT", long=("force", "verbose"))
    if len(o.args) < 2:
        raise CmdError("missing file operand")
    *srcs, dst = o.args
    disk = sh.system.disk
    status = 0
    for s in srcs:
        src = sh.path(s)
        if disk.get(src, follow=False) is None:
            io.eprint(f"mv: cannot stat '{s}': No such file or directory")
            status = 1
            continue
        target = sh.path(dst)
        if disk.is_dir(target):
            target = posixpath.join(target, posixpath.basename(src))
        if not disk.can_write(src, sh.user) or not disk.can_write(target, sh.user):
            io.eprint(f"mv: cannot move '{s}' to '{dst}': Permission denied")
            status = 1
            continue
        with sh.system.lock:
            disk.rename(src, target)
    return status


@command("rm")
def rm(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="rRfvid", long=("recursive", "force", "verbose"))
    force = o.has("f", "force")
    recursive = o.has("r", "R", "recursive")
    disk = sh.system.disk
    status = 0
    if not o.args and not force:
        raise CmdError("missing operand")
    for a in o.args:
        full = sh.path(a)
        node = disk.get(full, follow=False)
        if node is None:
            if not force:
                io.eprint(f"rm: cannot remove '{a}': No such file or directory")
                status = 1
            continue
        if full == "/":
            io.eprint("rm: it is dangerous to operate recursively on '/'")
            status = 1
            continue
        if node.kind == "dir" and not recursive:
            io.eprint(f"rm: cannot remove '{a}': Is a directory")
            status = 1
            continue
        parent = posixpath.dirname(disk.resolve(full, follow=False))
        pnode = disk.get(parent)
        if sh.user != ROOT and (pnode is None or not disk._allowed(pnode, sh.user, 0o2)):
            io.eprint(f"rm: cannot remove '{a}': Permission denied")
            status = 1
            continue
        with sh.system.lock:
            disk.remove(full, recursive=True)
    return status


@command("touch")
def touch(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="acm")
    disk = sh.system.disk
    status = 0
    for a in o.args:
        full = sh.path(a)
        node = disk.get(full)
        if node is not None:
            node.mtime = sh.system.wall_now()  # the guest's clock, as `date` reads it
            continue
        if not disk.can_write(full, sh.user):
            io.eprint(f"touch: cannot touch '{a}': Permission denied")
            status = 1
            continue
        if not disk.is_dir(posixpath.dirname(disk.resolve(full))):
            io.eprint(f"touch: cannot touch '{a}': No such file or directory")
            status = 1
            continue
        with sh.system.lock:
            disk.write(full, b"", owner=sh.user, group=sh.user)
    return status


@command("chown", "chgrp")
def chown(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="Rvfh", long=("recursive", "verbose"))
    if len(o.args) < 2:
        raise CmdError(f"missing operand after '{o.args[0]}'" if o.args else "missing operand")
    spec, *paths = o.args
    if argv[0] == "chgrp":
        owner, group = "", spec
    else:
        owner, _, group = spec.replace(".", ":").partition(":")
    if owner and owner not in _users(sh):
        raise CmdError(f"invalid user: '{spec}'")
    if group and group not in _groups(sh):
        raise CmdError(f"invalid group: '{spec}'")
    disk = sh.system.disk
    status = 0
    for p in paths:
        full = sh.path(p)
        if not disk.exists(full):
            io.eprint(f"{argv[0]}: cannot access '{p}': No such file or directory")
            status = 1
            continue
        if sh.user != ROOT:
            io.eprint(f"{argv[0]}: changing ownership of '{p}': Operation not permitted")
            status = 1
            continue
        targets = disk.walk(disk.resolve(full)) if o.has("R", "recursive") else \
            [disk.resolve(full)]
        with sh.system.lock:
            for t in targets:
                node = disk.nodes[t]
                if owner:
                    node.owner = owner
                if group:
                    node.group = group
    return status


def _apply_mode(spec: str, node: Node) -> int:
    if re.fullmatch(r"[0-7]{1,4}", spec):
        return int(spec, 8)
    mode = node.mode
    for clause in spec.split(","):
        m = re.fullmatch(r"([ugoa]*)([+\-=])([rwxXst]*)", clause)
        if not m:
            raise CmdError(f"invalid mode: '{spec}'")
        who, op, perms = m.groups()
        who = who or "a"
        bits = 0
        for p in perms:
            x = {"r": 4, "w": 2, "x": 1, "X": 1 if node.kind == "dir" or node.mode & 0o111
                 else 0, "s": 0, "t": 0}[p]
            for w in ("u", "g", "o") if who == "a" else who:
                bits |= x << {"u": 6, "g": 3, "o": 0}[w]
        if op == "+":
            mode |= bits
        elif op == "-":
            mode &= ~bits
        else:
            mask = 0
            for w in ("u", "g", "o") if who == "a" else who:
                mask |= 7 << {"u": 6, "g": 3, "o": 0}[w]
            mode = (mode & ~mask) | bits
    return mode


@command("chmod")
def chmod(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    recursive = False
    if args and args[0] in ("-R", "--recursive"):
        recursive = True
        args = args[1:]
    if len(args) < 2:
        raise CmdError(f"missing operand after '{args[0]}'" if args else "missing operand")
    spec, *paths = args
    disk = sh.system.disk
    status = 0
    for p in paths:
        full = sh.path(p)
        if not disk.exists(full):
            io.eprint(f"chmod: cannot access '{p}': No such file or directory")
            status = 1
            continue
        targets = disk.walk(disk.resolve(full)) if recursive else [disk.resolve(full)]
        with sh.system.lock:
            for t in targets:
                node = disk.nodes[t]
                if node.kind == "link":
                    continue
                if sh.user != ROOT and node.owner != sh.user:
                    io.eprint(f"chmod: changing permissions of '{p}': Operation not permitted")
                    status = 1
                    break
                node.mode = _apply_mode(spec, node)
    return status


@command("ln")
def ln(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="sfnvT", long=("symbolic", "force", "no-dereference"))
    if len(o.args) < 1:
        raise CmdError("missing file operand")
    if not o.has("s", "symbolic"):
        raise CmdError("hard links are not simulated in the sandbox; use ln -s", 1)
    target = o.args[0]
    link = o.args[1] if len(o.args) > 1 else posixpath.basename(target)
    disk = sh.system.disk
    full = sh.path(link)
    if disk.is_dir(full) and not o.has("n", "T", "no-dereference"):
        full = posixpath.join(full, posixpath.basename(target))
    if not disk.can_write(full, sh.user):
        raise CmdError(f"failed to create symbolic link '{link}': Permission denied")
    force = o.has("f", "force")
    if disk.get(full, follow=False) is not None and not force:
        raise CmdError(f"failed to create symbolic link '{link}': File exists")
    with sh.system.lock:
        disk.symlink(target, full, force=force, owner=sh.user)
    return 0


def _nlink(disk: Disk, path: str, node: Node) -> int:
    if node.kind != "dir":
        return 1
    real = disk.resolve(path)
    return 2 + sum(1 for n in disk.listdir(real)
                   if (child := disk.nodes.get(posixpath.join(real, n))) is not None
                   and child.kind == "dir")


def _long_rows(disk: Disk, entries: list[tuple[str, str]], now: float) -> list[str]:
    """coreutils 9.4 `ls -l` rows: link count, owner, group and size right- or
    left-aligned to the widest in the listing; recent dates with the time, older
    (or future) ones with the year."""
    cells = []
    for name, full in entries:
        node = disk.get(full, follow=False)
        assert node is not None
        size = len(node.data) if node.kind == "file" else (4096 if node.kind == "dir"
                                                           else len(node.target))
        age = now - node.mtime
        fmt = "%b %e %H:%M" if 0 <= age < 182 * 86400 or abs(age) < 3600 else "%b %e  %Y"
        when = time.strftime(fmt, time.gmtime(node.mtime))
        suffix = f" -> {node.target}" if node.kind == "link" else ""
        cells.append((mode_string(node.mode, node.kind), str(_nlink(disk, full, node)),
                      node.owner, node.group, str(size), when, name + suffix))
    if not cells:
        return []
    w = [max(len(c[i]) for c in cells) for i in range(5)]
    return [f"{m} {n:>{w[1]}} {o:<{w[2]}} {g:<{w[3]}} {z:>{w[4]}} {d} {name}"
            for m, n, o, g, z, d, name in cells]


def _blocks(disk: Disk, full: str) -> int:
    node = disk.get(full, follow=False)
    if node is None or node.kind == "link":
        return 0
    if node.kind == "dir":
        return 4
    return 4 * ((len(node.data) + 4095) // 4096)


@command("ls")
def ls(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="lahdR1tFA", long=("all", "color", "almost-all"), strict=False)
    disk = sh.system.disk
    targets = o.args or ["."]
    status = 0
    long_ = o.has("l")
    show_all = o.has("a", "all")
    almost = o.has("A", "almost-all")
    now = sh.system.wall_now()  # mtimes are on the guest's wall clock

    def emit(entries: list[tuple[str, str]]) -> None:
        if long_:
            for row in _long_rows(disk, entries, now):
                io.print(row)
        else:
            for name, _ in entries:
                io.print(name)

    files = []
    dirs = []
    for t in targets:
        full = sh.path(t)
        node = disk.get(full)
        if node is None:
            if disk.get(full, follow=False) is not None:  # a dangling symlink
                files.append((t, full))
                continue
            io.eprint(f"ls: cannot access '{t}': No such file or directory")
            status = 2
            continue
        link = disk.get(full, follow=False)
        # `ls -l LINK` describes the link itself (coreutils follows it without -l).
        as_link = long_ and link is not None and link.kind == "link" and not t.endswith("/")
        if node.kind != "dir" or o.has("d") or as_link:
            files.append((t, full))
        else:
            dirs.append((t, full))
    emit(files)
    for idx, (t, full) in enumerate(dirs):
        node = disk.get(full)
        assert node is not None
        if sh.user != ROOT and not disk._allowed(node, sh.user, 0o4):
            io.eprint(f"ls: cannot open directory '{t}': Permission denied")
            status = 2
            continue
        if len(targets) > 1:
            io.print(("\n" if idx or files else "") + f"{t}:")
        real = disk.resolve(full)
        names = disk.listdir(full)
        if show_all:
            names = [".", "..", *names]
        elif not almost:
            names = [n for n in names if not n.startswith(".")]
        entries = [(n, real if n == "." else (posixpath.dirname(real) if n == ".." else
                                               posixpath.join(real, n))) for n in names]
        if long_:
            io.print(f"total {sum(_blocks(disk, p) for _, p in entries)}")
        emit(entries)
    return status
