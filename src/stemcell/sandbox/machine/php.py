"""A deliberately small PHP evaluator for the sandbox's Apache + mod_php.

Supported (docs/sandbox-guest.md): HTML outside ``<?php ... ?>`` / ``<?= ... ?>``;
statements ``echo``/``print`` of expressions, ``$var = expr;``, ``header("...")``;
expressions: string literals ('...' and "..." with $var interpolation), integers,
concatenation with ``.``, variables, array literals (``[...]``/``array(...)``,
with ``=>`` keys), ``$_SERVER['...']``, and the functions gethostname(), date(fmt),
time(), json_encode(), phpversion(), php_uname(), htmlspecialchars(),
strtoupper(), strtolower(), getenv(); the constants PHP_VERSION (and its parts),
PHP_OS, PHP_OS_FAMILY and PHP_EOL. Anything else raises PhpError, which the
web server turns into a 500 with a "PHP Parse error" in the error log.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class PhpError(Exception):
    pass


@dataclass
class PhpContext:
    hostname: str
    now: Callable[[], float]  # the guest's wall clock (time(), date())
    version: str  # PHP_VERSION as the image's php build reports it (software_versions)
    server: dict[str, str] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    status: int = 200
    vars: dict[str, Any] = field(default_factory=dict)


_TOKEN = re.compile(r"""
    (?P<ws>\s+|//[^\n]*|\#[^\n]*|/\*.*?\*/)
  | (?P<sq>'(?:[^'\\]|\\.)*')
  | (?P<dq>"(?:[^"\\]|\\.)*")
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<var>\$[A-Za-z_]\w*)
  | (?P<name>[A-Za-z_]\w*)
  | (?P<op>=>|\.=|[.,;()\[\]=])
