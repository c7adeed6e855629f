"""Text commands: cat, tee, head, tail, wc, grep, cut, sort, uniq, xargs (sed: sed.py)."""

from __future__ import annotations

import itertools
import re

from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.programs.args import parse
from stemcell.sandbox.machine.shell import IO, CmdError, Shell


def _inputs(sh: Shell, files: list[str], io: IO, name: str) -> list[tuple[str, bytes]] | None:
    """Contents of ``files`` (or stdin); None after reporting an error for each bad one."""
    if not files or files == ["-"]:
        return [("(standard input)", io.stdin)]
    out = []
    bad = False
    disk = sh.system.disk
    for f in files:
        if f == "-":
            out.append(("(standard input)", io.stdin))
            continue
        full = sh.path(f)
        node = disk.get(full)
        if node is None:
            io.eprint(f"{name}: {f}: No such file or directory")
            bad = True
        elif node.kind == "dir":
            io.eprint(f"{name}: {f}: Is a directory")
            bad = True
        elif not disk.can_read(full, sh.user):
            io.eprint(f"{name}: {f}: Permission denied")
            bad = True
        else:
            out.append((f, node.data))
    return None if bad and not out else out


@command("cat")
def cat(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="nAevt")
    files = o.args
    status = 0
    for f in files or ["-"]:
        got = _inputs(sh, [f], io, "cat")
        if got is None:
            status = 1
            continue
        for _, data in got:
            if o.has("n"):
                lines = data.decode("utf-8", "replace").splitlines()
                data = "".join(f"{i + 1:>6}\t{ln}\n" for i, ln in enumerate(lines)).encode()
            io.out(data)
    return status


@command("tee")
def tee(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="ai", long=("append",))
    append = o.has("a", "append")
    disk = sh.system.disk
    status = 0
    for f in o.args:
        if f == "/dev/null":
            continue
        full = sh.path(f)
        if not disk.can_write(full, sh.user):
            io.eprint(f"tee: {f}: Permission denied")
            status = 1
            continue
        if disk.is_dir(full):
            io.eprint(f"tee: {f}: Is a directory")
            status = 1
            continue
        try:
            with sh.system.lock:
                new = not disk.exists(full)
                disk.write(full, io.stdin, append=append, owner=sh.user if new else None,
                           group=sh.user if new else None)
        except OSError:
            io.eprint(f"tee: {f}: No such file or directory")
            status = 1
    io.out(io.stdin)
    return status


def _count(o_val: str | None, default: int = 10) -> int:
    if o_val is None:
        return default
    try:
        return int(o_val.lstrip("+"))
    except ValueError:
        raise CmdError(f"invalid number of lines: '{o_val}'") from None


def _headtail(sh: Shell, argv: list[str], io: IO, head: bool) -> int:
    args = [("-n" + a[1:]) if re.fullmatch(r"-\d+", a) else a for a in argv[1:]]
    o = parse(args, short="qfF", valued="nc", long=("follow",))
    got = _inputs(sh, o.args, io, argv[0])
    if got is None:
        return 1
    n = _count(o.get("n"))
    from_start = not head and (o.get("n") or "").startswith("+")
    for i, (name, data) in enumerate(got):
        if len(got) > 1:
            io.print(("\n" if i else "") + f"==> {name} <==")
        lines = data.splitlines(keepends=True)
        if head:
            chosen = lines[:n]
        elif from_start:
            chosen = lines[max(0, n - 1):]
        else:
            chosen = lines[-n:] if n else []
        io.out(b"".join(chosen))
    if not head and o.has("f", "F", "follow") and len(o.args) == 1 and o.args[0] != "-":
        from stemcell.sandbox.machine.programs.logs import follow_file

        return follow_file(sh, sh.path(o.args[0]), len(got[0][1]), io)
    return 0


@command("head")
def head(sh: Shell, argv: list[str], io: IO) -> int:
    return _headtail(sh, argv, io, True)


@command("tail")
def tail(sh: Shell, argv: list[str], io: IO) -> int:
    return _headtail(sh, argv, io, False)


