"""sed (GNU sed 4.9, Ubuntu 24.04's) for scripts people type on one line.

Options `-n`, `-e` (repeatable), `-E`/`-r`, `-i[SUFFIX]`, `-s`. Addresses: N, `$`,
`/re/` (`\\%re%`), `first,last`, `addr!`. Commands: `s/re/repl/[gpiIN]` (with `&`,
`\\1`..`\\9`, `\\n`), `y/abc/xyz/`, `p`, `d`, `q`, `Q`, `=`, `n`, `a text`, `i text`,
`c text`, `{ ... }` blocks. Basic regular expressions are translated to Python's
(`\\(`, `\\{`, `\\+`, `\\?`, `\\|` special; bare `(` `{` `+` `?` `|` literal), with
POSIX classes like `[[:digit:]]`. Errors read like GNU sed's and exit 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, CmdError, Shell

_CLASSES = {"[:digit:]": r"0-9", "[:alpha:]": "a-zA-Z", "[:alnum:]": "a-zA-Z0-9",
            "[:space:]": r" \t\n\r\f\v", "[:upper:]": "A-Z", "[:lower:]": "a-z",
            "[:blank:]": r" \t", "[:punct:]": r"!-/:-@\[-`{-~", "[:xdigit:]": "0-9A-Fa-f"}


class SedError(Exception):
    pass


def regex(pattern: str, extended: bool) -> str:
    """A POSIX BRE (or ERE with -E) as a Python regular expression."""
    for k, v in _CLASSES.items():
        pattern = pattern.replace(k, v)
    out: list[str] = []
    i = 0
    in_bracket = False
    while i < len(pattern):
        c = pattern[i]
        if in_bracket:
            out.append("\\\\" if c == "\\" else c)
            if c == "]" and not (out[-2:-1] == ["["] or out[-3:-1] == ["[", "^"]):
                in_bracket = False
            i += 1
            continue
        if c == "[":
            in_bracket = True
            out.append(c)
            i += 1
            continue
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            i += 2
            if n in "<>":
                out.append(r"\b")
            elif n == "n":
                out.append("\n")
            elif n == "t":
                out.append("\t")
            elif not extended and n in "(){}+?|":
                out.append(n)
            else:
                out.append("\\" + n)
            continue
        if not extended and c in "(){}+?|":
            out.append("\\" + c)
        elif c == "*" and (not out or out[-1] in ("(", "|", "^")):
            out.append(r"\*")  # a leading * is literal in POSIX
        else:
            out.append(c)
        i += 1
    return "".join(out)


@dataclass
class Cmd:
    a1: str | None = None
    a2: str | None = None
    negate: bool = False
    name: str = ""
    rx: re.Pattern[str] | None = None
    repl: str = ""
    flags: str = ""
    text: str = ""
    block: list[Cmd] = field(default_factory=list)
    active: bool = False  # inside a first,last range
    done: bool = False  # a numeric range already closed


class Parser:
    def __init__(self, src: str, extended: bool) -> None:
        self.s = src
        self.i = 0
        self.extended = extended

    def error(self, msg: str) -> SedError:
        return SedError(f"-e expression #1, char {self.i}: {msg}")

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip(self, chars: str = " \t") -> None:
        while self.i < len(self.s) and self.s[self.i] in chars:
            self.i += 1

    def delimited(self, delim: str) -> str:
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            if c == "\\" and self.i + 1 < len(self.s):
                nxt = self.s[self.i + 1]
                out.append(nxt if nxt == delim else c + nxt)
                self.i += 2
                continue
            if c == delim:
                self.i += 1
                return "".join(out)
            if c == "\n":
                break
            out.append(c)
            self.i += 1
        raise self.error("unterminated `s' command")

    def address(self) -> str | None:
        c = self.peek()
        if c.isdigit():
            j = self.i
            while self.peek().isdigit():
                self.i += 1
            return self.s[j:self.i]
        if c == "$":
            self.i += 1
            return "$"
        if c in ("/", "\\"):
            if c == "\\":
                self.i += 1
            delim = self.peek()
            self.i += 1
            try:
                return "/" + regex(self.delimited(delim), self.extended)
            except SedError:
                raise self.error("unterminated address regex") from None
        return None

    def commands(self, until: str = "") -> list[Cmd]:
        cmds: list[Cmd] = []
        while True:
            self.skip(" \t\n;")
            if self.i >= len(self.s):
                if until:
                    raise self.error("unmatched `{'")
                return cmds
            if until and self.peek() == until:
                self.i += 1
                return cmds
            cmd = Cmd()
            cmd.a1 = self.address()
            if cmd.a1 is not None and self.peek() == ",":
                self.i += 1
                cmd.a2 = self.address()
                if cmd.a2 is None:
                    raise self.error("unexpected `,'")
            self.skip()
            if self.peek() == "!":
                cmd.negate = True
                self.i += 1
                self.skip()
            name = self.peek()
            self.i += 1
            cmd.name = name
            if name == "{":
                cmd.block = self.commands("}")
            elif name in ("s", "y"):
                delim = self.peek()
                if not delim or delim in "\n\\":
                    raise self.error(f"unterminated `{name}' command")
                self.i += 1
                pat = self.delimited(delim)
                repl = self.delimited(delim)
                if name == "y":
                    src, dst = pat.replace("\\n", "\n"), repl.replace("\\n", "\n")
                    if len(src) != len(dst):
                        raise self.error("strings for `y' command are different lengths")
                    cmd.text = src
                    cmd.repl = dst
                else:
                    j = self.i
                    while self.peek() and self.peek() not in ";\n}":
                        self.i += 1
                    cmd.flags = self.s[j:self.i].strip()
                    if re.sub(r"[gpiIm0-9]", "", cmd.flags):
                        raise self.error("unknown option to `s'")
                    try:
                        cmd.rx = re.compile(regex(pat, self.extended),
                                            re.I if set(cmd.flags) & {"i", "I"} else 0)
                    except re.error:
                        raise self.error("Invalid preceding regular expression") from None
                    cmd.repl = repl
            elif name in ("a", "i", "c"):
                if self.s.startswith("\\\n", self.i):
                    self.i += 2
                elif self.peek() == "\\":
                    self.i += 1
                self.skip()
                j = self.i
                while self.peek() and self.peek() != "\n":
                    self.i += 1
                cmd.text = self.s[j:self.i]
            elif name in ("p", "d", "q", "Q", "=", "n", "N", "P", "D", "h", "H", "g", "G",
                          "x", "l"):
                if name in "NPDhHgGxl":
                    raise self.error(f"the `{name}' command is not simulated in the sandbox")
                if name in "qQ":
                    self.skip()
                    while self.peek().isdigit():
                        cmd.text += self.peek()
                        self.i += 1
            elif name == "}":
                raise self.error("unexpected `}'")
            else:
                raise self.error(f"unknown command: `{name}'")
            cmds.append(cmd)


def _matches(addr: str, n: int, last: bool, line: str) -> bool:
    if addr == "$":
        return last
    if addr.startswith("/"):
        return re.search(addr[1:], line) is not None
    return n == int(addr)


def _selected(cmd: Cmd, n: int, last: bool, line: str) -> bool:
    if cmd.a1 is None:
        hit = True
    elif cmd.a2 is None:
        hit = _matches(cmd.a1, n, last, line)
    elif cmd.active:
        hit = True
        if cmd.a2 == "$":
            cmd.active = not last
        elif cmd.a2.isdigit():
            cmd.active = n < int(cmd.a2)
        else:
            cmd.active = not _matches(cmd.a2, n, last, line)
    elif _matches(cmd.a1, n, last, line):
        hit = True
        if cmd.a2 == "$":
            cmd.active = not last
        elif cmd.a2.isdigit():
            cmd.active = int(cmd.a2) > n
        else:
            cmd.active = True
    else:
        hit = False
    return hit != cmd.negate


def _replace(rx: re.Pattern[str], repl: str, line: str, flags: str) -> tuple[str, bool]:
    occurrence = int(re.sub(r"\D", "", flags) or "1")
    every = "g" in flags

    def expand(m: re.Match[str]) -> str:
        out = []
        i = 0
        while i < len(repl):
            c = repl[i]
            if c == "\\" and i + 1 < len(repl):
                n = repl[i + 1]
                i += 2
                if n.isdigit():
                    out.append(m.group(int(n)) or "" if int(n) <= (rx.groups or 0) else "")
                elif n == "n":
                    out.append("\n")
                elif n == "t":
                    out.append("\t")
                else:
                    out.append(n)
                continue
            out.append(m.group(0) if c == "&" else c)
            i += 1
        return "".join(out)

    count = 0
    changed = False

    def sub(m: re.Match[str]) -> str:
        nonlocal count, changed
        count += 1
        if count == occurrence or (every and count >= occurrence):
            changed = True
            return expand(m)
        return m.group(0)

    return rx.sub(sub, line), changed


class _Quit(Exception):
    def __init__(self, code: int, print_line: bool) -> None:
        super().__init__(code)
        self.code = code
        self.print_line = print_line


@dataclass
class _Cycle:
    """The pattern space of one cycle and where it is in the input."""

    line: str
    index: int
    deleted: bool = False
    append: list[str] = field(default_factory=list)


def run(cmds: list[Cmd], text: str, quiet: bool) -> tuple[str, int]:
    """Run the script over ``text``; (output, exit status of q/Q or 0)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[str] = []

    def execute(block: list[Cmd], cy: _Cycle) -> None:
        for cmd in block:
            if cy.deleted:
                return
            if not _selected(cmd, cy.index + 1, cy.index == len(lines) - 1, cy.line):
                continue
            name = cmd.name
            if name == "{":
                execute(cmd.block, cy)
            elif name == "p":
                out.append(cy.line)
            elif name == "d":
                cy.deleted = True
            elif name == "s" and cmd.rx is not None:
                cy.line, changed = _replace(cmd.rx, cmd.repl, cy.line, cmd.flags)
                if changed and "p" in cmd.flags:
                    out.append(cy.line)
            elif name == "y":
                cy.line = cy.line.translate(str.maketrans(cmd.text, cmd.repl))
            elif name == "=":
                out.append(str(cy.index + 1))
            elif name == "a":
                cy.append.append(cmd.text)
            elif name == "i":
                out.append(cmd.text)
            elif name == "c":
                if cmd.a2 is None or not cmd.active:
                    out.append(cmd.text)
                cy.deleted = True
            elif name in ("q", "Q"):
                raise _Quit(int(cmd.text or "0"), name == "q")
            elif name == "n":
                if not quiet:
                    out.append(cy.line)
                out.extend(cy.append)
                cy.append.clear()
                if cy.index + 1 >= len(lines):
                    cy.deleted = True  # no next line: sed ends without printing again
                    return
                cy.index += 1
                cy.line = lines[cy.index]

    i = 0
    while i < len(lines):
        cy = _Cycle(lines[i], i)
        try:
            execute(cmds, cy)
        except _Quit as q:
            if q.print_line and not quiet:
                out.append(cy.line)
            out.extend(cy.append)
            return "".join(x + "\n" for x in out), q.code
        if not cy.deleted and not quiet:
            out.append(cy.line)
        out.extend(cy.append)
        i = cy.index + 1
    return "".join(x + "\n" for x in out), 0


