"""The interpreter behind SSH exec, interactive shells and cloud-init's user data.

A bash subset (see docs/sandbox-guest.md): sequences, ``&&``/``||``, pipes,
variables, quoting, command substitution, redirections, heredocs, ``set -e``,
``if``/``for``/``while``. Commands are simulated against the guest's disk and
take *modeled* time. Pipes buffer: a stage runs to completion before the next
reads its output, which is all the scripts we run need.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
import threading
from collections.abc import Callable
from typing import Protocol

from stemcell.engine.redact import redact
from stemcell.sandbox.machine import arithmetic
from stemcell.sandbox.machine import syntax as sx
from stemcell.sandbox.machine.disk import ROOT, DiskError, norm
from stemcell.sandbox.machine.system import System, Timeline

Writer = Callable[[bytes], None]


class ShellExit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class CmdError(Exception):
    """A command failed: message goes to stderr prefixed with the command's name."""

    def __init__(self, msg: str, code: int = 1) -> None:
        super().__init__(msg)
        self.code = code


Stdin = bytes | Callable[[], bytes]


class Terminal(Protocol):
    """The PTY of an interactive SSH session, for full-screen programs (nano, vi)."""

    name: str  # the device as ps shows it: pts/0, pts/1, ...

    def read(self, timeout: float) -> bytes | None:
        """Keystrokes typed since the last read (b"" if none in ``timeout``); None once
        the session is gone."""
        ...

    def write(self, data: bytes) -> None:
        ...

    def size(self) -> tuple[int, int]:
        """(columns, rows)"""
        ...

    def raw(self, on: bool) -> None:
        """Raw mode: every byte goes to the program (Ctrl-C included), no echo."""
        ...


def _discard(_: bytes) -> None:
    pass


class IO:
    """A command's standard streams. ``stdin`` may be a function, read only when a
    command actually wants its input (an SSH client's data up to EOF, say)."""

    def __init__(self, stdin: Stdin = b"", out: Writer | None = None,
                 err: Writer | None = None) -> None:
        self._stdin = stdin
        self.out: Writer = out or _discard
        self.err: Writer = err or _discard

    @property
    def stdin(self) -> bytes:
        if callable(self._stdin):
            self._stdin = self._stdin()
        return self._stdin

    def stdin_source(self) -> Stdin:
        return self._stdin

    def print(self, text: str = "", end: str = "\n") -> None:
        self.out((text + end).encode("utf-8"))

    def eprint(self, text: str = "", end: str = "\n") -> None:
        self.err((text + end).encode("utf-8"))