@command("wc")
def wc(sh: Shell, argv: list[str], io: IO) -> int:
    """coreutils 9.4 wc: columns lines, words, bytes; one count of one input is printed
    bare, otherwise all are right-aligned to the width of the largest (7 for stdin)."""
    o = parse(argv[1:], short="lwcmL", long=("lines", "words", "bytes", "chars"))
    got = _inputs(sh, o.args, io, "wc")
    if got is None:
        return 1
    picks = [k for k in "lwcm" if o.has(k, {"l": "lines", "w": "words", "c": "bytes",
                                           "m": "chars"}[k])] or ["l", "w", "c"]
    rows: list[tuple[list[int], str]] = []
    for name, data in got:
        per = {"l": data.count(b"\n"), "w": len(data.split()), "c": len(data),
               "m": len(data.decode("utf-8", "replace"))}
        rows.append(([per[k] for k in picks], "" if name == "(standard input)" else name))
    if len(rows) > 1:
        rows.append(([sum(r[0][i] for r in rows) for i in range(len(picks))], "total"))
    stdin = any(name == "(standard input)" for name, _ in got)
    if len(picks) == 1 and len(got) == 1:
        width = 1
    else:
        width = max(len(str(sum(len(d) for _, d in got))), 7 if stdin else 1)
    for counts, name in rows:
        io.print(" ".join(f"{c:>{width}}" for c in counts) + (f" {name}" if name else ""))
    return 0


@command("grep", "egrep", "fgrep")
def grep(sh: Shell, argv: list[str], io: IO) -> int:
    if argv[0] in ("egrep", "fgrep") and sh.system.disk.release != "22.04":
        # grep 3.8+ (noble has 3.11; jammy's 3.7 is silent): the wrappers warn.
        flag = "-E" if argv[0] == "egrep" else "-F"
        io.eprint(f"{argv[0]}: warning: {argv[0]} is obsolescent; using grep {flag}")
    o = parse(argv[1:], short="qicFEvnlrRwsohH", valued="e",
              long=("quiet", "silent", "ignore-case", "count", "fixed-strings"))
    args = list(o.args)
    pattern = o.get("e")
    if pattern is None:
        if not args:
            io.eprint("Usage: grep [OPTION]... PATTERNS [FILE]...")
            return 2
        pattern = args.pop(0)
    fixed = o.has("F", "fixed-strings") or argv[0] == "fgrep"
    flags = re.I if o.has("i", "ignore-case") else 0
    if fixed:
        rx = re.compile(re.escape(pattern), flags)
    else:
        py = pattern if o.has("E") or argv[0] == "egrep" else \
            pattern.replace(r"\|", "|").replace(r"\(", "(").replace(r"\)", ")")
        try:
            rx = re.compile(py, flags)
        except re.error:
            io.eprint("grep: Unmatched ( or \\(")
            return 2
    if o.has("w"):
        rx = re.compile(rf"\b(?:{rx.pattern})\b", flags)
    if o.has("r") or o.has("R"):
        args = _walk_files(sh, args or ["."], io)
        if not args:
            return 2
    got = _inputs(sh, args, io, "grep")
    if got is None:
        return 2
    quiet = o.has("q", "quiet", "silent")
    total = 0
    many = (len(got) > 1 or o.has("r", "R")) and not o.has("h")
    for name, data in got:
        n = 0
        for i, line in enumerate(data.decode("utf-8", "replace").splitlines()):
            hit = bool(rx.search(line)) != o.has("v")
            if not hit:
                continue
            n += 1
            if quiet or o.has("c") or o.has("l"):
                continue
            prefix = (f"{name}:" if many else "") + (f"{i + 1}:" if o.has("n") else "")
            if o.has("o"):
                for m in rx.finditer(line):
                    io.print(prefix + m.group(0))
            else:
                io.print(prefix + line)
        if o.has("c", "count") and not quiet:
            io.print((f"{name}:" if many else "") + str(n))
        if o.has("l") and n and not quiet:
            io.print(name)
        total += n
        if quiet and total:
            return 0
    return 0 if total else 1


