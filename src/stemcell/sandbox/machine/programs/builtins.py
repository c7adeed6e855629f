"""Shell builtins: cd, export, set, exit, echo, printf, test, sudo, bash -c ..."""

from __future__ import annotations

import re
import stat

from stemcell.sandbox.machine.disk import ROOT
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, CmdError, Shell, ShellExit


@command("true", ":")
def true_(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


@command("false")
def false_(sh: Shell, argv: list[str], io: IO) -> int:
    return 1


@command("exit", "logout")
def exit_(sh: Shell, argv: list[str], io: IO) -> int:
    code = sh.status
    if len(argv) > 1:
        if not re.fullmatch(r"-?\d+", argv[1]):
            io.eprint(f"{sh.name}: exit: {argv[1]}: numeric argument required")
            code = 2
        else:
            code = int(argv[1]) & 0xFF
    raise ShellExit(code)


@command("cd")
def cd(sh: Shell, argv: list[str], io: IO) -> int:
    target = argv[1] if len(argv) > 1 else sh.env.get("HOME", "/")
    if target == "-":
        target = sh.env.get("OLDPWD", sh.cwd)
    full = sh.path(target)
    disk = sh.system.disk
    node = disk.get(full)
    if node is None:
        raise CmdError(f"{target}: No such file or directory")
    if node.kind != "dir":
        raise CmdError(f"{target}: Not a directory")
    if sh.user != ROOT and not disk._allowed(node, sh.user, 0o1):
        raise CmdError(f"{target}: Permission denied")
    sh.env["OLDPWD"] = sh.cwd
    sh.cwd = disk.resolve(full)
    sh.env["PWD"] = sh.cwd
    return 0


@command("pwd")
def pwd(sh: Shell, argv: list[str], io: IO) -> int:
    io.print(sh.cwd)
    return 0


@command("export", "local", "declare", "readonly")
def export(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) == 1 or argv[1:] == ["-p"]:
        for k in sorted(sh.exported):
            if k in sh.env and not k.isdigit():
                io.print(f'declare -x {k}="{sh.env[k]}"')
        return 0
    for a in argv[1:]:
        if a.startswith("-"):
            continue
        name, eq, value = a.partition("=")
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            io.eprint(f"{sh.name}: {argv[0]}: `{a}': not a valid identifier")
            return 1
        if eq:
            sh.env[name] = value
        if argv[0] == "export":
            sh.exported.add(name)
    return 0


@command("unset")
def unset(sh: Shell, argv: list[str], io: IO) -> int:
    for a in argv[1:]:
        if not a.startswith("-"):
            sh.env.pop(a, None)
            sh.exported.discard(a)
    return 0


@command("set")
def set_(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-o", "+o") and i + 1 < len(args):
            on = a == "-o"
            opt = args[i + 1]
            if opt == "errexit":
                sh.errexit = on
            elif opt == "pipefail":
                sh.pipefail = on
            elif opt == "nounset":
                sh.nounset = on
            elif opt == "xtrace":
                sh.xtrace = on
            i += 2
            continue
        if a == "--":
            sh.args = args[i + 1:]
            return 0
        if a[:1] in "-+" and len(a) > 1:
            on = a[0] == "-"
            for c in a[1:]:
                if c == "e":
                    sh.errexit = on
                elif c == "x":
                    sh.xtrace = on
                elif c == "u":
                    sh.nounset = on
                elif c in "vhBCHPT":
                    pass
                else:
                    io.eprint(f"{sh.name}: set: {a[0]}{c}: invalid option")
                    return 2
        else:
            sh.args = args[i:]
            return 0
        i += 1
    return 0


@command("shift")
def shift(sh: Shell, argv: list[str], io: IO) -> int:
    n = int(argv[1]) if len(argv) > 1 else 1
    sh.args = sh.args[n:]
    return 0


@command("trap", "wait", "umask", "history", "hash")
def noop(sh: Shell, argv: list[str], io: IO) -> int:
    return 0


_ESC = {"n": "\n", "t": "\t", "\\": "\\", "a": "\a", "r": "\r", "0": "\0", "e": "\x1b"}


def _escapes(text: str) -> tuple[str, bool]:
    out: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "c":
                return "".join(out), True
            if n in _ESC:
                out.append(_ESC[n])
                i += 2
                continue
        out.append(c)
        i += 1
    return "".join(out), False


@command("echo")
def echo(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    newline = True
    escapes = False
    while args and re.fullmatch(r"-[neE]+", args[0]):
        for c in args[0][1:]:
            newline = newline and c != "n"
            escapes = (escapes or c == "e") and c != "E"
        args = args[1:]
    text = " ".join(args)
    if escapes:
        text, stop = _escapes(text)
        if stop:
            newline = False
    io.print(text, end="\n" if newline else "")
    return 0


@command("printf")
def printf(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        io.eprint("printf: usage: printf format [arguments]")
        return 2
    fmt, args = argv[1], argv[2:]
    out: list[str] = []
    while True:
        used = 0
        current = list(args)

        def repl(m: re.Match[str], current: list[str] = current) -> str:
            nonlocal used
            spec = m.group(0)
            if spec == "%%":
                return "%"
            val = current[used] if used < len(current) else ""
            used += 1
            conv = spec[-1]
            if conv in "di":
                return (spec[:-1] + "d") % int(val or 0)
            if conv == "b":
                return _escapes(val)[0]
            if conv in "fxXo":
                return spec % (float(val or 0) if conv == "f" else int(val or 0))
            return (spec[:-1] + "s") % val

        body = re.sub(r"%%|%[-+ 0#]*\d*(?:\.\d+)?[sdibfxXoc]", repl, fmt)
        out.append(_escapes(body)[0])
        args = args[used:]
        if not args or used == 0:
            break
    io.out("".join(out).encode())
    return 0


def _test(sh: Shell, args: list[str]) -> bool:
    disk = sh.system.disk
    if not args:
        return False
    if args[0] == "!":
        return not _test(sh, args[1:])
    if "-a" in args:
        i = args.index("-a")
        return _test(sh, args[:i]) and _test(sh, args[i + 1:])
    if "-o" in args:
        i = args.index("-o")
        return _test(sh, args[:i]) or _test(sh, args[i + 1:])
    if len(args) == 1:
        return args[0] != ""
    if len(args) == 2:
        op, val = args
        full = sh.path(val) if val else ""
        node = disk.get(full) if val else None
        if op == "-z":
            return val == ""
        if op == "-n":
            return val != ""
        if op == "-e":
            return node is not None
        if op == "-f":
            return node is not None and node.kind == "file"
        if op == "-d":
            return node is not None and node.kind == "dir"
        if op == "-s":
            return node is not None and node.kind == "file" and len(node.data) > 0
        if op == "-L" or op == "-h":
            link = disk.get(full, follow=False)
            return link is not None and link.kind == "link"
        if op == "-x":
            return node is not None and (sh.user == ROOT or bool(node.mode & 0o111))
        if op == "-r":
            return node is not None and disk.can_read(full, sh.user)
        if op == "-w":
            return node is not None and disk.can_write(full, sh.user)
        raise CmdError(f"{op}: unary operator expected", 2)
    if len(args) == 3:
        a, op, b = args
        if op in ("=", "=="):
            return a == b
        if op == "!=":
            return a != b
        ints = {"-eq": "==", "-ne": "!=", "-lt": "<", "-le": "<=", "-gt": ">", "-ge": ">="}
        if op in ints:
            try:
                x, y = int(a), int(b)
            except ValueError:
                raise CmdError(f"{a if not a.lstrip('-').isdigit() else b}: integer expression"
                               " expected", 2) from None
            return bool({"==": x == y, "!=": x != y, "<": x < y, "<=": x <= y, ">": x > y,
                         ">=": x >= y}[ints[op]])
    raise CmdError("too many arguments", 2)


@command("test", "[")
def test(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    if argv[0] == "[":
        if not args or args[-1] != "]":
            io.eprint("[: missing `]'")
            return 2
        args = args[:-1]
    try:
        return 0 if _test(sh, args) else 1
    except CmdError as exc:
        io.eprint(f"{sh.name}: {argv[0]}: {exc}")
        return 2


@command("source", ".")
def source(sh: Shell, argv: list[str], io: IO) -> int:
    if len(argv) < 2:
        raise CmdError("filename argument required", 2)
    sh.need_read(argv[1])
    text = sh.system.disk.read_text(sh.path(argv[1]))
    from stemcell.sandbox.machine import syntax as sx

    saved = sh.args
    sh.args = argv[2:]
    try:
        return sh.exec_seq(sx.parse(text), io)
    except sx.ParseError as exc:
        raise CmdError(str(exc), 2) from None
    finally:
        sh.args = saved


@command("bash", "sh")
def bash(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    flags = ""
    while args and args[0].startswith("-") and args[0] != "-c":
        flags += args[0][1:]
        args = args[1:]
    sub = sh.child()
    sub.name = argv[0]
    sub.errexit = "e" in flags
    sub.xtrace = "x" in flags
    if args and args[0] == "-c":
        if len(args) < 2:
            raise CmdError("-c: option requires an argument", 2)
        sub.args = args[3:]
        return sub.run(args[1], io)
    if args:
        sh.need_read(args[0])
        sub.args = args[1:]
        return sub.run(sh.system.disk.read_text(sh.path(args[0])), io)
    return sub.run(io.stdin.decode("utf-8", "replace"), IO(b"", io.out, io.err))


@command("sudo")
def sudo(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    user = ROOT
    login = False
    while args and args[0].startswith("-"):
        a = args.pop(0)
        if a == "-u" and args:
            user = args.pop(0)
        elif a.startswith("-u") and len(a) > 2:
            user = a[2:]
        elif a in ("-i", "-s"):
            login = True
        elif a == "--":
            break
    disk = sh.system.disk
    if sh.user != ROOT:
        rules = disk.read_text("/etc/sudoers.d/90-cloud-init-users") \
            if disk.exists("/etc/sudoers.d/90-cloud-init-users") else ""
        if f"{sh.user} ALL=(ALL) NOPASSWD:ALL" not in rules:
            io.eprint(f"{sh.user} is not in the sudoers file.  This incident will be reported.")
            return 1
    if user != ROOT and not re.search(rf"^{re.escape(user)}:", disk.read_text("/etc/passwd"),
                                      re.M):
        io.eprint(f"sudo: unknown user {user}")
        return 1
    if args and args[0] == "su" and all(a in ("-", "-l", "--login") for a in args[1:]):
        login, args = True, []
    if not args:
        if login and sh.interactive:
            # A root shell inside the login session; `exit` comes back to ubuntu.
            sh.push_user(user)
            return 0
        if login:
            raise CmdError("an interactive root shell needs a terminal; prefix each command "
                           "with sudo instead", 1)
        io.eprint("usage: sudo -h | -K | -k | -V\nusage: sudo [-u user] command")
        return 1
    sub = sh.child(user=user)
    sub.env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return sub.invoke(args, io)


@command("type", "command")
def type_(sh: Shell, argv: list[str], io: IO) -> int:
    from stemcell.sandbox.machine.programs import lookup
    from stemcell.sandbox.machine.shell import _BUILTINS

    args = [a for a in argv[1:] if not a.startswith("-")]
    if argv[0] == "command" and not any(a in ("-v", "-V") for a in argv[1:]):
        return sh.invoke(args, io) if args else 0
    status = 0
    for name in args:
        path = sh.which(name)
        if name in _BUILTINS and lookup(name) is not None:
            io.print(name if argv[0] == "command" else f"{name} is a shell builtin")
        elif path:
            io.print(path if argv[0] == "command" else f"{name} is {path}")
        else:
            if argv[0] == "type":
                io.eprint(f"{sh.name}: type: {name}: not found")
            status = 1
    return status


def mode_string(mode: int, kind: str) -> str:
    chars = {"dir": "d", "link": "l"}.get(kind, "-")
    out = [chars]
    for shift_, xbit in ((6, stat.S_ISUID), (3, stat.S_ISGID), (0, stat.S_ISVTX)):
        bits = (mode >> shift_) & 7
        out.append("r" if bits & 4 else "-")
        out.append("w" if bits & 2 else "-")
        x = bool(bits & 1)
        if mode & xbit:
            out.append(("t" if x else "T") if shift_ == 0 else ("s" if x else "S"))
        else:
            out.append("x" if x else "-")
    return "".join(out)
