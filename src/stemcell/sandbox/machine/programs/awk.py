"""awk (Ubuntu 24.04's default awk is mawk 1.3.4) for the one-liners people type.

Supported: `-F sep`, `-v var=value`, `-f progfile`; `BEGIN`/`END`; patterns
(expressions, `/regex/`, `$1 ~ /re/`); `print` (with `,` → OFS), `printf`;
variables, fields (`$0`, `$N`, `$NF`, `$(expr)`, assigning a field rebuilds `$0`),
arrays and `for (k in a)`, `delete`; `if`/`else`, `while`, `for`, `next`, `exit`;
arithmetic with `+ - * / % ^`, `++`/`--`, `+=` and friends; comparison, `~`/`!~`,
`&&`/`||`/`!`, `?:`, `in`, string concatenation; NR, NF, FNR, FS, OFS, ORS,
FILENAME; `length substr index split sub gsub match toupper tolower int sprintf`.
Not simulated (a clear error, exit 2): output redirection, `getline`,
user-defined functions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, CmdError, Shell

Value = str | float


class AwkError(Exception):
    pass


class _Next(Exception):
    pass


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class StrNum(str):
    """Input text (fields, $0): compares as a number when it looks like one (POSIX)."""


_NUM_RX = re.compile(r"\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)\s*")


def num(v: Value) -> float:
    if isinstance(v, float):
        return v
    m = re.match(r"\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)", v)
    return float(m.group(0)) if m else 0.0


def text(v: Value, fmt: str = "%.6g") -> str:
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e16:
            return str(int(v))
        return fmt % v
    return v


def _looks_numeric(v: Value) -> bool:
    return isinstance(v, float) or (isinstance(v, StrNum) and bool(_NUM_RX.fullmatch(v)))


# --- lexer -------------------------------------------------------------------------------

_KEYWORDS = {"BEGIN", "END", "if", "else", "while", "for", "do", "in", "print", "printf",
             "next", "exit", "delete", "getline", "function", "return", "break", "continue"}
_BUILTINS = {"length", "substr", "index", "split", "sub", "gsub", "match", "toupper",
             "tolower", "int", "sprintf", "sqrt", "exp", "log", "sin", "cos", "atan2", "rand",
             "srand", "system"}
_PUNCT = ["+=", "-=", "*=", "/=", "%=", "^=", "==", "<=", ">=", "!=", "++", "--", "&&", "||",
          "!~", ">>", "{", "}", "(", ")", "[", "]", ";", ",", "+", "-", "*", "/", "%", "^",
          "!", ">", "<", "|", "?", ":", "~", "$", "="]


@dataclass
class Tok:
    kind: str  # num str re name kw builtin op nl eof
    value: str


def lex(src: str) -> list[Tok]:
    toks: list[Tok] = []
    i = 0

    def operand_end() -> bool:
        if not toks:
            return False
        t = toks[-1]
        return t.kind in ("num", "str", "name", "builtin") or t.value in (")", "]", "$") or \
            (t.kind == "op" and t.value in ("++", "--"))

    while i < len(src):
        c = src[i]
        if c in " \t\r":
            i += 1
        elif c == "\\" and src[i:i + 2] == "\\\n":
            i += 2
        elif c == "\n":
            toks.append(Tok("nl", "\n"))
            i += 1
        elif c == "#":
            while i < len(src) and src[i] != "\n":
                i += 1
        elif c == '"':
            j = i + 1
            out = []
            while j < len(src) and src[j] != '"':
                if src[j] == "\\" and j + 1 < len(src):
                    e = src[j + 1]
                    out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "/": "/",
                                "r": "\r"}.get(e, "\\" + e))
                    j += 2
                else:
                    out.append(src[j])
                    j += 1
            if j >= len(src):
                raise AwkError("runaway string constant \"" + "".join(out)[:10] + " ...")
            toks.append(Tok("str", "".join(out)))
            i = j + 1
        elif c == "/" and not operand_end():
            j = i + 1
            out = []
            while j < len(src) and src[j] != "/":
                if src[j] == "\\" and j + 1 < len(src):
                    out.append(src[j:j + 2] if src[j + 1] != "/" else "/")
                    j += 2
                else:
                    out.append(src[j])
                    j += 1
            if j >= len(src):
                raise AwkError("runaway regular expression /" + "".join(out)[:10] + " ...")
            toks.append(Tok("re", "".join(out)))
            i = j + 1
        elif c.isdigit() or (c == "." and src[i + 1:i + 2].isdigit()):
            m = re.match(r"\d*\.?\d*([eE][-+]?\d+)?", src[i:])
            assert m
            toks.append(Tok("num", m.group(0)))
            i += len(m.group(0))
        elif c.isalpha() or c == "_":
            m = re.match(r"[A-Za-z_]\w*", src[i:])
            assert m
            w = m.group(0)
            toks.append(Tok("kw" if w in _KEYWORDS else "builtin" if w in _BUILTINS
                            else "name", w))
            i += len(w)
        else:
            for p in _PUNCT:
                if src.startswith(p, i):
                    toks.append(Tok("op", p))
                    i += len(p)
                    break
            else:
                raise AwkError(f"syntax error at or near {c}")
    toks.append(Tok("eof", ""))
    return toks


# --- the interpreter state ------------------------------------------------------------

@dataclass
class State:
    vars: dict[str, Value] = field(default_factory=dict)
    arrays: dict[str, dict[str, Value]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)  # fields[0] is $0
    out: list[str] = field(default_factory=list)

    def get(self, name: str) -> Value:
        if name == "NF":
            return float(len(self.fields) - 1)
        return self.vars.get(name, "")

    def set(self, name: str, v: Value) -> None:
        if name == "NF":
            n = int(num(v))
            self.fields = self.fields[:n + 1] + [""] * (n + 1 - len(self.fields))
            self.rebuild()
            return
        self.vars[name] = v

    def split_record(self, line: str) -> None:
        fs = text(self.vars.get("FS", " "))
        self.fields = [StrNum(line), *(StrNum(f) for f in split_fields(line, fs))]

    def field(self, i: int) -> Value:
        if i < 0:
            raise AwkError(f"negative field index ${i}")
        return self.fields[i] if i < len(self.fields) else ""

    def set_field(self, i: int, v: Value) -> None:
        if i == 0:
            self.split_record(text(v))
            return
        while len(self.fields) <= i:
            self.fields.append(StrNum(""))
        self.fields[i] = StrNum(text(v))
        self.rebuild()

    def rebuild(self) -> None:
        ofs = text(self.vars.get("OFS", " "))
        self.fields[0] = StrNum(ofs.join(text(f) for f in self.fields[1:]))


def split_fields(line: str, fs: str) -> list[str]:
    if fs == " ":
        return line.split()
    if len(fs) == 1 and fs != "\\":
        return line.split(fs) if line else []
    if fs == "\\t":
        return line.split("\t") if line else []
    return re.split(fs, line) if line else []


Expr = Callable[[State], Value]
Stmt = Callable[[State], None]


# --- parser: builds closures ---------------------------------------------------------

def _print_record(emit: Callable[[str], None]) -> Stmt:
    """The default action of a pattern without one: print $0."""
    def action(st: State) -> None:
        emit(text(st.field(0)) + text(st.vars.get("ORS", "\n")))
    return action


class Parser:
    def __init__(self, toks: list[Tok], io_print: Callable[[str], None]) -> None:
        self.t = toks
        self.i = 0
        self.emit = io_print
        self.no_gt = 0  # inside print's list, `>` is redirection
        self.no_in = 0  # inside for (...) heads

    # token helpers
    def peek(self, k: int = 0) -> Tok:
        return self.t[min(self.i + k, len(self.t) - 1)]

    def take(self) -> Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok.kind in ("op", "kw") and tok.value == value

    def expect(self, value: str) -> None:
        if not self.at(value):
            tok = self.peek()
            raise AwkError(f"syntax error at or near {tok.value or 'end of file'}")
        self.i += 1

    def skip_nl(self) -> None:
        while self.peek().kind == "nl" or self.at(";"):
            self.i += 1

    def skip_newlines(self) -> None:
        while self.peek().kind == "nl":
            self.i += 1

    # program
    def program(self) -> tuple[list[Stmt], list[tuple[Expr | None, Stmt]], list[Stmt]]:
        begin: list[Stmt] = []
        main: list[tuple[Expr | None, Stmt]] = []
        end: list[Stmt] = []
        self.skip_nl()
        while self.peek().kind != "eof":
            if self.at("BEGIN"):
                self.i += 1
                self.skip_newlines()
                begin.append(self.block())
            elif self.at("END"):
                self.i += 1
                self.skip_newlines()
                end.append(self.block())
            elif self.at("function"):
                raise AwkError("user-defined functions are not simulated in the sandbox")
            else:
                pattern: Expr | None = None
                if not self.at("{"):
                    pattern = self.expr()
                    if self.at(","):
                        raise AwkError("range patterns are not simulated in the sandbox")
                action = self.block() if self.at("{") else _print_record(self.emit)
                main.append((pattern, action))
            self.skip_nl()
        return begin, main, end

    def block(self) -> Stmt:
        self.expect("{")
        stmts: list[Stmt] = []
        self.skip_nl()
        while not self.at("}"):
            if self.peek().kind == "eof":
                raise AwkError("syntax error at or near end of file")
            stmts.append(self.statement())
            self.skip_nl()
        self.expect("}")

        def run(st: State) -> None:
            for s in stmts:
                s(st)
        return run

    def simple_end(self) -> None:
        if self.at(";") or self.peek().kind == "nl":
            self.i += 1
        elif not self.at("}") and self.peek().kind != "eof":
            raise AwkError(f"syntax error at or near {self.peek().value}")

    def statement(self) -> Stmt:
        tok = self.peek()
        if self.at("{"):
            return self.block()
        if self.at("if"):
            self.i += 1
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            self.skip_newlines()
            then = self.statement()
            save = self.i
            self.skip_nl()
            orelse: Stmt | None = None
            if self.at("else"):
                self.i += 1
                self.skip_newlines()
                orelse = self.statement()
            else:
                self.i = save

            def if_(st: State) -> None:
                if truth(cond(st)):
                    then(st)
                elif orelse is not None:
                    orelse(st)
            return if_
        if self.at("while"):
            self.i += 1
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            self.skip_newlines()
            body = self.statement()

            def while_(st: State) -> None:
                rounds = 0
                while truth(cond(st)):
                    body(st)
                    rounds += 1
                    if rounds > 1_000_000:
                        raise AwkError("loop stopped after 1000000 rounds (sandbox limit)")
            return while_
        if self.at("for"):
            return self.for_()
        if tok.kind == "kw" and tok.value in ("print", "printf"):
            return self.print_()
        if self.at("next"):
            self.i += 1
            self.simple_end()

            def next_(st: State) -> None:
                raise _Next()
            return next_
        if self.at("exit"):
            self.i += 1
            code: Expr | None = None
            if not (self.at(";") or self.at("}") or self.peek().kind in ("nl", "eof")):
                code = self.expr()
            self.simple_end()

            def exit_(st: State) -> None:
                raise _Exit(int(num(code(st))) if code else 0)
            return exit_
        if self.at("delete"):
            self.i += 1
            name = self.take().value
            key: Expr | None = None
            if self.at("["):
                self.i += 1
                key = self.subscript()
            self.simple_end()

            def delete(st: State) -> None:
                arr = st.arrays.setdefault(name, {})
                if key is None:
                    arr.clear()
                else:
                    arr.pop(text(key(st)), None)
            return delete
        if tok.kind == "kw" and tok.value in ("getline", "return", "break", "continue", "do"):
            raise AwkError(f"{tok.value} is not simulated in the sandbox")
        if self.at(";"):
            self.i += 1
            return lambda st: None
        e = self.expr()
        self.simple_end()
        return lambda st: (e(st), None)[1]

    def for_(self) -> Stmt:
        self.i += 1
        self.expect("(")
        if self.peek().kind == "name" and self.peek(1).value == "in" and \
                self.peek(2).kind == "name" and self.peek(3).value == ")":
            var = self.take().value
            self.i += 1
            arr = self.take().value
            self.expect(")")
            self.skip_newlines()
            body = self.statement()

            def for_in(st: State) -> None:
                for k in list(st.arrays.get(arr, {})):
                    st.set(var, StrNum(k))
                    body(st)
            return for_in
        init = self.expr() if not self.at(";") else None
        self.expect(";")
        self.skip_newlines()
        cond = self.expr() if not self.at(";") else None
        self.expect(";")
        self.skip_newlines()
        step = self.expr() if not self.at(")") else None
        self.expect(")")
        self.skip_newlines()
        body = self.statement()

        def for_(st: State) -> None:
            if init:
                init(st)
            rounds = 0
            while cond is None or truth(cond(st)):
                body(st)
                if step:
                    step(st)
                rounds += 1
                if rounds > 1_000_000:
                    raise AwkError("loop stopped after 1000000 rounds (sandbox limit)")
        return for_

    def print_(self) -> Stmt:
        kind = self.take().value
        args: list[Expr] = []
        self.no_gt += 1
        try:
            paren = self.at("(")
            save = self.i
            if not (self.at(";") or self.at("}") or self.peek().kind in ("nl", "eof")):
                if paren:
                    # print (a, b) is a grouped list; print (a)(b) is concatenation.
                    self.i += 1
                    args = [self.expr()]
                    while self.at(","):
                        self.i += 1
                        self.skip_newlines()
                        args.append(self.expr())
                    if self.at(")") and (self.peek(1).value in (";", "}", ">", "|")
                                         or self.peek(1).kind in ("nl", "eof")):
                        self.i += 1
                    else:
                        self.i = save
                        args = self.expr_list()
                else:
                    args = self.expr_list()
        finally:
            self.no_gt -= 1
        if self.at(">") or self.at(">>") or self.at("|"):
            raise AwkError("output redirection in awk is not simulated in the sandbox")
        self.simple_end()
        emit = self.emit
        if kind == "print":
            def print_(st: State) -> None:
                ofs = text(st.vars.get("OFS", " "))
                ors = text(st.vars.get("ORS", "\n"))
                if not args:
                    emit(text(st.field(0)) + ors)
                else:
                    emit(ofs.join(text(a(st), text(st.vars.get("OFMT", "%.6g")))
                                  for a in args) + ors)
            return print_
        if not args:
            raise AwkError("printf: no format")

        def printf(st: State) -> None:
            emit(sprintf(text(args[0](st)), [a(st) for a in args[1:]]))
        return printf

    def expr_list(self) -> list[Expr]:
        out = [self.expr()]
        while self.at(","):
            self.i += 1
            self.skip_newlines()
            out.append(self.expr())
        return out

    # expressions, lowest precedence first
    def expr(self) -> Expr:
        return self.ternary()

    def ternary(self) -> Expr:
        cond = self.or_()
        if self.at("?"):
            self.i += 1
            self.skip_newlines()
            a = self.ternary()
            self.skip_newlines()
            self.expect(":")
            self.skip_newlines()
            b = self.ternary()
            return lambda st: a(st) if truth(cond(st)) else b(st)
        if self.at("=") or self.peek().value in ("+=", "-=", "*=", "/=", "%=", "^="):
            return self.assign(cond)
        return cond

    def assign(self, target: Expr) -> Expr:
        setter = getattr(target, "setter", None)
        if setter is None:
            raise AwkError("syntax error: assignment to a non-variable")
        op = self.take().value
        self.skip_newlines()
        rhs = self.ternary()

        def assign(st: State) -> Value:
            v = rhs(st)
            if op != "=":
                v = arith(op[0], target(st), v)
            setter(st, v)
            return v
        return assign

    def or_(self) -> Expr:
        left = self.and_()
        while self.at("||"):
            self.i += 1
            self.skip_newlines()
            right = self.and_()
            left = (lambda a, b: lambda st: 1.0 if truth(a(st)) or truth(b(st)) else 0.0)(
                left, right)
        return left

    def and_(self) -> Expr:
        left = self.in_()
        while self.at("&&"):
            self.i += 1
            self.skip_newlines()
            right = self.in_()
            left = (lambda a, b: lambda st: 1.0 if truth(a(st)) and truth(b(st)) else 0.0)(
                left, right)
        return left

    def in_(self) -> Expr:
        left = self.match()
        while self.at("in") and not self.no_in:
            self.i += 1
            arr = self.take().value
            left = (lambda k, name: lambda st: 1.0 if text(k(st)) in st.arrays.get(name, {})
                    else 0.0)(left, arr)
        return left

    def match(self) -> Expr:
        left = self.compare()
        while self.at("~") or self.at("!~"):
            neg = self.take().value == "!~"
            right = self.compare(regex_literal=True)
            left = (lambda a, b, n: lambda st: 1.0 if bool(
                re.search(ere(text(b(st))), text(a(st)))) != n else 0.0)(left, right, neg)
        return left

    def compare(self, regex_literal: bool = False) -> Expr:
        left = self.concat(regex_literal)
        ops = ("<", "<=", "==", "!=", ">=") + (() if self.no_gt else (">",))
        if self.peek().kind == "op" and self.peek().value in ops:
            op = self.take().value
            right = self.concat()
            return lambda st: 1.0 if compare(op, left(st), right(st)) else 0.0
        return left

    def concat(self, regex_literal: bool = False) -> Expr:
        left = self.additive(regex_literal)
        while self._starts_operand():
            right = self.additive()
            left = (lambda a, b: lambda st: text(a(st)) + text(b(st)))(left, right)
        return left

    def _starts_operand(self) -> bool:
        tok = self.peek()
        if tok.kind in ("num", "str", "name", "builtin", "re"):
            return not (tok.kind == "name" and self.no_in and self.peek(1).value == "in")
        return tok.kind == "op" and tok.value in ("$", "(", "++", "--") and \
            tok.value not in ("-", "+")

    def additive(self, regex_literal: bool = False) -> Expr:
        left = self.multiplicative(regex_literal)
        while self.peek().kind == "op" and self.peek().value in ("+", "-"):
            op = self.take().value
            right = self.multiplicative()
            left = (lambda a, b, o: lambda st: arith(o, a(st), b(st)))(left, right, op)
        return left

    def multiplicative(self, regex_literal: bool = False) -> Expr:
        left = self.unary(regex_literal)
        while self.peek().kind == "op" and self.peek().value in ("*", "/", "%"):
            op = self.take().value
            right = self.unary()
            left = (lambda a, b, o: lambda st: arith(o, a(st), b(st)))(left, right, op)
        return left

    def unary(self, regex_literal: bool = False) -> Expr:
        if self.at("!"):
            self.i += 1
            e = self.unary()
            return lambda st: 0.0 if truth(e(st)) else 1.0
        if self.at("-"):
            self.i += 1
            e = self.unary()
            return lambda st: -num(e(st))
        if self.at("+"):
            self.i += 1
            e = self.unary()
            return lambda st: num(e(st))
        return self.power(regex_literal)

    def power(self, regex_literal: bool = False) -> Expr:
        base = self.postfix(regex_literal)
        if self.at("^"):
            self.i += 1
            exp = self.unary()
            return lambda st: num(base(st)) ** num(exp(st))
        return base

    def postfix(self, regex_literal: bool = False) -> Expr:
        if self.at("++") or self.at("--"):
            op = self.take().value
            target = self.postfix()
            setter = getattr(target, "setter", None)
            if setter is None:
                raise AwkError(f"syntax error at or near {op}")
            return _pre(target, setter, 1.0 if op == "++" else -1.0)
        e = self.primary(regex_literal)
        if (self.at("++") or self.at("--")) and getattr(e, "setter", None) is not None:
            op = self.take().value
            setter = e.setter  # type: ignore[attr-defined]
            delta = 1.0 if op == "++" else -1.0

            def post(st: State) -> Value:
                v = num(e(st))
                setter(st, v + delta)
                return v
            return post
        return e

    def subscript(self) -> Expr:
        keys = [self.expr()]
        while self.at(","):
            self.i += 1
            keys.append(self.expr())
        self.expect("]")
        if len(keys) == 1:
            return keys[0]
        return lambda st: "\x1c".join(text(k(st)) for k in keys)

    def primary(self, regex_literal: bool = False) -> Expr:
        tok = self.take()
        if tok.kind == "num":
            value = float(tok.value)
            return lambda st: value
        if tok.kind == "str":
            s = tok.value
            return lambda st: s
        if tok.kind == "re":
            pattern = ere(tok.value)
            if regex_literal:
                return lambda st: tok.value
            return lambda st: 1.0 if re.search(pattern, text(st.field(0))) else 0.0
        if tok.kind == "op" and tok.value == "$":
            idx = self.postfix_operand()

            def get_field(st: State) -> Value:
                return st.field(int(num(idx(st))))
            get_field.setter = lambda st, v: st.set_field(  # type: ignore[attr-defined]
                int(num(idx(st))), v)
            return get_field
        if tok.kind == "op" and tok.value == "(":
            self.no_in -= 0
            e = self.expr()
            self.expect(")")
            return e
        if tok.kind == "builtin":
            return self.builtin(tok.value)
        if tok.kind == "name":
            name = tok.value
            if self.at("["):
                self.i += 1
                key = self.subscript()

                def get_elem(st: State) -> Value:
                    return st.arrays.setdefault(name, {}).setdefault(text(key(st)), "")
                get_elem.setter = lambda st, v: st.arrays.setdefault(  # type: ignore[attr-defined]
                    name, {}).__setitem__(text(key(st)), v)
                return get_elem
            if self.at("("):
                raise AwkError(f"function {name} never defined")

            def get_var(st: State) -> Value:
                return st.get(name)
            get_var.setter = lambda st, v: st.set(name, v)  # type: ignore[attr-defined]
            return get_var
        raise AwkError(f"syntax error at or near {tok.value or 'end of file'}")

    def postfix_operand(self) -> Expr:
        # $ binds tighter than everything but grouping: $NF-1 is ($NF)-1, $i++ is ($i)++.
        if self.at("++") or self.at("--") or self.at("-") or self.at("!"):
            return self.unary()
        return self.primary()

    def builtin(self, name: str) -> Expr:
        args: list[Expr] = []
        if self.at("("):
            self.i += 1
            if not self.at(")"):
                while True:
                    if self.peek().kind == "re" and (name in ("sub", "gsub", "match", "split")):
                        args.append(_const(self.take().value))
                    else:
                        args.append(self.expr())
                    if not self.at(","):
                        break
                    self.i += 1
            self.expect(")")
        elif name != "length":
            raise AwkError(f"syntax error at or near {name}")
        return _builtin(name, args)


def _const(value: str) -> Expr:
    def const(st: State) -> Value:
        return value
    return const


def _pre(target: Expr, setter: Callable[[State, Value], None], delta: float) -> Expr:
    def pre(st: State) -> Value:
        v = num(target(st)) + delta
        setter(st, v)
        return v
    return pre


def _builtin(name: str, args: list[Expr]) -> Expr:
    def arg(st: State, i: int) -> Value:
        return args[i](st)

    if name == "length":
        if not args:
            return lambda st: float(len(text(st.field(0))))
        return lambda st: float(len(text(arg(st, 0))))
    if name == "substr":
        def substr(st: State) -> Value:
            s = text(arg(st, 0))
            start = round(num(arg(st, 1)))
            n = round(num(arg(st, 2))) if len(args) > 2 else len(s) + 1
            lo = max(start, 1)
            hi = start + n
            return s[lo - 1:max(lo - 1, hi - 1)]
        return substr
    if name == "index":
        return lambda st: float(text(arg(st, 0)).find(text(arg(st, 1))) + 1)
    if name in ("toupper", "tolower"):
        return lambda st: text(arg(st, 0)).upper() if name == "toupper" else \
            text(arg(st, 0)).lower()
    if name == "int":
        return lambda st: float(math.trunc(num(arg(st, 0))))
    if name in ("sqrt", "exp", "log", "sin", "cos"):
        fn = getattr(math, name)
        return lambda st: float(fn(num(arg(st, 0))))
    if name == "atan2":
        return lambda st: math.atan2(num(arg(st, 0)), num(arg(st, 1)))
    if name == "rand":
        return lambda st: 0.2377
    if name == "srand":
        return lambda st: 0.0
    if name == "sprintf":
        return lambda st: sprintf(text(arg(st, 0)), [a(st) for a in args[1:]])
    if name == "split":
        arr_name = _array_name(args[1])

        def split(st: State) -> Value:
            s = text(arg(st, 0))
            sep = text(arg(st, 2)) if len(args) > 2 else text(st.vars.get("FS", " "))
            parts = split_fields(s, sep)
            arr = st.arrays.setdefault(arr_name, {})
            arr.clear()
            for i, p in enumerate(parts):
                arr[str(i + 1)] = StrNum(p)
            return float(len(parts))
        return split
    if name in ("sub", "gsub"):
        target: Expr | None = args[2] if len(args) > 2 else None

        def sub(st: State) -> Value:
            rx = ere(text(arg(st, 0)))
            repl = text(arg(st, 1))
            src = text(target(st)) if target is not None else text(st.field(0))
            py_repl = repl.replace("\\\\", "\x00").replace("\\&", "\x01").replace(
                "&", "\x02")

            def r(m: re.Match[str]) -> str:
                return py_repl.replace("\x02", m.group(0)).replace("\x01", "&").replace(
                    "\x00", "\\")
            new, n = re.subn(rx, r, src, count=0 if name == "gsub" else 1)
            if n:
                if target is None:
                    st.set_field(0, new)
                else:
                    setter = getattr(target, "setter", None)
                    if setter is not None:
                        setter(st, new)
            return float(n)
        return sub
    if name == "match":
        def match(st: State) -> Value:
            m = re.search(ere(text(arg(st, 1))), text(arg(st, 0)))
            st.vars["RSTART"] = float(m.start() + 1) if m else 0.0
            st.vars["RLENGTH"] = float(len(m.group(0))) if m else -1.0
            return st.vars["RSTART"]
        return match
    raise AwkError(f"{name}() is not simulated in the sandbox")


def _array_name(e: Expr) -> str:
    # split(s, arr): the parser built a variable getter; recover its name from the closure.
    cells = getattr(e, "__closure__", None) or ()
    for c in cells:
        if isinstance(c.cell_contents, str):
            return c.cell_contents
    raise AwkError("split: second argument must be an array name")


def ere(pattern: str) -> str:
    """POSIX ERE to Python: bracket classes like [[:digit:]]."""
    classes = {"[:digit:]": r"\d", "[:alpha:]": "a-zA-Z", "[:alnum:]": "a-zA-Z0-9",
               "[:space:]": r"\s", "[:upper:]": "A-Z", "[:lower:]": "a-z",
               "[:punct:]": r"!-/:-@\[-`{-~", "[:xdigit:]": "0-9A-Fa-f"}
    for k, v in classes.items():
        pattern = pattern.replace(k, v)
    return pattern


def truth(v: Value) -> bool:
    if isinstance(v, float):
        return v != 0
    if isinstance(v, StrNum) and _NUM_RX.fullmatch(v):
        return num(v) != 0
    return v != ""


def arith(op: str, a: Value, b: Value) -> float:
    x, y = num(a), num(b)
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if op == "^":
        return x ** y
    if y == 0:
        raise AwkError("division by zero" + (" in %" if op == "%" else ""))
    return x / y if op == "/" else math.fmod(x, y)


def compare(op: str, a: Value, b: Value) -> bool:
    if _looks_numeric(a) and _looks_numeric(b):
        return _ordered(op, num(a), num(b))
    return _ordered(op, text(a), text(b))


def _ordered(op: str, x: float | str, y: float | str) -> bool:
    # Both sides have the same type here (compare() converts them together).
    return {"<": x < y, "<=": x <= y, "==": x == y, "!=": x != y,  # type: ignore[operator]
            ">=": x >= y, ">": x > y}[op]  # type: ignore[operator]


def sprintf(fmt: str, values: list[Value]) -> str:
    out = []
    it = iter(values)
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        m = re.match(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d+))?([diouxXeEfgGcs%])", fmt[i:])
        if not m:
            out.append(c)
            i += 1
            continue
        flags, width, prec, conv = m.groups()
        i += len(m.group(0))
        if conv == "%":
            out.append("%")
            continue
        if width == "*":
            width = str(int(num(next(it, 0.0))))
        if prec == "*":
            prec = str(int(num(next(it, 0.0))))
        spec = "%" + flags + (width or "") + (f".{prec}" if prec is not None else "")
        v = next(it, "")
        if conv in "diouxX":
            out.append((spec + ("d" if conv in "iu" else conv)) % int(num(v)))
        elif conv in "eEfgG":
            out.append((spec + conv) % num(v))
        elif conv == "c":
            ch = chr(int(v)) if isinstance(v, float) else text(v)[:1]
            out.append((spec + "s") % ch)
        else:
            out.append((spec + "s") % text(v))
    return "".join(out)


@command("awk", "mawk", "gawk")
def awk(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    fs = " "
    assigns: list[tuple[str, str]] = []
    src: str | None = None
    while args:
        a = args[0]
        if a == "--":
            args = args[1:]
            break
        if a.startswith("-F"):
            fs = a[2:] if len(a) > 2 else (args[1] if len(args) > 1 else "")
            args = args[1:] if len(a) > 2 else args[2:]
            fs = "\t" if fs == "\\t" or fs == "t" else fs
        elif a.startswith("-v"):
            spec = a[2:] if len(a) > 2 else (args[1] if len(args) > 1 else "")
            args = args[1:] if len(a) > 2 else args[2:]
            k, _, v = spec.partition("=")
            assigns.append((k, v))
        elif a == "-f" and len(args) > 1:
            full = sh.path(args[1])
            sh.need_read(args[1])
            src = sh.system.disk.read_text(full)
            args = args[2:]
        elif a.startswith("-") and a != "-":
            raise CmdError(f"not an option: {a}", 2)
        else:
            break
    if src is None:
        if not args:
            io.eprint("usage: mawk [-F value] [-v var=value] [--] 'program text' [file ...]")
            return 2
        src, args = args[0], args[1:]
    out: list[str] = []
    try:
        begin, main, end = Parser(lex(src), out.append).program()
    except AwkError as exc:
        io.eprint(f"mawk: line 1: {exc}")
        return 2
    st = State()
    st.vars.update({"FS": fs, "OFS": " ", "ORS": "\n", "NR": 0.0, "NF": 0.0, "FNR": 0.0,
                    "SUBSEP": "\x1c", "RSTART": 0.0, "RLENGTH": -1.0, "FILENAME": ""})
    for k, v in assigns:
        st.vars[k] = StrNum(v.encode().decode("unicode_escape"))
    st.fields = [StrNum("")]
    status = 0

    def flush() -> None:
        if out:
            io.out("".join(out).encode())
            out.clear()

    try:
        try:
            for b in begin:
                b(st)
            if main or end:
                files = [a for a in args if "=" not in a or a.startswith("/")] or ["-"]
                for f in files:
                    if f == "-":
                        data = io.stdin
                    else:
                        full = sh.path(f)
                        node = sh.system.disk.get(full)
                        if node is None or node.kind != "file":
                            flush()
                            io.eprint(f"mawk: cannot open {f} (No such file or directory)")
                            status = 2
                            continue
                        if not sh.system.disk.can_read(full, sh.user):
                            flush()
                            io.eprint(f"mawk: cannot open {f} (Permission denied)")
                            status = 2
                            continue
                        data = node.data
                    st.vars["FILENAME"] = "" if f == "-" else f
                    st.vars["FNR"] = 0.0
                    for line in data.decode("utf-8", "replace").splitlines():
                        st.vars["NR"] = num(st.vars["NR"]) + 1
                        st.vars["FNR"] = num(st.vars["FNR"]) + 1
                        st.split_record(line)
                        try:
                            for pattern, action in main:
                                if pattern is None or truth(pattern(st)):
                                    action(st)
                        except _Next:
                            pass
                        if len(out) > 256:
                            flush()
        except _Exit as exc:
            status = exc.code
        try:
            for e in end:
                e(st)
        except _Exit as exc:
            status = exc.code
    except AwkError as exc:
        flush()
        io.eprint(f"mawk: run time error: {exc}\n\tFILENAME=\"{text(st.vars['FILENAME'])}\" "
                  f"FNR={text(st.vars['FNR'])} NR={text(st.vars['NR'])}")
        return 2
    flush()
    return status