def _walk_files(sh: Shell, roots: list[str], io: IO) -> list[str]:
    """grep -r: every regular file under the roots (as shown paths), in name order."""
    import posixpath

    disk = sh.system.disk
    out: list[str] = []
    for root in roots:
        full = sh.path(root)
        if not disk.is_dir(full):
            out.append(root)
            continue
        real = disk.resolve(full)
        for p in disk.walk(real):
            node = disk.nodes.get(p)
            if node is None or node.kind != "file":
                continue
            rel = p[len(real):].lstrip("/")
            if not disk.can_read(p, sh.user):
                io.eprint(f"grep: {posixpath.join(root, rel)}: Permission denied")
                continue
            out.append(rel if root == "." else posixpath.join(root, rel))
    return out


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "replace").splitlines()


def _ranges(spec: str) -> list[tuple[int, int]]:
    out = []
    for part in spec.split(","):
        lo, dash, hi = part.partition("-")
        try:
            a = int(lo) if lo else 1
            b = (int(hi) if hi else 1 << 30) if dash else a
        except ValueError:
            raise CmdError(f"invalid field value ‘{part}’\nTry 'cut --help' for more "
                           "information.") from None
        if a < 1:
            raise CmdError("fields are numbered from 1\nTry 'cut --help' for more "
                           "information.")
        out.append((a, b))
    return out


@command("cut")
def cut(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="s", valued="dfcb", long=("complement", "only-delimited"),
              long_valued=("delimiter", "fields", "characters", "output-delimiter"))
    fields = o.get("f", "fields")
    chars = o.get("c", "characters", "b")
    if not fields and not chars:
        raise CmdError("you must specify a list of bytes, characters, or fields\nTry 'cut "
                       "--help' for more information.")
    delim = o.get("d", "delimiter")
    if delim is not None and len(delim) != 1:
        raise CmdError("the delimiter must be a single character\nTry 'cut --help' for more "
                       "information.")
    delim = "\t" if delim is None else delim
    out_delim = o.get("output-delimiter") or delim
    got = _inputs(sh, o.args, io, "cut")
    if got is None:
        return 1
    ranges = _ranges(fields or chars or "")

    def pick(items: list[str]) -> list[str]:
        return [x for i, x in enumerate(items, 1) if any(a <= i <= b for a, b in ranges)]

    for _, data in got:
        for line in _lines(data):
            if chars:
                io.print("".join(pick(list(line))))
            elif delim not in line:
                if not o.has("s", "only-delimited"):
                    io.print(line)
            else:
                io.print(out_delim.join(pick(line.split(delim))))
    return 0


@command("sort")
def sort(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="nrufbhVcs", valued="kto",
              long=("numeric-sort", "reverse", "unique", "ignore-case", "human-numeric-sort",
                    "version-sort"), long_valued=("key", "field-separator", "output"))
    got = _inputs(sh, o.args, io, "sort")
    if got is None:
        return 2
    lines = [ln for _, data in got for ln in _lines(data)]
    sep = o.get("t", "field-separator")
    key = o.get("k", "key")
    numeric = o.has("n", "numeric-sort")
    human_sort = o.has("h", "human-numeric-sort")
    fold = o.has("f", "ignore-case")
    if key:
        m = re.fullmatch(r"(\d+)(?:\.\d+)?([nrhf]*)(?:,(\d+)(?:\.\d+)?([nrhf]*))?", key)
        if not m:
            raise CmdError(f"invalid number at field start: invalid count at start of "
                           f"‘{key}’", 2)
        k1 = int(m.group(1))
        k2 = int(m.group(3)) if m.group(3) else None
        mods = (m.group(2) or "") + (m.group(4) or "")
        numeric = numeric or "n" in mods
        human_sort = human_sort or "h" in mods
        fold = fold or "f" in mods
        reverse_key = "r" in mods
    else:
        k1, k2, reverse_key = 0, None, False

    def field_of(line: str) -> str:
        if not k1:
            return line
        parts = line.split(sep) if sep else line.split()
        chosen = parts[k1 - 1:k2] if k2 else parts[k1 - 1:]
        return (sep or " ").join(chosen)

    def number(text: str) -> float:
        m = re.match(r"\s*(-?\d+(?:\.\d+)?)([KMGTP]?)", text)
        if not m:
            return 0.0
        mult = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}[m.group(2)] \
            if human_sort else 1
        return float(m.group(1)) * mult

    def sort_key(line: str) -> tuple[float, str]:
        text = field_of(line)
        if numeric or human_sort:
            return (number(text), line)
        return (0.0, text.lower() if fold else text)

    reverse = o.has("r", "reverse") or reverse_key
    if o.has("c"):
        for a, b in itertools.pairwise(lines):
            if sort_key(b) < sort_key(a):
                io.eprint(f"sort: -:{lines.index(b) + 1}: disorder: {b}")
                return 1
        return 0
    lines.sort(key=sort_key, reverse=reverse)
    if o.has("u", "unique"):
        seen: set[object] = set()
        uniq_lines = []
        for ln in lines:
            k = sort_key(ln)[0] if numeric else field_of(ln)
            if k not in seen:
                seen.add(k)
                uniq_lines.append(ln)
        lines = uniq_lines
    text = "".join(ln + "\n" for ln in lines)
    dest = o.get("o", "output")
    if dest:
        sh.need_write(dest)
        with sh.system.lock:
            sh.system.disk.write(sh.path(dest), text)
        return 0
    io.out(text.encode())
    return 0