""", re.S | re.X)


def _tokens(src: str) -> list[tuple[str, str]]:
    out = []
    i = 0
    while i < len(src):
        m = _TOKEN.match(src, i)
        if not m:
            raise PhpError(f"syntax error, unexpected '{src[i]}'")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append((kind, m.group(0)))
        i = m.end()
    return out


_PHP_DATE = {"Y": "%Y", "m": "%m", "d": "%d", "H": "%H", "i": "%M", "s": "%S", "D": "%a",
             "M": "%b", "y": "%y", "j": "%-d", "l": "%A", "F": "%B", "N": "%u"}


def php_date(fmt: str, t: float) -> str:
    tm = time.gmtime(t)
    out = []
    for c in fmt:
        if c == "c":
            out.append(time.strftime("%Y-%m-%dT%H:%M:%S+00:00", tm))
        elif c == "r":
            out.append(time.strftime("%a, %d %b %Y %H:%M:%S +0000", tm))
        elif c == "U":
            out.append(str(int(t)))
        elif c in _PHP_DATE:
            out.append(time.strftime(_PHP_DATE[c], tm))
        else:
            out.append(c)
    return "".join(out)


class _Parser:
    def __init__(self, toks: list[tuple[str, str]], ctx: PhpContext) -> None:
        self.t = toks
        self.i = 0
        self.ctx = ctx

    def peek(self) -> tuple[str, str]:
        return self.t[self.i] if self.i < len(self.t) else ("eof", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            raise PhpError(f"syntax error, unexpected '{tok[1] or 'end of file'}', "
                           f"expecting '{value}'")
        self.i += 1
        return tok

    def statements(self, out: list[str]) -> None:
        while self.peek()[0] != "eof":
            kind, val = self.peek()
            if val == ";":
                self.take()
                continue
            if kind == "name" and val.lower() in ("echo", "print"):
                self.take()
                out.append(_str(self.expr()))
                while self.peek()[1] == "," and val.lower() == "echo":
                    self.take()
                    out.append(_str(self.expr()))
            elif kind == "var" and self.t[self.i + 1:self.i + 2] and \
                    self.t[self.i + 1][1] in ("=", ".="):
                self.take()
                op = self.take()[1]
                value = self.expr()
                name = val[1:]
                self.ctx.vars[name] = (_str(self.ctx.vars.get(name, "")) + _str(value)) \
                    if op == ".=" else value
            else:
                self.expr()
            if self.peek()[0] != "eof":
                self.take(";")

    def expr(self) -> Any:
        left = self.atom()
        while self.peek()[1] == ".":
            self.take()
            left = _str(left) + _str(self.atom())
        return left

    def atom(self) -> Any:
        kind, val = self.take()
        if kind == "sq":
            return re.sub(r"\\(['\\])", r"\1", val[1:-1])
        if kind == "dq":
            return self._interpolate(val[1:-1])
        if kind == "num":
            return float(val) if "." in val else int(val)
        if kind == "var":
            name = val[1:]
            if name == "_SERVER" and self.peek()[1] == "[":
                self.take()
                key = _str(self.expr())
                self.take("]")
                return self.ctx.server.get(key, "")
            if name not in self.ctx.vars:
                return None
            return self.ctx.vars[name]
        if val == "[":
            return self._array("]")
        if val == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if kind == "name":
            low = val.lower()
            if low == "array" and self.peek()[1] == "(":
                self.take()
                return self._array(")")
            if low in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[low]
            if self.peek()[1] != "(" and val in _constants(self.ctx):
                return _constants(self.ctx)[val]
            if self.peek()[1] == "(":
                self.take()
                args = []
                while self.peek()[1] != ")":
                    args.append(self.expr())
                    if self.peek()[1] == ",":
                        self.take()
                self.take(")")
                return self._call(low, args)
        raise PhpError(f"syntax error, unexpected '{val}'")

    def _array(self, close: str) -> Any:
        items: list[tuple[Any, Any]] = []
        keyed = False
        while self.peek()[1] != close:
            value = self.expr()
            if self.peek()[1] == "=>":
                self.take()
                keyed = True
                items.append((value, self.expr()))
            else:
                items.append((len(items), value))
            if self.peek()[1] == ",":
                self.take()
        self.take(close)
        return {str(k): v for k, v in items} if keyed else [v for _, v in items]

    def _call(self, name: str, args: list[Any]) -> Any:
        ctx = self.ctx
        if name == "gethostname":
            return ctx.hostname
        if name == "date":
            return php_date(_str(args[0]) if args else "c",
                            float(args[1]) if len(args) > 1 else ctx.now())
        if name == "time":
            return int(ctx.now())
        if name == "json_encode":
            return json.dumps(args[0] if args else None, separators=(",", ":")).replace(
                "/", "\\/")
        if name == "phpversion":
            return ctx.version
        if name == "php_uname":
            return ctx.hostname if args and args[0] == "n" else f"Linux {ctx.hostname}"
        if name == "htmlspecialchars":
            return html.escape(_str(args[0]))
        if name == "strtoupper":
            return _str(args[0]).upper()
        if name == "strtolower":
            return _str(args[0]).lower()
        if name == "getenv":
            return ctx.server.get(_str(args[0]), False)
        if name == "header":
            line = _str(args[0])
            m = re.match(r"HTTP/\d(?:\.\d)?\s+(\d{3})", line)
            if m:
                ctx.status = int(m.group(1))
            elif ":" in line:
                k, v = line.split(":", 1)
                ctx.headers.append((k.strip(), v.strip()))
            if len(args) > 2:
                ctx.status = int(args[2])
            return None
        if name == "http_response_code":
            if args:
                ctx.status = int(args[0])
            return ctx.status
        raise PhpError(f"Call to undefined function {name}() (not simulated in the sandbox)")

    def _interpolate(self, text: str) -> str:
        def var(m: re.Match[str]) -> str:
            return _str(self.ctx.vars.get(m.group(1) or m.group(2), ""))

        text = re.sub(r"\{\$(\w+)\}|\$(\w+)", var, text)
        return text.encode("utf-8").decode("unicode_escape") if "\\" in text else text


def _constants(ctx: PhpContext) -> dict[str, Any]:
    """PHP's predefined version constants (php.net/manual/en/reserved.constants.php)."""
    numbers = re.match(r"(\d+)\.(\d+)\.(\d+)(.*)", ctx.version)
    major, minor, release, extra = numbers.groups() if numbers else ("0", "0", "0", "")
    return {"PHP_VERSION": ctx.version, "PHP_MAJOR_VERSION": int(major),
            "PHP_MINOR_VERSION": int(minor), "PHP_RELEASE_VERSION": int(release),
            "PHP_EXTRA_VERSION": extra, "PHP_OS": "Linux", "PHP_OS_FAMILY": "Linux",
            "PHP_EOL": "\n"}


def _str(v: Any) -> str:
    if v is None or v is False:
        return ""
    if v is True:
        return "1"
    if isinstance(v, list | dict):
        return "Array"
    return str(v)


def render(source: str, ctx: PhpContext) -> str:
    """Run a PHP file's source; returns the output (headers/status land in ``ctx``)."""
    out: list[str] = []
    i = 0
    while i < len(source):
        start = source.find("<?", i)
        if start < 0:
            out.append(source[i:])
            break
        out.append(source[i:start])
        short = source.startswith("<?=", start)
        body_start = start + (3 if short else (5 if source.startswith("<?php", start) else 2))
        end = source.find("?>", body_start)
        code = source[body_start:] if end < 0 else source[body_start:end]
        p = _Parser(_tokens(code), ctx)
        if short:
            out.append(_str(p.expr()))
        else:
            p.statements(out)
        if end < 0:
            break
        i = end + 2
        if source[i:i + 1] == "\n":
            i += 1  # PHP eats the newline right after a closing tag
    return "".join(out)
