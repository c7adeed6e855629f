"""Parsing the bash subset the guest understands into a small syntax tree.

Words keep their quoting (``parts``) so that expansion can happen at run time,
after earlier commands have set variables, exactly as bash does it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A word part: (kind, text). kinds: lit (unquoted), sq ('...'), dq ("..." raw,
# expanded later), var ($NAME / ${NAME} unquoted), cmd ($(...) unquoted).
Part = tuple[str, str]


class ParseError(Exception):
    pass


@dataclass
class Word:
    parts: list[Part]

    def literal(self) -> str | None:
        """The plain text if the word has no quoting or expansion at all."""
        if all(k == "lit" for k, _ in self.parts):
            return "".join(t for _, t in self.parts)
        return None

    def raw(self) -> str:
        return "".join(t for _, t in self.parts)


@dataclass
class Redir:
    fd: int  # 0, 1, 2; -1 means both stdout and stderr (&>)
    op: str  # > >> < <<  >&
    target: Word | None = None
    heredoc: str = ""
    expand: bool = True  # heredoc with unquoted delimiter


@dataclass
class Simple:
    assigns: list[tuple[str, Word]] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
    redirs: list[Redir] = field(default_factory=list)
    line: int = 0


@dataclass
class Pipeline:
    commands: list[Node]
    negate: bool = False


@dataclass
class AndOr:
    first: Pipeline
    rest: list[tuple[str, Pipeline]] = field(default_factory=list)


@dataclass
class Seq:
    items: list[AndOr] = field(default_factory=list)


@dataclass
class If:
    branches: list[tuple[Seq, Seq]]
    orelse: Seq | None = None
    redirs: list[Redir] = field(default_factory=list)


@dataclass
class For:
    var: str
    items: list[Word]
    body: Seq
    redirs: list[Redir] = field(default_factory=list)


@dataclass
class While:
    cond: Seq
    body: Seq
    until: bool = False
    redirs: list[Redir] = field(default_factory=list)


@dataclass
class Group:
    body: Seq
    subshell: bool = False
    redirs: list[Redir] = field(default_factory=list)


Node = Simple | If | For | While | Group

OPS = ("&&", "||", ";;", ">>", "<<-", "<<", "&>", ">&", "2>&1", ";", "|", "&", "(", ")",
       ">", "<", "\n")


@dataclass
class Tok:
    kind: str  # word | op | redir
    value: str = ""
    word: Word | None = None
    fd: int = 1
    line: int = 0
    redir: Redir | None = None


class Lexer:
    def __init__(self, src: str) -> None:
        self.s = src
        self.i = 0
        self.line = 1
        self.toks: list[Tok] = []
        self.pending: list[tuple[Redir, str, bool]] = []  # heredocs waiting for their body

    def error(self, msg: str) -> ParseError:
        return ParseError(f"line {self.line}: syntax error: {msg}")

    def run(self) -> list[Tok]:
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self.i += 1
            elif c == "\\" and s[self.i:self.i + 2] == "\\\n":
                self.i += 2
                self.line += 1
            elif c == "#" and (not self.toks or self._at_word_start()):
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
            elif c == "\n":
                self.toks.append(Tok("op", "\n", line=self.line))
                self.i += 1
                self.line += 1
                if self.pending:
                    self._read_heredocs()
            else:
                self._op_or_word()
        if self.pending:
            raise self.error("here-document delimited by end-of-file")
        return self.toks

    def _at_word_start(self) -> bool:
        return self.i == 0 or self.s[self.i - 1] in " \t\n;&|()"

    def _op_or_word(self) -> None:
        s = self.s
        # fd-prefixed redirections: 2>, 2>>, 2>&1, 1>
        if s[self.i] in "012" and self.i + 1 < len(s) and s[self.i + 1] in "<>" \
                and self._at_word_start():
            fd = int(s[self.i])
            self.i += 1
            self._redir(fd)
            return
        for op in OPS:
            if s.startswith(op, self.i):
                if op in (">>", "<<-", "<<", "&>", ">&", ">", "<", "2>&1"):
                    self._redir(1 if op != "<" and op not in ("<<", "<<-") else 0)
                    return
                self.toks.append(Tok("op", op, line=self.line))
                self.i += len(op)
                return
        self.toks.append(Tok("word", word=self._word(), line=self.line))

    def _redir(self, fd: int) -> None:
        s = self.s
        for op in ("<<-", "<<", ">>", "&>", ">&", ">", "<"):
            if s.startswith(op, self.i):
                break
        else:  # pragma: no cover - guarded by caller
            raise self.error("bad redirection")
        self.i += len(op)
        if op == "&>":
            fd, op = -1, ">"
        if op == ">&":
            # 2>&1, >&2
            j = self.i
            while j < len(s) and s[j].isdigit():
                j += 1
            target = s[self.i:j]
            if not target:
                raise self.error("bad file descriptor redirection")
            self.i = j
            self.toks.append(Tok("redir", redir=Redir(fd, ">&", Word([("lit", target)])),
                                 line=self.line))
            return
        while self.i < len(s) and s[self.i] in " \t":
            self.i += 1
        if self.i >= len(s) or s[self.i] in "\n;|&<>()":
            raise self.error(f"expected a file name after {op!r}")
        word = self._word()
        if op in ("<<", "<<-"):
            quoted = any(k in ("sq", "dq") for k, _ in word.parts)
            r = Redir(0, "<<", expand=not quoted)
            self.pending.append((r, word.raw(), op == "<<-"))
            self.toks.append(Tok("redir", redir=r, line=self.line))
            return
        self.toks.append(Tok("redir", redir=Redir(fd, op, word), line=self.line))

    def _read_heredocs(self) -> None:
        s = self.s
        for redir, delim, strip_tabs in self.pending:
            body: list[str] = []
            while True:
                if self.i >= len(s):
                    raise self.error(f"here-document delimited by end-of-file (wanted `{delim}')")
                end = s.find("\n", self.i)
                if end < 0:
                    end = len(s)
                line = s[self.i:end]
                self.i = end + 1
                self.line += 1
                check = line.lstrip("\t") if strip_tabs else line
                if check == delim:
                    break
                body.append(check)
            redir.heredoc = "".join(b + "\n" for b in body)
        self.pending = []

    def _word(self) -> Word:
        s = self.s
        parts: list[Part] = []
        lit: list[str] = []

        def flush() -> None:
            if lit:
                parts.append(("lit", "".join(lit)))
                lit.clear()

        while self.i < len(s):
            c = s[self.i]
            if c in " \t\n;&|()<>":
                break
            if c == "\\":
                if self.i + 1 < len(s):
                    nxt = s[self.i + 1]
                    if nxt == "\n":
                        self.i += 2
                        self.line += 1
                        continue
                    flush()
                    parts.append(("sq", nxt))
                    self.i += 2
                    continue
                self.i += 1
                continue
            if c == "'":
                end = s.find("'", self.i + 1)
                if end < 0:
                    raise self.error("unexpected EOF while looking for matching `''")
                flush()
                text = s[self.i + 1:end]
                parts.append(("sq", text))
                self.line += text.count("\n")
                self.i = end + 1
                continue
            if c == '"':
                j = self.i + 1
                while j < len(s) and s[j] != '"':
                    if s[j] == "\\":
                        j += 1
                    elif s.startswith("$(", j):
                        j = _match_paren(s, j + 1) - 1
                    j += 1
                if j >= len(s):
                    raise self.error("unexpected EOF while looking for matching `\"'")
                flush()
                text = s[self.i + 1:j]
                parts.append(("dq", text))
                self.line += text.count("\n")
                self.i = j + 1
                continue
            if c == "$":
                flush()
                self.i = _dollar(s, self.i, parts)
                continue
            if c == "`":
                end = s.find("`", self.i + 1)
                if end < 0:
                    raise self.error("unexpected EOF while looking for matching ``'")
                flush()
                parts.append(("cmd", s[self.i + 1:end]))
                self.i = end + 1
                continue
            lit.append(c)
            self.i += 1
        flush()
        return Word(parts)


def _match_paren(s: str, i: int) -> int:
    """Index just past the ``)`` matching the ``(`` at ``i``."""
    depth = 0
    j = i
    quote = ""
    while j < len(s):
        c = s[j]
        if quote:
            if c == quote:
                quote = ""
            elif c == "\\" and quote == '"':
                j += 1
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ParseError("syntax error: unexpected EOF while looking for matching `)'")


def _dollar(s: str, i: int, parts: list[Part]) -> int:
    """Parse a ``$`` construct at ``i`` into ``parts``; return the index after it."""
    nxt = s[i + 1] if i + 1 < len(s) else ""
    if nxt == "(":
        end = _match_paren(s, i + 1)
        if s.startswith("$((", i):
            parts.append(("arith", s[i + 3:end - 2]))
        else:
            parts.append(("cmd", s[i + 2:end - 1]))
        return end
    if nxt == "{":
        end = s.find("}", i)
        if end < 0:
            raise ParseError("syntax error: bad substitution")
        parts.append(("var", s[i + 2:end]))
        return end + 1
    if nxt and (nxt.isalpha() or nxt == "_"):
        j = i + 1
        while j < len(s) and (s[j].isalnum() or s[j] == "_"):
            j += 1
        parts.append(("var", s[i + 1:j]))
        return j
    if nxt and nxt in "?$#!@*0123456789-":
        parts.append(("var", nxt))
        return i + 2
    parts.append(("lit", "$"))
    return i + 1


class Parser:
    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.i = 0

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _is(self, value: str) -> bool:
        t = self.peek()
        if t is None:
            return False
        if t.kind == "op":
            return t.value == value
        return t.kind == "word" and t.word is not None and t.word.literal() == value

    def _expect(self, value: str) -> None:
        if not self._is(value):
            t = self.peek()
            got = "end of file" if t is None else (t.value or (t.word.raw() if t.word else ""))
            line = t.line if t else (self.toks[-1].line if self.toks else 1)
            raise ParseError(f"line {line}: syntax error near unexpected token `{got}'"
                             f" (expected `{value}')")
        self.i += 1

    def _skip_newlines(self) -> None:
        while self._is("\n") or self._is(";"):
            self.i += 1

    def parse(self) -> Seq:
        seq = self.seq(stop=())
        if self.peek() is not None:
            t = self.peek()
            assert t is not None
            got = t.value or (t.word.raw() if t.word else "")
            raise ParseError(f"line {t.line}: syntax error near unexpected token `{got}'")
        return seq

    def seq(self, stop: tuple[str, ...]) -> Seq:
        seq = Seq()
        while True:
            self._skip_newlines()
            t = self.peek()
            if t is None or any(self._is(s) for s in stop) or self._is(")"):
                return seq
            seq.items.append(self.and_or())
            if self._is("&"):
                self.i += 1  # background jobs run in the foreground here

    def and_or(self) -> AndOr:
        node = AndOr(self.pipeline())
        while self._is("&&") or self._is("||"):
            op = self.toks[self.i].value
            self.i += 1
            while self._is("\n"):
                self.i += 1
            node.rest.append((op, self.pipeline()))
        return node

    def pipeline(self) -> Pipeline:
        negate = False
        if self._is("!"):
            negate = True
            self.i += 1
        cmds = [self.command()]
        while self._is("|"):
            self.i += 1
            while self._is("\n"):
                self.i += 1
            cmds.append(self.command())
        return Pipeline(cmds, negate)

    def _redirs(self) -> list[Redir]:
        out = []
        while (t := self.peek()) is not None and t.kind == "redir":
            assert t.redir is not None
            out.append(t.redir)
            self.i += 1
        return out

    def command(self) -> Node:
        node: Node
        if self._is("if"):
            self.i += 1
            branches = []
            cond = self.seq(("then",))
            self._expect("then")
            body = self.seq(("elif", "else", "fi"))
            branches.append((cond, body))
            orelse = None
            while self._is("elif"):
                self.i += 1
                cond = self.seq(("then",))
                self._expect("then")
                branches.append((cond, self.seq(("elif", "else", "fi"))))
            if self._is("else"):
                self.i += 1
                orelse = self.seq(("fi",))
            self._expect("fi")
            node = If(branches, orelse)
        elif self._is("for"):
            self.i += 1
            t = self.peek()
            if t is None or t.kind != "word" or t.word is None or not t.word.literal():
                raise ParseError("syntax error: `for' needs a variable name")
            var = t.word.literal() or ""
            self.i += 1
            items: list[Word] = []
            if self._is("in"):
                self.i += 1
                while (t := self.peek()) is not None and t.kind == "word" and not self._is("do"):
                    assert t.word is not None
                    items.append(t.word)
                    self.i += 1
            self._skip_newlines()
            self._expect("do")
            body = self.seq(("done",))
            self._expect("done")
            node = For(var, items, body)
        elif self._is("while") or self._is("until"):
            until = self._is("until")
            self.i += 1
            cond = self.seq(("do",))
            self._expect("do")
            body = self.seq(("done",))
            self._expect("done")
            node = While(cond, body, until)
        elif self._is("{"):
            self.i += 1
            body = self.seq(("}",))
            self._expect("}")
            node = Group(body)
        elif self._is("("):
            self.i += 1
            body = self.seq((")",))
            self._expect(")")
            node = Group(body, subshell=True)
        else:
            return self.simple()
        node.redirs = self._redirs()
        return node

    def simple(self) -> Simple:
        cmd = Simple()
        while (t := self.peek()) is not None:
            if t.kind == "redir":
                assert t.redir is not None
                cmd.redirs.append(t.redir)
            elif t.kind == "word":
                assert t.word is not None
                if not cmd.words and _assignment(t.word):
                    name, value = _assignment(t.word)  # type: ignore[misc]
                    cmd.assigns.append((name, value))
                else:
                    cmd.words.append(t.word)
            else:
                break
            if not cmd.line:
                cmd.line = t.line
            self.i += 1
        if not cmd.words and not cmd.assigns and not cmd.redirs:
            t = self.peek()
            got = "end of file" if t is None else (t.value if t.value != "\n" else "newline")
            raise ParseError(f"line {t.line if t else '?'}: syntax error near unexpected token"
                             f" `{got}'")
        return cmd


def _assignment(word: Word) -> tuple[str, Word] | None:
    if not word.parts or word.parts[0][0] != "lit":
        return None
    head = word.parts[0][1]
    if "=" not in head:
        return None
    name, rest = head.split("=", 1)
    if not name or not (name[0].isalpha() or name[0] == "_") or \
            not all(c.isalnum() or c == "_" for c in name):
        return None
    value_parts: list[Part] = ([("lit", rest)] if rest else []) + word.parts[1:]
    return name, Word(value_parts)


def parse(src: str) -> Seq:
    return Parser(Lexer(src).run()).parse()
