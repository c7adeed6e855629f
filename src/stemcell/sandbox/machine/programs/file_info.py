"""Looking at files: find, stat, readlink, realpath, basename, dirname, md5sum,
sha256sum, getent. Formats: coreutils 9.4 and findutils 4.9.0 (Ubuntu 24.04)."""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
import time
import zlib

from stemcell.sandbox.machine.disk import ROOT, Disk, DiskError, Node
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
from stemcell.sandbox.machine.programs.builtins import mode_string
from stemcell.sandbox.machine.shell import IO, Buffer, CmdError, Shell


def _db(disk: Disk, path: str) -> dict[str, list[str]]:
    try:
        text = disk.read_text(path)
    except DiskError:
        return {}
    return {ln.split(":", 1)[0]: ln.split(":") for ln in text.splitlines() if ln}


def uid_of(disk: Disk, user: str) -> int:
    row = _db(disk, "/etc/passwd").get(user)
    return int(row[2]) if row and len(row) > 2 and row[2].isdigit() else 0


def gid_of(disk: Disk, group: str) -> int:
    row = _db(disk, "/etc/group").get(group)
    return int(row[2]) if row and len(row) > 2 and row[2].isdigit() else 0


def inode(path: str) -> int:
    return 1000 + zlib.crc32(path.encode()) % 900000


def _kind(node: Node) -> str:
    if node.kind == "dir":
        return "directory"
    if node.kind == "link":
        return "symbolic link"
    return "regular file" if node.data else "regular empty file"


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) + \
        f".{int((t % 1) * 1e9):09d} +0000"


def _size(node: Node) -> int:
    return len(node.data) if node.kind == "file" else (
        4096 if node.kind == "dir" else len(node.target))


