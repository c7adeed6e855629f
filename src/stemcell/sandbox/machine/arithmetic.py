"""Bash's ``$((...))`` arithmetic for the guest shell, evaluated without ``eval``.

Guest shells run what a student's boot script (or an SSH user) types, so this is
hostile input evaluated inside the sandbox's process. It is parsed into a small
tree and evaluated with bash's semantics (bash manual, "Shell Arithmetic"):

- signed 64-bit integers that wrap around on overflow;
- ``/`` and ``%`` truncate toward zero (``$((-7 / 2))`` is -3, ``$((-7 % 3))`` is -1),
  and dividing by zero is "division by 0";
- ``**`` by repeated squaring, wrapping at each step, so ``$((9**9**9))`` costs a
  few dozen multiplications of 64-bit numbers (a negative exponent is an error);
- every operator bash has, with its precedence: ``, = op= ?: || && | ^ & == !=
  < <= > >= << >> + - * / % ** ! ~ unary +/- ++ --``; ``&&``, ``||`` and ``?:``
  evaluate only the side they need;
- variables (``x``, ``$x``, ``${x}``): unset or empty is 0, and a value that is
  itself an expression is evaluated, as bash does, up to a recursion bound;
- numbers in decimal, ``0x`` hex, ``0`` octal and ``base#digits`` (2-64).

Bounds keep a hostile expression cheap: its length (10,000 characters), its
nesting depth and the recursion through variables are all capped, and each is an
error worded bash-style; Python's own recursion limit is caught as one too.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass

MAX_LENGTH = 10_000
MAX_DEPTH = 50  # nested parentheses, unary operators, ternaries, assignments
MAX_RECURSION = 64  # variables whose value is an expression naming another variable

_BITS = 64
_MASK = (1 << _BITS) - 1
_SIGN = 1 << (_BITS - 1)


class ArithmeticError_(Exception):
    """An arithmetic error, worded as bash words it."""


def wrap(value: int) -> int:
    """``value`` as a signed 64-bit integer (two's complement wrap-around)."""
    value &= _MASK
    return value - (1 << _BITS) if value & _SIGN else value


_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<num>0[xX][0-9A-Fa-f]+|\d+\#[0-9A-Za-z@_]+|\d+)
    | \$\{(?P<braced>[A-Za-z_]\w*)\}
    | \$?(?P<name>[A-Za-z_]\w*)
    | (?P<op>\*\*=?|<<=|>>=|\+\+|--|<=|>=|==|!=|&&|\|\||<<|>>|[-+*/%&^|]=|[-+*/%<>=!~&^|?:,()])
    )
    """,
    re.X,
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | name | op | end
    text: str
    pos: int


def _tokens(expr: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while True:
        while pos < len(expr) and expr[pos].isspace():
            pos += 1
        if pos >= len(expr):
            out.append(_Tok("end", "", pos))
            return out
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            raise ArithmeticError_(
                f"syntax error: invalid arithmetic operator (error token is \"{expr[pos:]}\")")
        if m["num"]:
            out.append(_Tok("num", m["num"], m.start("num")))
        elif m["braced"] or m["name"]:
            out.append(_Tok("name", m["braced"] or m["name"], pos))
        else:
            out.append(_Tok("op", m["op"], m.start("op")))
        pos = m.end()


def _number(text: str) -> int:
    try:
        if "#" in text:
            base_text, digits = text.split("#", 1)
            base = int(base_text)
            if not 2 <= base <= 64:
                raise ArithmeticError_(f"invalid arithmetic base (error token is \"{text}\")")
            value = 0
            for ch in digits:
                d = _digit(ch, base)
                if d >= base:
                    raise ArithmeticError_(f"value too great for base (error token is \"{text}\")")
                value = wrap(value * base + d)
            return value
        if text[:2] in ("0x", "0X"):
            return wrap(int(text[2:], 16))
        if len(text) > 1 and text[0] == "0":
            return wrap(int(text, 8))
        return wrap(int(text))
    except ValueError:
        raise ArithmeticError_(f"value too great for base (error token is \"{text}\")") from None


def _digit(ch: str, base: int) -> int:
    if ch.isdigit():
        return int(ch)
    if "a" <= ch <= "z":
        return ord(ch) - ord("a") + 10
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + (36 if base > 36 else 10)
    return 62 if ch == "@" else 63


# --- the tree -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Num:
    value: int


@dataclass(frozen=True)
class _Var:
    name: str


@dataclass(frozen=True)
class _Unary:
    op: str
    operand: _Node


@dataclass(frozen=True)
class _Step:  # ++x --x x++ x--
    name: str
    delta: int
    prefix: bool


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node


@dataclass(frozen=True)
class _Assign:
    name: str
    op: str  # "=" or the operator of "op="
    value: _Node


@dataclass(frozen=True)
class _Ternary:
    test: _Node
    then: _Node
    other: _Node


_Node = _Num | _Var | _Unary | _Step | _Binary | _Assign | _Ternary

# Binary operators by precedence, lowest first (bash manual order).
_LEVELS: list[tuple[str, ...]] = [
    ("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="),
    ("<<", ">>"), ("+", "-"), ("*", "/", "%"),
]
_ASSIGN = {"=", "*=", "/=", "%=", "+=", "-=", "<<=", ">>=", "&=", "^=", "|=", "**="}


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.toks = _tokens(expr)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        if tok.kind != "end":
            self.i += 1
        return tok

    def error(self, what: str) -> ArithmeticError_:
        rest = self.expr[self.peek().pos:].strip()
        rest = rest if len(rest) <= 40 else rest[:40] + "..."
        return ArithmeticError_(f"syntax error: {what} (error token is \"{rest}\")")

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ArithmeticError_("expression nested too deeply")

    def parse(self) -> _Node:
        node = self.comma()
        if self.peek().kind != "end":
            raise self.error("invalid arithmetic operator")
        return node

    def comma(self) -> _Node:
        node = self.assign()
        while self.peek().text == ",":
            self.take()
            node = _Binary(",", node, self.assign())
        return node

    def assign(self) -> _Node:
        tok = self.peek()
        nxt = self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
        if tok.kind == "name" and nxt is not None and nxt.kind == "op" and nxt.text in _ASSIGN:
            self.take()
            self.take()
            self.deeper()
            value = self.assign()
            self.depth -= 1
            return _Assign(tok.text, nxt.text[:-1] if nxt.text != "=" else "=", value)
        return self.ternary()

    def ternary(self) -> _Node:
        test = self.binary(0)
        if self.peek().text != "?":
            return test
        self.take()
        self.deeper()
        then = self.comma()
        if self.take().text != ":":
            raise self.error("`:' expected for conditional expression")
        other = self.assign()  # right-associative: a ? b : c ? d : e
        self.depth -= 1
        return _Ternary(test, then, other)

    def binary(self, level: int) -> _Node:
        if level == len(_LEVELS):
            return self.power()
        node = self.binary(level + 1)
        while self.peek().kind == "op" and self.peek().text in _LEVELS[level]:
            op = self.take().text
            node = _Binary(op, node, self.binary(level + 1))
        return node

    def power(self) -> _Node:
        base = self.unary()
        if self.peek().text == "**":
            self.take()
            self.deeper()
            exponent = self.power()  # right-associative: 9**9**9 is 9**(9**9)
            self.depth -= 1
            return _Binary("**", base, exponent)
        return base

    def unary(self) -> _Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("++", "--"):
            self.take()
            name = self.take()
            if name.kind != "name":
                raise self.error("operand expected")
            return _Step(name.text, 1 if tok.text == "++" else -1, True)
        if tok.kind == "op" and tok.text in ("!", "~", "-", "+"):
            self.take()
            self.deeper()
            operand = self.unary()
            self.depth -= 1
            return _Unary(tok.text, operand)
        return self.postfix()

    def postfix(self) -> _Node:
        tok = self.take()
        if tok.kind == "num":
            return _Num(_number(tok.text))
        if tok.kind == "name":
            if self.peek().text in ("++", "--"):
                op = self.take().text
                return _Step(tok.text, 1 if op == "++" else -1, False)
            return _Var(tok.text)
        if tok.text == "(":
            self.deeper()
            node = self.comma()
            self.depth -= 1
            if self.take().text != ")":
                raise self.error("`)' expected")
            return node
        self.i -= 1 if tok.kind != "end" else 0
        raise self.error("operand expected")


# --- evaluation ------------------------------------------------------------------------
class _Evaluator:
    def __init__(self, env: MutableMapping[str, str], level: int) -> None:
        self.env = env
        self.level = level

    def var(self, name: str) -> int:
        text = self.env.get(name, "").strip()
        if not text:
            return 0
        if re.fullmatch(r"-?\d+", text):
            return wrap(int(text))
        # A value that is itself an expression is evaluated, as bash does.
        return _evaluate(text, self.env, self.level + 1)

    def set(self, name: str, value: int) -> int:
        self.env[name] = str(value)
        return value

    def run(self, node: _Node) -> int:
        if isinstance(node, _Num):
            return node.value
        if isinstance(node, _Var):
            return self.var(node.name)
        if isinstance(node, _Unary):
            value = self.run(node.operand)
            if node.op == "-":
                return wrap(-value)
            if node.op == "+":
                return value
            if node.op == "!":
                return int(value == 0)
            return wrap(~value)
        if isinstance(node, _Step):
            old = self.var(node.name)
            new = self.set(node.name, wrap(old + node.delta))
            return new if node.prefix else old
        if isinstance(node, _Assign):
            value = self.run(node.value)
            if node.op != "=":
                value = _apply(node.op, self.var(node.name), value, node.op)
            return self.set(node.name, value)
        if isinstance(node, _Ternary):
            return self.run(node.then) if self.run(node.test) else self.run(node.other)
        op = node.op
        if op == "&&":
            return int(bool(self.run(node.left)) and bool(self.run(node.right)))
        if op == "||":
            return int(bool(self.run(node.left)) or bool(self.run(node.right)))
        left = self.run(node.left)
        right = self.run(node.right)
        if op == ",":
            return right
        return _apply(op, left, right, op)


def _apply(op: str, a: int, b: int, token: str) -> int:
    if op == "+":
        return wrap(a + b)
    if op == "-":
        return wrap(a - b)
    if op == "*":
        return wrap(a * b)
    if op in ("/", "%"):
        if b == 0:
            raise ArithmeticError_(f"division by 0 (error token is \"{b}\")")
        quotient = abs(a) // abs(b)
        if (a < 0) != (b < 0):
            quotient = -quotient
        return wrap(quotient) if op == "/" else wrap(a - b * quotient)
    if op == "**":
        if b < 0:
            raise ArithmeticError_(f"exponent less than 0 (error token is \"{b}\")")
        return _power(a, b)
    if op == "<<":
        return wrap(a << (b & 63))
    if op == ">>":
        return a >> (b & 63)  # arithmetic shift of a signed value
    if op == "&":
        return wrap(a & b)
    if op == "|":
        return wrap(a | b)
    if op == "^":
        return wrap(a ^ b)
    comparisons = {"==": a == b, "!=": a != b, "<": a < b, ">": a > b,
                   "<=": a <= b, ">=": a >= b}
    if op in comparisons:
        return int(comparisons[op])
    raise ArithmeticError_(
        f"syntax error: invalid arithmetic operator (error token is \"{token}\")")


def _power(base: int, exponent: int) -> int:
    """Exponentiation by squaring, wrapping to 64 bits at every step (at most 64 rounds)."""
    result = 1
    base &= _MASK
    while exponent:
        if exponent & 1:
            result = (result * base) & _MASK
        base = (base * base) & _MASK
        exponent >>= 1
    return wrap(result)


def _evaluate(expr: str, env: MutableMapping[str, str], level: int) -> int:
    if level > MAX_RECURSION:
        raise ArithmeticError_(f"expression recursion level exceeded (error token is \"{expr}\")")
    if len(expr) > MAX_LENGTH:
        raise ArithmeticError_("expression too long")
    if not expr.strip():
        return 0  # $(( )) is 0 in bash
    try:
        return _Evaluator(env, level).run(_Parser(expr).parse())
    except RecursionError:  # a very long chain (1+1+...+1) nests the tree too deeply
        raise ArithmeticError_("expression nested too deeply") from None


def evaluate(expr: str, env: MutableMapping[str, str]) -> int:
    """The value of ``expr``; assignments update ``env``. Raises ``ArithmeticError_``."""
    return _evaluate(expr, env, 0)