class Buffer:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def __call__(self, data: bytes) -> None:
        self.chunks.append(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


Command = Callable[["Shell", list[str], IO], int]


class Shell:
    def __init__(self, system: System, *, user: str = "ubuntu", cwd: str | None = None,
                 env: dict[str, str] | None = None, name: str = "bash") -> None:
        self.system = system
        self.user = user
        home = "/root" if user == ROOT else f"/home/{user}"
        self.cwd = cwd or home
        self.env: dict[str, str] = {
            "HOME": home, "USER": user, "LOGNAME": user, "SHELL": "/bin/bash",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "PWD": self.cwd, "HOSTNAME": system.hostname,
        }
        if env:
            self.env.update(env)
        self.exported: set[str] = set(self.env)
        self.status = 0
        self.errexit = False
        self.xtrace = False
        self.nounset = False
        self.pipefail = False
        self.args: list[str] = []
        self.name = name
        self._cond_depth = 0  # inside if/while conditions and && || left sides
        # Set by Ctrl-C in an interactive session (and by the guest going down).
        self.cancel: threading.Event | None = None
        self._cursor: float | None = None  # modeled time the running command has reached
        # Set for cloud-init's user scripts: the whole boot shares one timeline.
        self.timeline: Timeline | None = None
        self.interactive = False
        self.terminal: Terminal | None = None  # set for a PTY login shell
        self._users: list[tuple[str, str, dict[str, str]]] = []  # shells below `sudo -i`
        self.line = 0

    # --- entry points ----------------------------------------------------------------

    def run(self, script: str, io: IO) -> int:
        """Run a whole script; returns its exit status (``exit`` and ``set -e`` honoured).

        In an interactive session (the PTY login shell) ``exit`` ends the shell, as in
        bash: its ShellExit propagates to the session, which logs out (or leaves a
        ``sudo -i`` shell).
        """
        try:
            tree = sx.parse(script)
        except sx.ParseError as exc:
            io.eprint(f"{self.name}: {exc}")
            self.status = 2
            return 2
        try:
            self.exec_seq(tree, io)
        except ShellExit as exc:
            if self.interactive:
                raise
            self.status = exc.code
        return self.status

    def push_user(self, user: str) -> None:
        """`sudo -i`: become ``user`` in this (interactive) shell until `exit`."""
        self._users.append((self.user, self.cwd, dict(self.env)))
        home = "/root" if user == ROOT else f"/home/{user}"
        self.user = user
        self.cwd = home
        self.env.update({"HOME": home, "USER": user, "LOGNAME": user, "PWD": home})

    def pop_user(self) -> bool:
        """Leave a `sudo -i` shell; False if this is the login shell itself."""
        if not self._users:
            return False
        self.user, self.cwd, self.env = self._users.pop()
        return True

    def child(self, *, user: str | None = None) -> Shell:
        """A subshell: copies variables and options; ``user`` switches like sudo does."""
        sub = Shell(self.system, user=user or self.user, cwd=self.cwd, name=self.name)
        if user is None or user == self.user:
            sub.env = dict(self.env)
        else:
            sub.env.update({k: v for k, v in self.env.items()
                            if k in self.exported and k not in ("HOME", "USER", "LOGNAME")})
            sub.env["SUDO_USER"] = self.user
        sub.exported = set(self.exported)
        sub.errexit, sub.xtrace, sub.pipefail = self.errexit, self.xtrace, self.pipefail
        sub.cancel = self.cancel
        sub.timeline = self.timeline
        sub.terminal = self.terminal
        return sub

    # --- helpers for commands ------------------------------------------------------

    def path(self, p: str) -> str:
        if p == "~" or p.startswith("~/"):
            p = self.env.get("HOME", "/") + p[1:]
        return norm(p, self.cwd)

    def need_write(self, p: str) -> None:
        if not self.system.disk.can_write(self.path(p), self.user):
            raise CmdError(f"{p}: Permission denied")

    def need_read(self, p: str) -> None:
        disk = self.system.disk
        full = self.path(p)
        if not disk.exists(full):
            raise CmdError(f"{p}: No such file or directory")
        if not disk.can_read(full, self.user):
            raise CmdError(f"{p}: Permission denied")

    def sleep(self, seconds: float) -> None:
        """Spend modeled time. Sleeps within one command add up from the command's
        start, so interpreter overhead (large at high --speed) does not inflate them."""
        system = self.system
        ev = self.cancel or system.cancel
        if self.timeline is not None:
            ok = self.timeline.advance(seconds, ev)
        else:
            now = system.clock.now()
            cursor = self._cursor if self._cursor is not None else now
            target = cursor + max(0.0, seconds)
            self._cursor = target
            ok = system.clock.sleep(max(0.0, target - now), ev)
        if not ok or system.cancel.is_set():
            raise ShellExit(130)

    def check_cancel(self) -> None:
        if self.system.cancel.is_set() or (self.cancel is not None and self.cancel.is_set()):
            raise ShellExit(130)

    # --- execution -----------------------------------------------------------------

    def exec_seq(self, seq: sx.Seq, io: IO) -> int:
        for item in seq.items:
            self.exec_and_or(item, io)
        return self.status

    def exec_and_or(self, node: sx.AndOr, io: IO) -> int:
        chain = [("", node.first), *node.rest]
        status = 0
        ran_last = False
        for idx, (op, pipe) in enumerate(chain):
            if (op == "&&" and status != 0) or (op == "||" and status == 0):
                continue
            last = idx == len(chain) - 1
            # Only the last command of an && / || chain can trip `set -e` (bash rules).
            if not last:
                self._cond_depth += 1
            try:
                status = self.exec_pipeline(pipe, io)
            finally:
                if not last:
                    self._cond_depth -= 1
            ran_last = last and not pipe.negate
        self.status = status
        if status != 0 and self.errexit and self._cond_depth == 0 and ran_last:
            raise ShellExit(status)
        return status

    def exec_pipeline(self, pipe: sx.Pipeline, io: IO) -> int:
        self.check_cancel()
        stdin: Stdin = io.stdin_source()
        statuses: list[int] = []
        for i, cmd in enumerate(pipe.commands):
            last = i == len(pipe.commands) - 1
            if last:
                sub_io = IO(stdin, io.out, io.err)
                statuses.append(self.exec_node(cmd, sub_io))
            else:
                buf = Buffer()
                statuses.append(self.exec_node(cmd, IO(stdin, buf, io.err)))
                stdin = buf.value()
        status = statuses[-1]
        if self.pipefail:
            status = next((s for s in reversed(statuses) if s != 0), 0)
        if pipe.negate:
            status = 0 if status else 1
        self.status = status
        return status

    def exec_node(self, node: sx.Node, io: IO) -> int:
        if isinstance(node, sx.Simple):
            return self.exec_simple(node, io)
        with self._redirected(node.redirs, io) as rio:
            if isinstance(node, sx.If):
                for cond, body in node.branches:
                    if self._cond(cond, rio) == 0:
                        return self.exec_seq(body, rio)
                if node.orelse is not None:
                    return self.exec_seq(node.orelse, rio)
                self.status = 0
                return 0
            if isinstance(node, sx.For):
                items = [f for w in node.items for f in self.expand(w)] if node.items \
                    else list(self.args)
                self.status = 0
                for item in items:
                    self.env[node.var] = item
                    self.exec_seq(node.body, rio)
                return self.status
            if isinstance(node, sx.While):
                rounds = 0
                self.status = 0
                last = 0
                while True:
                    ok = self._cond(node.cond, rio) == 0
                    if ok == node.until:
                        break
                    last = self.exec_seq(node.body, rio)
                    rounds += 1
                    if rounds > 10000:
                        rio.eprint(f"{self.name}: loop stopped after 10000 rounds (sandbox limit)")
                        return 1
                self.status = last
                return last
            if isinstance(node, sx.Group):
                if node.subshell:
                    sub = self.child()
                    try:
                        return sub.exec_seq(node.body, rio)
                    except ShellExit as exc:
                        self.status = exc.code
                        return exc.code
                return self.exec_seq(node.body, rio)
        raise AssertionError(node)  # pragma: no cover

    def _cond(self, seq: sx.Seq, io: IO) -> int:
        self._cond_depth += 1
        try:
            return self.exec_seq(seq, io)
        finally:
            self._cond_depth -= 1

    def exec_simple(self, cmd: sx.Simple, io: IO) -> int:
        self.line = cmd.line or self.line
        try:
            words = [f for w in cmd.words for f in self.expand(w)]
            assigns = [(n, self.expand_joined(v)) for n, v in cmd.assigns]
        except CmdError as exc:
            io.eprint(f"{self.name}: {exc}")
            self.status = exc.code
            return exc.code
        if self.xtrace:
            shown = [f"{n}={shlex.quote(v)}" for n, v in assigns] + [
                w if re.fullmatch(r"[\w@%+=:,./-]+", w) else shlex.quote(w) for w in words]
            io.eprint(redact("+ " + " ".join(shown)))
        if not words:
            for name, value in assigns:
                self.env[name] = value
            try:
                with self._redirected(cmd.redirs, io):
                    pass
            except CmdError as exc:
                io.eprint(f"{self.name}: {exc}")
                self.status = exc.code
                return exc.code
            self.status = 0
            return 0
        saved = {n: self.env.get(n) for n, _ in assigns}
        for name, value in assigns:
            self.env[name] = value
        try:
            with self._redirected(cmd.redirs, io) as rio:
                status = self.invoke(words, rio)
        except CmdError as exc:
            io.eprint(f"{self.name}: {exc}")
            status = exc.code
        finally:
            for name, old in saved.items():
                if old is None:
                    self.env.pop(name, None)
                else:
                    self.env[name] = old
        self.status = status
        return status

    def invoke(self, words: list[str], io: IO) -> int:
        from stemcell.sandbox.machine.programs import lookup

        name = words[0]
        base = posixpath.basename(name)
        disk = self.system.disk
        if "/" in name and base not in _BUILTINS:
            full = self.path(name)
            node = disk.get(full)
            if node is None:
                io.eprint(f"{self.name}: {name}: No such file or directory")
                return 127
            if node.kind == "file" and not node.data.startswith(b"\x7fELF"):
                if not node.mode & 0o111:
                    io.eprint(f"{self.name}: {name}: Permission denied")
                    return 126
                first = node.data.split(b"\n", 1)[0]
                if first.startswith(b"#!") and b"python" in first:  # runs in the worker
                    return self.invoke(["python3", full, *words[1:]], io)
                return self.run_script(node.data.decode("utf-8", "replace"), words, io)
        fn = lookup(base)
        if fn is None:
            io.eprint(f"not simulated in the sandbox: {base} (it would run on AWS)")
            return 127
        if base not in _BUILTINS and "/" not in name and self.which(base) is None:
            io.eprint(f"{self.name}: line {self.line}: {base}: command not found"
                      if self.line else f"{base}: command not found")
            return 127
        # Modeled time of this command counts from its start (see sleep()).
        self._cursor = self.system.clock.now()
        previous = self.system.set_sleeper(self.sleep)
        try:
            return fn(self, words, io)
        except CmdError as exc:
            io.eprint(f"{base}: {exc}")
            return exc.code
        except DiskError as exc:
            io.eprint(f"{base}: {exc}")
            return 1
        finally:
            self.system.set_sleeper(previous)

    def run_script(self, text: str, argv: list[str], io: IO) -> int:
        sub = self.child()
        sub.args = argv[1:]
        sub.env["0"] = argv[0]
        return sub.run(text, io)

    def which(self, name: str) -> str | None:
        for folder in self.env.get("PATH", "").split(":"):
            if folder and self.system.disk.is_file(posixpath.join(folder, name)):
                return posixpath.join(folder, name)
        return None

    # --- redirections --------------------------------------------------------------

    def _redirected(self, redirs: list[sx.Redir], io: IO) -> _Redirected:
        return _Redirected(self, redirs, io)

    # --- expansion -----------------------------------------------------------------

    def var(self, name: str) -> str:
        if name == "?":
            return str(self.status)
        if name == "$":
            return "4242"
        if name == "#":
            return str(len(self.args))
        if name in ("@", "*"):
            return " ".join(self.args)
        if name == "0":
            return self.env.get("0", self.name)
        if name.isdigit():
            i = int(name)
            return self.args[i - 1] if 0 < i <= len(self.args) else ""
        if name == "-":
            return "e" * self.errexit + "u" * self.nounset + "x" * self.xtrace
        # ${VAR:-default}, ${VAR:=default}, ${#VAR}
        m = re.fullmatch(r"([A-Za-z_]\w*)(:?[-=+])(.*)", name)
        if m:
            key, op, word = m.groups()
            val = self.env.get(key)
            empty = val is None or (op.startswith(":") and val == "")
            if op.endswith("-"):
                return self.expand_text(word) if empty else (val or "")
            if op.endswith("="):
                if empty:
                    self.env[key] = self.expand_text(word)
                return self.env[key]
            return "" if empty else self.expand_text(word)
        if name.startswith("#") and len(name) > 1:
            return str(len(self.var(name[1:])))
        m = re.fullmatch(r"([A-Za-z_]\w*|[0-9@*])(\^\^|,,|\^|,|%%|%|##|#|//|/|:)(.*)", name,
                         re.S)
        if m:
            return self._operator(m.group(1), m.group(2), m.group(3))
        if name not in self.env:
            if self.nounset:
                raise CmdError(f"{name}: unbound variable", 1)
            return ""
        return self.env[name]

    def _operator(self, key: str, op: str, arg: str) -> str:
        """${x^^} ${x,,} ${x%pat} ${x%%pat} ${x#pat} ${x##pat} ${x/a/b} ${x//a/b} ${x:o:n}"""
        val = self.var(key)
        if op in ("^^", ",,", "^", ","):
            if op == "^^":
                return val.upper()
            if op == ",,":
                return val.lower()
            return (val[:1].upper() if op == "^" else val[:1].lower()) + val[1:]
        if op == ":":
            start_s, _, length_s = arg.partition(":")
            try:
                start = int(self.arith(start_s or "0"))
                if start < 0:
                    start = max(0, len(val) + start)
                if not _:
                    return val[start:]
                length = int(self.arith(length_s or "0"))
            except CmdError:
                raise CmdError(f"{arg}: bad substitution") from None
            return val[start:start + length] if length >= 0 else val[start:length]
        pattern = self.expand_text(arg)
        if op in ("/", "//"):
            pat, _, repl = pattern.partition("/")
            anchor = ""
            if pat.startswith(("#", "%")):
                anchor, pat = pat[0], pat[1:]
            rx = _glob_regex(pat, greedy=True)
            if anchor == "#":
                rx = "^" + rx
            elif anchor == "%":
                rx = rx + "$"
            return re.sub(rx, lambda _m: repl, val, count=0 if op == "//" else 1)
        if op in ("#", "##"):
            ends = range(len(val) + 1) if op == "#" else range(len(val), -1, -1)
            for i in ends:
                if fnmatch.fnmatchcase(val[:i], pattern):
                    return val[i:]
            return val
        starts = range(len(val), -1, -1) if op == "%" else range(len(val) + 1)
        for i in starts:
            if fnmatch.fnmatchcase(val[i:], pattern):
                return val[:i]
        return val

    def command_output(self, src: str) -> str:
        buf = Buffer()
        sub = self.child()
        sub.errexit = False
        sub.run(src, IO(b"", buf, self._stderr))
        self.status = sub.status
        return buf.value().decode("utf-8", "replace").rstrip("\n")

    _stderr: Writer = staticmethod(_discard)

    def arith(self, expr: str) -> str:
        # A bounded evaluator with bash's semantics, never eval (see arithmetic.py).
        try:
            return str(arithmetic.evaluate(expr, self.env))
        except arithmetic.ArithmeticError_ as exc:
            raise CmdError(f"{expr.strip()}: {exc}", 1) from None

    def expand_text(self, text: str) -> str:
        """Expand ``$VAR``, ``${...}``, ``$(...)`` and backslash escapes in double-quoted text."""
        out: list[str] = []
        i = 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text) and text[i + 1] in '$`"\\\n':
                if text[i + 1] != "\n":
                    out.append(text[i + 1])
                i += 2
            elif c == "$":
                parts: list[sx.Part] = []
                j = sx._dollar(text, i, parts)
                out.append(self._part_text(parts[0]))
                i = j
            elif c == "`":
                end = text.find("`", i + 1)
                end = len(text) if end < 0 else end
                out.append(self.command_output(text[i + 1:end]))
                i = end + 1
            else:
                out.append(c)
                i += 1
        return "".join(out)

    def _part_text(self, part: sx.Part) -> str:
        kind, text = part
        if kind == "var":
            return self.var(text)
        if kind == "cmd":
            return self.command_output(text)
        if kind == "arith":
            return self.arith(text)
        if kind == "dq":
            return self.expand_text(text)
        return text

    def expand_joined(self, word: sx.Word) -> str:
        out = []
        for i, part in enumerate(word.parts):
            kind, text = part
            if kind == "lit" and i == 0 and (text == "~" or text.startswith("~/")):
                text = self.env.get("HOME", "/") + text[1:]
                out.append(text)
            else:
                out.append(self._part_text(part) if kind != "lit" else text)
        return "".join(out)

    def expand(self, word: sx.Word) -> list[str]:
        """Expand a word into fields: unquoted expansions split, unquoted globs match."""
        fields: list[str] = []
        cur: list[str] = []
        has = False  # the current field exists even if empty ("" or '')
        glob = False
        for i, part in enumerate(word.parts):
            kind, text = part
            if kind == "lit":
                if i == 0 and (text == "~" or text.startswith("~/")):
                    text = self.env.get("HOME", "/") + text[1:]
                if any(ch in text for ch in "*?["):
                    glob = True
                cur.append(text)
                has = True
            elif kind in ("sq", "dq"):
                cur.append(text if kind == "sq" else self.expand_text(text))
                has = True
            else:
                value = self._part_text(part)
                pieces = value.split()
                if not pieces:
                    continue
                if value[:1].isspace() and has:
                    fields.append("".join(cur))
                    cur = []
                cur.append(pieces[0])
                has = True
                for piece in pieces[1:]:
                    fields.append("".join(cur))
                    cur = [piece]
                if value[-1:].isspace():
                    fields.append("".join(cur))
                    cur, has = [], False
        if has or cur:
            fields.append("".join(cur))
        if glob:
            fields = [m for f in fields for m in (self.glob(f) or [f])]
        return fields

    def glob(self, pattern: str) -> list[str]:
        if not any(ch in pattern for ch in "*?["):
            return []
        absolute = pattern.startswith("/")
        parts = [p for p in pattern.split("/") if p]
        bases = ["/" if absolute else ""]
        disk = self.system.disk
        for part in parts:
            nxt: list[str] = []
            for b in bases:
                folder = self.path(b or ".")
                if any(ch in part for ch in "*?["):
                    if not disk.is_dir(folder):
                        continue
                    for name in disk.listdir(folder):
                        if name.startswith(".") and not part.startswith("."):
                            continue
                        if fnmatch.fnmatchcase(name, part):
                            nxt.append(posixpath.join(b, name) if b else name)
                else:
                    cand = posixpath.join(b, part) if b else part
                    if disk.exists(self.path(cand)):
                        nxt.append(cand)
            bases = nxt
        return sorted(bases)


