"""Text commands: cat, tee, head, tail, wc, grep, sed."""

from __future__ import annotations

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
    o = parse(argv[1:], short="lwc")
    got = _inputs(sh, o.args, io, "wc")
    if got is None:
        return 1
    for name, data in got:
        counts = []
        if o.has("l") or not o.flags:
            counts.append(data.count(b"\n"))
        if o.has("w") or not o.flags:
            counts.append(len(data.split()))
        if o.has("c") or not o.flags:
            counts.append(len(data))
        label = "" if name == "(standard input)" else f" {name}"
        io.print(" ".join(str(c) for c in counts) + label)
    return 0


@command("grep", "egrep", "fgrep")
def grep(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="qicFEvnlrwsoh", valued="e",
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
    got = _inputs(sh, args, io, "grep")
    if got is None:
        return 2
    quiet = o.has("q", "quiet", "silent")
    total = 0
    many = len(got) > 1 and not o.has("h")
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


def _sed_address(spec: str) -> tuple[str, str]:
    m = re.match(r"^(\$|\d+|/(?:[^/\\]|\\.)*/)?(?:,(\$|\d+|/(?:[^/\\]|\\.)*/))?", spec)
    assert m is not None
    return spec[:m.end()], spec[m.end():]


def _match_addr(addr: str, n: int, last: bool, line: str) -> bool:
    if addr == "$":
        return last
    if addr.isdigit():
        return n == int(addr)
    return bool(re.search(addr[1:-1], line))


def _sed(script: str, text: str, quiet: bool) -> str:
    cmds = []
    for part in [p.strip() for p in re.split(r";\s*(?![^/]*/[gI]*$)", script) if p.strip()]:
        addr, rest = _sed_address(part)
        lo, _, hi = addr.partition(",")
        cmds.append((lo, hi, rest.strip()))
    lines = text.splitlines()
    out: list[str] = []
    active = [False] * len(cmds)
    for i, line in enumerate(lines):
        n = i + 1
        last = i == len(lines) - 1
        deleted = False
        for k, (lo, hi, op) in enumerate(cmds):
            if lo and hi:
                if not active[k] and _match_addr(lo, n, last, line):
                    active[k] = True
                    sel = True
                elif active[k]:
                    sel = True
                    if _match_addr(hi, n, last, line):
                        active[k] = False
                else:
                    sel = False
            else:
                sel = not lo or _match_addr(lo, n, last, line)
            if not sel:
                continue
            if op == "p":
                out.append(line)
            elif op == "d":
                deleted = True
                break
            elif op.startswith("s") and len(op) > 1:
                delim = op[1]
                pieces = re.split(rf"(?<!\\){re.escape(delim)}", op[2:])
                if len(pieces) < 3:
                    raise CmdError(f"-e expression #1, char {len(op)}: unterminated `s' command")
                pat, rep, fl = pieces[0], pieces[1], pieces[2]
                rep = re.sub(r"\\(\d)", r"\\\1", rep).replace("&", r"\g<0>")
                line = re.sub(pat, rep, line, count=0 if "g" in fl else 1,
                              flags=re.I if "I" in fl else 0)
                if "p" in fl:
                    out.append(line)
            elif op == "q":
                if not quiet:
                    out.append(line)
                return "".join(x + "\n" for x in out)
            else:
                raise CmdError(f"-e expression #1, char 1: unknown command: `{op[:1]}'")
        if not deleted and not quiet:
            out.append(line)
    return "".join(x + "\n" for x in out)


@command("sed")
def sed(sh: Shell, argv: list[str], io: IO) -> int:
    o = parse(argv[1:], short="niEr", valued="e", long=("quiet", "in-place"))
    args = list(o.args)
    script = o.get("e")
    if script is None:
        if not args:
            io.eprint("Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...")
            return 1
        script = args.pop(0)
    quiet = o.has("n", "quiet")
    disk = sh.system.disk
    if o.has("i", "in-place"):
        for f in args:
            full = sh.path(f)
            if not disk.is_file(full):
                io.eprint(f"sed: can't read {f}: No such file or directory")
                return 2
            if not disk.can_write(full, sh.user):
                io.eprint(f"sed: couldn't open temporary file {f}: Permission denied")
                return 4
            with sh.system.lock:
                disk.write(full, _sed(script, disk.read_text(full), quiet))
        return 0
    got = _inputs(sh, args, io, "sed")
    if got is None:
        return 2
    for _, data in got:
        io.out(_sed(script, data.decode("utf-8", "replace"), quiet).encode())
    return 0