@command("uniq")
def uniq(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="cdui", long=("count", "repeated", "unique", "ignore-case"))
    got = _inputs(sh, o.args[:1], io, "uniq")
    if got is None:
        return 1
    lines = _lines(got[0][1])
    groups: list[tuple[str, int]] = []
    for ln in lines:
        same = groups and (groups[-1][0].lower() == ln.lower() if o.has("i", "ignore-case")
                           else groups[-1][0] == ln)
        if same:
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((ln, 1))
    for ln, n in groups:
        if o.has("d", "repeated") and n < 2:
            continue
        if o.has("u", "unique") and n > 1:
            continue
        io.print(f"{n:>7} {ln}" if o.has("c", "count") else ln)
    return 0


@command("xargs")
def xargs(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    max_args: int | None = None
    replace: str | None = None
    delim: str | None = None
    no_run_empty = False
    while args and args[0].startswith("-") and len(args[0]) > 1:
        a = args.pop(0)
        if a == "-n" and args:
            max_args = int(args.pop(0))
        elif a.startswith("-n") and a[2:].isdigit():
            max_args = int(a[2:])
        elif a == "-I" and args:
            replace = args.pop(0)
        elif a.startswith("-I"):
            replace = a[2:]
        elif a == "-0":
            delim = "\0"
        elif a == "-d" and args:
            delim = args.pop(0).encode().decode("unicode_escape")
        elif a in ("-r", "--no-run-if-empty"):
            no_run_empty = True
        elif a == "-t" or a == "-P" or a.startswith("-P"):
            if a == "-P" and args:
                args.pop(0)
        elif a == "--":
            break
        else:
            raise CmdError(f"invalid option -- '{a.lstrip('-')[:1]}'", 1)
    cmd = args or ["echo"]
    text = io.stdin.decode("utf-8", "replace")
    if replace is not None:
        items = [ln for ln in text.split("\n") if ln.strip()]
    elif delim is not None:
        items = [x for x in text.split(delim) if x]
    else:
        try:
            import shlex

            items = shlex.split(text)
        except ValueError as exc:
            raise CmdError(f"unmatched quote; by default quotes are special to xargs unless "
                           f"you use the -0 option ({exc})", 1) from None
    if not items and no_run_empty:
        return 0
    batches: list[list[str]]
    if replace is not None:
        batches = [[w.replace(replace, item) for w in cmd] for item in items]
    elif max_args:
        batches = [cmd + items[i:i + max_args] for i in range(0, len(items), max_args)] or \
            [cmd]
    else:
        batches = [cmd + items]
    status = 0
    for words in batches:
        code = sh.invoke(words, IO(b"", io.out, io.err))
        if code == 127:
            return 127
        if code:
            status = 123
    return status