def _format(fmt: str, name: str, node: Node, disk: Disk) -> str:
    out = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "\\" and i + 1 < len(fmt):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(fmt[i + 1], fmt[i + 1]))
            i += 2
            continue
        if c != "%" or i + 1 >= len(fmt):
            out.append(c)
            i += 1
            continue
        k = fmt[i + 1]
        i += 2
        size = _size(node)
        out.append({
            "a": f"{node.mode & 0o7777:o}", "A": mode_string(node.mode, node.kind),
            "U": node.owner, "G": node.group, "u": str(uid_of(disk, node.owner)),
            "g": str(gid_of(disk, node.group)), "s": str(size), "n": name,
            "N": f"'{name}'" + (f" -> '{node.target}'" if node.kind == "link" else ""),
            "F": _kind(node), "Y": str(int(node.mtime)), "X": str(int(node.mtime)),
            "Z": str(int(node.mtime)), "W": str(int(node.mtime)), "y": _stamp(node.mtime),
            "x": _stamp(node.mtime), "z": _stamp(node.mtime), "w": _stamp(node.mtime),
            "i": str(inode(name)), "h": "2" if node.kind == "dir" else "1",
            "b": str(8 * ((size + 4095) // 4096)), "B": "512", "o": "4096", "%": "%",
            "d": "66305", "D": "10301", "t": "0", "T": "0", "m": "/",
        }.get(k, "?"))
    return "".join(out)


@command("stat")
def stat(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="Ltf", valued="c", long=("dereference", "terse"),
              long_valued=("format", "printf"))
    fmt = o.get("c", "format", "printf")
    if o.has("f"):
        raise CmdError("file system status (-f) is not simulated in the sandbox", 1)
    if not o.args:
        io.eprint("stat: missing operand\nTry 'stat --help' for more information.")
        return 1
    disk = sh.system.disk
    status = 0
    for name in o.args:
        full = sh.path(name)
        node = disk.get(full, follow=o.has("L", "dereference"))
        if node is None:
            io.eprint(f"stat: cannot statx '{name}': No such file or directory")
            status = 1
            continue
        if fmt is not None:
            text = _format(fmt, name, node, disk)
            io.print(text) if o.get("c") is not None or o.get("format") is not None \
                else io.out(text.encode())
            continue
        if o.has("t", "terse"):
            io.print(_format("%n %s %b %f %u %g %D %i %h %t %T %X %Y %Z %W %o", name, node,
                             disk))
            continue
        size = _size(node)
        blocks = 8 * ((size + 4095) // 4096)
        shown = f"{name} -> {node.target}" if node.kind == "link" else name
        io.print(f"  File: {shown}")
        io.print(f"  Size: {size:<10}\tBlocks: {blocks:<10} IO Block: 4096   {_kind(node)}")
        links = 2 if node.kind == "dir" else 1
        io.print(f"Device: 259,1\tInode: {inode(name):<11} Links: {links}")
        uid, gid = uid_of(disk, node.owner), gid_of(disk, node.group)
        io.print(f"Access: ({node.mode & 0o7777:04o}/{mode_string(node.mode, node.kind)})  "
                 f"Uid: ({uid:>5}/{node.owner:>8})   Gid: ({gid:>5}/{node.group:>8})")
        for label in ("Access", "Modify", "Change"):
            io.print(f"{label}: {_stamp(node.mtime)}")
        io.print(f" Birth: {_stamp(node.mtime)}")
    return status


def _canonical(disk: Disk, path: str, mode: str) -> str | None:
    """readlink -f/-e/-m: the real path; None if a needed component is missing."""
    try:
        real = disk.resolve(path)
    except DiskError:
        return None
    if mode == "e" and not disk.exists(real):
        return None
    if mode == "f" and not disk.is_dir(posixpath.dirname(real)):
        return None
    return real


@command("readlink", "realpath")
def readlink(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="femnqsvzP",
              long=("canonicalize", "canonicalize-existing", "canonicalize-missing"))
    disk = sh.system.disk
    real = argv[0] == "realpath"
    mode = "e" if o.has("e", "canonicalize-existing") else \
        "m" if o.has("m", "canonicalize-missing") else \
        "f" if o.has("f", "canonicalize") or real else ""
    if real and not o.has("m", "canonicalize-missing"):
        mode = "e"
    if not o.args:
        io.eprint(f"{argv[0]}: missing operand")
        return 1
    status = 0
    for name in o.args:
        full = sh.path(name)
        if mode:
            got = _canonical(disk, full, mode)
            if got is None:
                if real:
                    io.eprint(f"realpath: {name}: No such file or directory")
                status = 1
                continue
            io.print(got)
            continue
        node = disk.get(full, follow=False)
        if node is None or node.kind != "link":
            status = 1
            continue
        io.print(node.target)
    return status


@command("basename")
def basename(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise CmdError("missing operand")
    name = posixpath.basename(argv[1].rstrip("/")) or "/"
    if len(argv) > 2 and name.endswith(argv[2]) and name != argv[2]:
        name = name[:-len(argv[2])]
    io.print(name)
    return 0


@command("dirname")
def dirname(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise CmdError("missing operand")
    for a in argv[1:]:
        io.print(posixpath.dirname(a.rstrip("/")) or ("/" if a.startswith("/") else "."))
    return 0


@command("md5sum", "sha256sum", "sha1sum")
def digest(sh: Shell, argv: list[str], io: IO) -> int:
    algo = argv[0].removesuffix("sum")
    files = [a for a in argv[1:] if not a.startswith("-")] or ["-"]
    status = 0
    for f in files:
        if f == "-":
            data = io.stdin
        else:
            full = sh.path(f)
            node = sh.system.disk.get(full)
            if node is None:
                io.eprint(f"{argv[0]}: {f}: No such file or directory")
                status = 1
                continue
            if node.kind == "dir":
                io.eprint(f"{argv[0]}: {f}: Is a directory")
                status = 1
                continue
            if not sh.system.disk.can_read(full, sh.user):
                io.eprint(f"{argv[0]}: {f}: Permission denied")
                status = 1
                continue
            data = node.data
        io.print(f"{hashlib.new(algo, data).hexdigest()}  {f}")
    return status


@command("getent")
def getent(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        io.eprint("Usage: getent [OPTION...] database [key ...]")
        return 1
    db = {"passwd": "/etc/passwd", "group": "/etc/group", "shadow": "/etc/shadow",
          "hosts": "/etc/hosts"}.get(argv[1])
    if db is None:
        io.eprint(f"Unknown database: {argv[1]}\nTry `getent --help' or `getent --usage' for "
                  "more information.")
        return 1
    disk = sh.system.disk
    if argv[1] == "shadow" and sh.user != ROOT:
        return 2  # getent shadow as a user: nothing readable, exit 2 (key not found)
    lines = [ln for ln in disk.read_text(db).splitlines() if ln and not ln.startswith("#")]
    keys = argv[2:]
    if not keys:
        for ln in lines:
            io.print(ln)
        return 0
    status = 0
    for k in keys:
        hit = [ln for ln in lines if (ln.split()[1:] if argv[1] == "hosts" else
                                      [ln.split(":", 1)[0]]).count(k) or
               (argv[1] != "hosts" and ln.split(":")[2:3] == [k])]
        if hit:
            io.print(hit[0])
        else:
            status = 2
    return status


# --- find ----------------------------------------------------------------------------

_UNARY = {"-print", "-delete", "-depth", "-prune", "-quit", "-ls", "-print0", "-true",
          "-false", "-empty", "-readable", "-writable", "-executable"}


@command("find")
def find(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    roots: list[str] = []
    while args and not args[0].startswith("-") and args[0] not in ("!", "("):
        roots.append(args.pop(0))
    roots = roots or ["."]
    maxdepth: int | None = None
    mindepth = 0
    # An expression: OR of AND-groups of (negate, test, argument) triples.
    groups: list[list[tuple[bool, str, list[str]]]] = [[]]
    actions = False
    negate = False
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("!", "-not"):
            negate = not negate
        elif a in ("-o", "-or"):
            groups.append([])
        elif a in ("-a", "-and", "(", ")"):
            pass
        elif a in ("-maxdepth", "-mindepth"):
            if i + 1 >= len(args) or not args[i + 1].isdigit():
                raise CmdError(f"Expected a positive decimal integer argument to {a}, but got "
                               f"‘{args[i + 1] if i + 1 < len(args) else ''}’", 1)
            if a == "-maxdepth":
                maxdepth = int(args[i + 1])
            else:
                mindepth = int(args[i + 1])
            i += 1
        elif a == "-exec" or a == "-execdir" or a == "-ok":
            j = i + 1
            while j < len(args) and args[j] not in (";", "+"):
                j += 1
            if j >= len(args):
                raise CmdError(f"missing argument to `{a}'", 1)
            groups[-1].append((negate, "-exec", args[i + 1:j + 1]))
            actions = True
            negate = False
            i = j
        elif a in _UNARY:
            groups[-1].append((negate, a, []))
            actions = actions or a in ("-print", "-delete", "-ls", "-print0")
            negate = False
        elif a in ("-name", "-iname", "-type", "-mtime", "-mmin", "-path", "-wholename",
                   "-user", "-group", "-perm", "-size", "-newer", "-regex", "-ipath"):
            if i + 1 >= len(args):
                raise CmdError(f"missing argument to `{a}'", 1)
            groups[-1].append((negate, a, [args[i + 1]]))
            negate = False
            i += 1
        else:
            raise CmdError(f"unknown predicate `{a}'", 1)
        i += 1
    disk = sh.system.disk
    now = sh.system.wall_now()  # -mtime/-mmin: mtimes are on the guest's wall clock
    depth_first = any(kind in ("-delete", "-depth") for g in groups for _, kind, _ in g)
    status = 0
    out_buf: list[str] = []
    failed: list[str] = []
    batch: dict[int, list[str]] = {}

    def test(kind: str, arg: list[str], shown: str, path: str, node: Node) -> bool:
        if kind in ("-name", "-iname"):
            base = posixpath.basename(shown.rstrip("/")) or shown
            if kind == "-iname":
                return fnmatch.fnmatch(base.lower(), arg[0].lower())
            return fnmatch.fnmatchcase(base, arg[0])
        if kind in ("-path", "-wholename", "-ipath"):
            return fnmatch.fnmatchcase(shown.lower() if kind == "-ipath" else shown, arg[0])
        if kind == "-type":
            return {"f": "file", "d": "dir", "l": "link"}.get(arg[0]) == node.kind
        if kind in ("-mtime", "-mmin"):
            unit = 86400 if kind == "-mtime" else 60
            age = int((now - node.mtime) // unit)
            spec = arg[0]
            n = int(spec.lstrip("+-"))
            return age > n if spec.startswith("+") else age < n if spec.startswith("-") \
                else age == n
        if kind == "-user":
            return node.owner == arg[0]
        if kind == "-group":
            return node.group == arg[0]
        if kind == "-perm":
            spec = arg[0]
            want = int(spec.lstrip("-/"), 8)
            have = node.mode & 0o7777
            if spec.startswith("-"):
                return have & want == want
            if spec.startswith("/"):
                return bool(have & want)
            return have == want
        if kind == "-size":
            spec = arg[0]
            mult = {"c": 1, "k": 1024, "M": 1024 ** 2, "G": 1024 ** 3}.get(spec[-1:], 512)
            n = int(spec.lstrip("+-").rstrip("ckMGb")) * mult
            size = _size(node)
            return size > n if spec.startswith("+") else size < n if spec.startswith("-") \
                else -(-size // mult) * mult == n
        if kind == "-newer":
            ref = disk.get(sh.path(arg[0]))
            return ref is not None and node.mtime > ref.mtime
        if kind == "-empty":
            return (node.kind == "file" and not node.data) or (
                node.kind == "dir" and not disk.listdir(path))
        if kind == "-readable":
            return disk._allowed(node, sh.user, 0o4)
        if kind == "-writable":
            return disk._allowed(node, sh.user, 0o2)
        if kind == "-executable":
            return disk._allowed(node, sh.user, 0o1)
        if kind == "-false":
            return False
        if kind == "-print":
            out_buf.append(shown + "\n")
            return True
        if kind == "-print0":
            out_buf.append(shown + "\0")
            return True
        if kind == "-ls":
            out_buf.append(f"{inode(path):>9} {4:>6} {mode_string(node.mode, node.kind)} "
                           f"  1 {node.owner:<8} {node.group:<8} {_size(node):>8} "
                           f"{time.strftime('%b %d %H:%M', time.gmtime(node.mtime))} {shown}\n")
            return True
        if kind == "-delete":
            parent = disk.get(posixpath.dirname(path))
            if sh.user != ROOT and (parent is None or not disk._allowed(parent, sh.user, 0o2)):
                flush()
                io.eprint(f"find: cannot delete ‘{shown}’: Permission denied")
                failed.append(shown)
                return False
            if node.kind == "dir" and disk.listdir(path):
                flush()
                io.eprint(f"find: cannot delete ‘{shown}’: Directory not empty")
                failed.append(shown)
                return False
            with sh.system.lock:
                disk.remove(path, recursive=node.kind == "dir")
            return True
        if kind == "-exec":
            cmd = arg[:-1]
            if arg[-1] == "+":
                batch.setdefault(id(arg), [*cmd]).append(shown)
                return True
            flush()
            words = [w.replace("{}", shown) for w in cmd]
            buf = Buffer()
            code = sh.invoke(words, IO(b"", buf, io.err))
            out_buf.append(buf.value().decode("utf-8", "replace"))
            return code == 0
        return True

    def flush() -> None:
        if out_buf:
            io.out("".join(out_buf).encode())
            out_buf.clear()

    def matches(shown: str, path: str, node: Node, depth: int) -> bool:
        for group in groups:
            ok = True
            for neg, kind, arg in group:
                if test(kind, arg, shown, path, node) == neg:
                    ok = False
                    break
            if ok:
                return True
        return False

    def visit(path: str, shown: str, depth: int) -> None:
        """Walk in directory order; with -depth (implied by -delete) a directory's
        entries come before the directory itself, as find does."""
        nonlocal status
        node = disk.nodes.get(path)
        if node is None:
            return
        if not depth_first:
            test_one(path, shown, node, depth)
        if node.kind == "dir" and (maxdepth is None or depth < maxdepth):
            if sh.user != ROOT and not disk._allowed(node, sh.user, 0o4):
                flush()
                io.eprint(f"find: ‘{shown}’: Permission denied")
                status = 1
            else:
                for name in disk.listdir(path):
                    visit(posixpath.join(path, name),
                          posixpath.join(shown, name) if shown != "/" else "/" + name,
                          depth + 1)
        if depth_first and disk.nodes.get(path) is not None:
            test_one(path, shown, node, depth)

    def test_one(path: str, shown: str, node: Node, depth: int) -> None:
        if depth >= mindepth and matches(shown, path, node, depth) and not actions:
            out_buf.append(shown + "\n")

    for root in roots:
        full = sh.path(root)
        top = disk.get(full, follow=False)
        if top is None:
            io.eprint(f"find: ‘{root}’: No such file or directory")
            status = 1
            continue
        if top.kind == "link" and disk.is_dir(full) and root.endswith("/"):
            full = disk.resolve(full)
        visit(full, root, 0)
        flush()
    for cmd in batch.values():
        code = sh.invoke(cmd, IO(b"", io.out, io.err))
        status = status or (1 if code else 0)
    return 1 if failed else status