@command("sed")
def sed(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    scripts: list[str] = []
    quiet = extended = False
    in_place: str | None = None
    files: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            files.extend(args[i + 1:])
            break
        if a in ("-e", "--expression") and i + 1 < len(args):
            scripts.append(args[i + 1])
            i += 2
            continue
        if a.startswith("--expression="):
            scripts.append(a.split("=", 1)[1])
        elif a in ("-n", "--quiet", "--silent"):
            quiet = True
        elif a in ("-E", "-r", "--regexp-extended"):
            extended = True
        elif a in ("-s", "--separate", "-u", "--unbuffered", "-z"):
            pass
        elif a == "--in-place" or a.startswith("--in-place="):
            in_place = a.partition("=")[2]
        elif a.startswith("-i"):
            in_place = a[2:]
        elif a.startswith("-") and len(a) > 1 and set(a[1:]) <= set("nErsu"):
            quiet = quiet or "n" in a
            extended = extended or "E" in a or "r" in a
        elif a.startswith("-") and len(a) > 1 and a[1:].rstrip("e") and \
                set(a[1:-1]) <= set("nErsu") and a.endswith("e") and i + 1 < len(args):
            quiet = quiet or "n" in a
            extended = extended or "E" in a or "r" in a
            scripts.append(args[i + 1])
            i += 2
            continue
        elif a.startswith("-") and len(a) > 1:
            raise CmdError(f"invalid option -- '{a[1]}'\nUsage: sed [OPTION]... "
                           "{script-only-if-no-other-script} [input-file]...", 1)
        else:
            files.append(a)
        i += 1
    if not scripts:
        if not files:
            io.eprint("Usage: sed [OPTION]... {script-only-if-no-other-script} [input-file]...")
            return 1
        scripts.append(files.pop(0))
    try:
        cmds = Parser("\n".join(scripts), extended).commands()
    except SedError as exc:
        raise CmdError(str(exc), 1) from None
    disk = sh.system.disk
    if in_place is not None:
        if not files:
            raise CmdError("no input files", 1)
        for f in files:
            full = sh.path(f)
            if not disk.is_file(full):
                io.eprint(f"sed: can't read {f}: No such file or directory")
                return 2
            if not disk.can_write(full, sh.user) or not disk.can_read(full, sh.user):
                io.eprint(f"sed: couldn't open temporary file {_tmp(f)}: Permission denied")
                return 4
            text, _ = run(_fresh(cmds), disk.read_text(full), quiet)
            with sh.system.lock:
                if in_place:
                    disk.write(full + in_place if "*" not in in_place else
                               in_place.replace("*", f), disk.read(full))
                disk.write(full, text)
        return 0
    chunks: list[bytes] = []
    status = 0
    for f in files or ["-"]:
        if f == "-":
            chunks.append(io.stdin)
            continue
        full = sh.path(f)
        node = disk.get(full)
        if node is None or node.kind != "file":
            io.eprint(f"sed: can't read {f}: " + ("Is a directory" if node is not None else
                                                  "No such file or directory"))
            status = 2
            continue
        if not disk.can_read(full, sh.user):
            io.eprint(f"sed: can't read {f}: Permission denied")
            status = 2
            continue
        chunks.append(node.data)
    # Without -s/-i, sed treats its inputs as one stream ($ is the last line of all).
    text, code = run(cmds, "".join(c.decode("utf-8", "replace") for c in chunks), quiet)
    io.out(text.encode())
    return code or status


def _tmp(name: str) -> str:
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    return f"{folder}sedAbC123"


def _fresh(cmds: list[Cmd]) -> list[Cmd]:
    for c in cmds:
        c.active = False
        _fresh(c.block)
    return cmds
