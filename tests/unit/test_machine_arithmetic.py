"""The guest shell's $((...)): bash's answers, without eval, bounded."""

from __future__ import annotations

import re
import time

import pytest

from stemcell.sandbox.machine.arithmetic import ArithmeticError_, evaluate, wrap

# (expression, bash 5.2's answer)
CASES = [
    ("-7 % 3", -1), ("7 % -3", 1), ("-7 / 2", -3), ("7 / -2", -3),
    ("2**63", -9223372036854775808), ("9223372036854775807 + 1", -9223372036854775808),
    ("-9223372036854775808 / -1", -9223372036854775808), ("-9223372036854775808 % -1", 0),
    ("9**9**9", -2123029214124047543), ("2**3**2", 512), ("0**0", 1),
    ("1 << 65", 2), ("-8 >> 1", -4), ("~0", -1), ("!0", 1), ("!7", 0),
    ("5 & 3", 1), ("5 | 3", 7), ("5 ^ 3", 6), ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9),
    ("3 > 2 && 2 > 1", 1), ("0 || 0", 0), ("1 ? 2 : 3", 2), ("0 ? 2 : 0 ? 4 : 5", 5),
    ("0x1F + 010 + 2#101 + 36#z + 64#@", 31 + 8 + 5 + 35 + 62),
    ("1 == 1, 2 != 2", 0), ("-(-3)", 3), ("- -3", 3), ("", 0), ("  42  ", 42),
]


@pytest.mark.parametrize("expr, expected", CASES)
def test_bash_semantics(expr: str, expected: int) -> None:
    assert evaluate(expr, {}) == expected


def test_variables_assignment_and_side_effects() -> None:
    env = {"x": "5", "e": "x*2", "empty": ""}
    assert evaluate("x + e + empty + unset", env) == 15  # a value that is an expression
    assert evaluate("y = x += 2", env) == 7 and env["x"] == env["y"] == "7"
    assert evaluate("x++ + ++x", env) == 7 + 9 and env["x"] == "9"
    assert evaluate("x <<= 1", env) == 18
    # Short-circuit: the side not needed is not evaluated (no assignment, no error).
    assert evaluate("0 && (z = 1)", env) == 0 and "z" not in env
    assert evaluate("1 || 1/0", env) == 1
    assert evaluate("1 ? 2 : (w = 3)", env) == 2 and "w" not in env


@pytest.mark.parametrize("expr, message", [
    ("1/0", "division by 0"), ("1 % 0", "division by 0"), ("2 ** -1", "exponent less than 0"),
    ("1 +", "operand expected"), ("(1", "`)' expected"), ("1 ? 2", "`:' expected"),
    ("1 2", "invalid arithmetic operator"), ("__import__('os')", "syntax error"),
    ("65#1", "invalid arithmetic base"), ("2#3", "value too great for base"),
    ("(" * 500 + "1" + ")" * 500, "nested too deeply"),
    ("+".join(["1"] * 4000), "nested too deeply"),
    ("1" * 10_001, "expression too long"),
])
def test_errors_are_worded_as_bash_and_quick(expr: str, message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ArithmeticError_, match=re.escape(message)):
        evaluate(expr, {})
    assert time.monotonic() - started < 1.0


def test_recursive_variables_are_bounded() -> None:
    with pytest.raises(ArithmeticError_, match="recursion level exceeded"):
        evaluate("a", {"a": "b", "b": "a"})


def test_wrap() -> None:
    assert wrap(2**64 + 5) == 5 and wrap(2**63) == -(2**63) and wrap(-1) == -1