def _glob_regex(pattern: str, *, greedy: bool) -> str:
    """A shell glob as a regex fragment (no anchors), for ${x/pat/repl}."""
    out = []
    for c in pattern:
        out.append(".*" if c == "*" and greedy else ".*?" if c == "*" else
                   "." if c == "?" else re.escape(c))
    return "".join(out)


_BUILTINS = {"cd", "export", "set", "exit", "true", "false", "echo", "printf", "test", "[",
             "pwd", "source", ".", "unset", "read", "shift", "local", "return", ":", "type",
             "command", "sudo", "umask", "wait", "trap", "exec", "history", "logout",
             "declare", "readonly", "hash", "kill"}


class _Redirected:
    """Apply a command's redirections (left to right, like bash) around its run."""

    def __init__(self, sh: Shell, redirs: list[sx.Redir], io: IO) -> None:
        self.sh = sh
        self.redirs = redirs
        self.io = io
        self.files: list[tuple[str, Buffer, bool]] = []

    def __enter__(self) -> IO:
        sh = self.sh
        fds: dict[int, Writer] = {1: self.io.out, 2: self.io.err}
        stdin: Stdin = self.io.stdin_source()
        disk = sh.system.disk
        for r in self.redirs:
            if r.op == "<<":
                stdin = (sh.expand_text(r.heredoc) if r.expand else r.heredoc).encode()
                continue
            assert r.target is not None
            target = sh.expand_joined(r.target)
            if r.op == ">&":
                if target not in ("1", "2"):
                    raise CmdError(f"{target}: Bad file descriptor")
                fds[r.fd] = fds[int(target)]
                continue
            if r.op == "<":
                sh.need_read(target)
                stdin = disk.read(sh.path(target))
                continue
            if target == "/dev/null":
                writer: Writer = _discard
            elif target in ("/dev/stderr", "/dev/stdout"):
                writer = fds[2 if target.endswith("err") else 1]
            else:
                full = sh.path(target)
                if disk.is_dir(full):
                    raise CmdError(f"{target}: Is a directory")
                if not disk.is_dir(posixpath.dirname(disk.resolve(full))):
                    raise CmdError(f"{target}: No such file or directory")
                if not disk.can_write(full, sh.user):
                    raise CmdError(f"{target}: Permission denied")
                append = r.op == ">>"
                # bash opens (and truncates) the file before the command runs.
                if not append or not disk.exists(full):
                    owner = sh.user
                    with sh.system.lock:
                        disk.write(full, b"", owner=owner if not disk.exists(full) else None,
                                   group=owner if not disk.exists(full) else None)
                buf = Buffer()
                self.files.append((full, buf, True))
                writer = buf
            if r.fd == -1:
                fds[1] = fds[2] = writer
            else:
                fds[r.fd] = writer
        return IO(stdin, fds[1], fds[2])

    def __exit__(self, *exc: object) -> None:
        disk = self.sh.system.disk
        for full, buf, append in self.files:
            data = buf.value()
            if data or not append:
                with self.sh.system.lock:
                    disk.write(full, data, append=True)
