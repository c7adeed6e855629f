"""Hostile files and arguments: YAML bombs, deep nesting, huge files, path traversal,
and arithmetic typed into a guest shell. Each is refused clearly and quickly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from stemcell.cli import main
from stemcell.engine.clock import ModelClock
from stemcell.sandbox.machine import IO, Disk, Shell, System

ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _timed(args: list[str]) -> tuple[int, str, float]:
    started = time.monotonic()
    result = CliRunner().invoke(main, args)
    took = time.monotonic() - started
    assert not (result.exception and not isinstance(result.exception, SystemExit)), \
        result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output, took


@pytest.mark.parametrize("name, text, where, words", [
    ("bomb.yaml", ALIAS_BOMB, ":1:4:", "anchors are not allowed"),
    ("alias.yaml", "id: x\nsteps: *nowhere\n", ":2:8:", "aliases are not allowed"),
    ("deep.yaml", "[" * 5000 + "]" * 5000 + "\n", ":1:65:", "nested more than 64"),
    ("deepmap.yaml", "".join("  " * n + f"k{n}:\n" for n in range(200)), ":65:",
     "nested more than 64"),
    ("huge.yaml", "id: x\n" + "# padding\n" * 200_000, ":1:1:", "larger than 1 MB"),
])
def test_validate_refuses_hostile_yaml_fast(
    tmp_path: Path, name: str, text: str, where: str, words: str,
) -> None:
    path = tmp_path / name
    path.write_text(text)
    code, output, took = _timed(["validate", str(path)])
    assert code == 2, output
    assert f"{path}{where}" in output and words in output, output
    assert took < 1.0, took


@pytest.mark.parametrize("name, text, line, words", [
    ("class.yaml", ALIAS_BOMB, 1, "anchors are not allowed"),
    ("class.yaml", "hosts: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nested more than 64"),
    ("class.csv", "student,host\n" + "a,b\n" * 1_300_000, 1, "larger than 5 MB"),
    ("class.csv", "student,host\n\"" + "x" * 200_000 + "\",h\n", 2, "not valid CSV"),
])
def test_check_refuses_a_hostile_roster_fast(
    tmp_path: Path, name: str, text: str, line: int, words: str,
) -> None:
    path = tmp_path / name
    path.write_text(text)
    code, output, took = _timed(["check", "--roster", str(path)])
    assert code == 2, output
    assert f"{path}:{line}:" in output and words in output, output
    assert took < 1.5, took


@pytest.mark.parametrize("run_id", ["../../x", "/etc", "..", ".", "a/../../b", "x\x1b[2J"])
def test_run_ids_cannot_leave_the_runs_folder(
    _isolated: Path, tmp_path: Path, run_id: str,
) -> None:
    # A file that a traversal would reach, and a run folder to escape from.
    victim = _isolated.parent / "x" / "state.json"
    victim.parent.mkdir(exist_ok=True)
    victim.write_text(json.dumps({"run_id": "x", "version": 1, "resources": [
        {"rtype": "key_pair", "rid": "key-1", "extra": {"path": str(tmp_path / "precious")}}]}))
    (tmp_path / "precious").write_text("keep me")
    runner = CliRunner()
    for args in (["cleanup", "--run", run_id, "--dry-run"], ["run", "--resume", run_id],
                 ["report", run_id], ["replay", "--headless", run_id]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    assert victim.exists() and (tmp_path / "precious").read_text() == "keep me"


def test_cleanup_unlinks_only_inside_the_run_folder(_isolated: Path, tmp_path: Path) -> None:
    """A state.json edited to name a file elsewhere does not make cleanup delete it."""
    from stemcell.cloud.deleter import _remove_key_file
    from stemcell.engine.state import Resource

    run_dir = _isolated / "runs" / "20260101-000000-abcdef"
    (run_dir / "ssh").mkdir(parents=True)
    inside = run_dir / "ssh" / "id_ed25519"
    inside.write_text("run key")
    outside = tmp_path / "precious"
    outside.write_text("keep me")

    class Ctx:
        pass

    ctx = Ctx()
    ctx.run_dir = run_dir  # type: ignore[attr-defined]
    _remove_key_file(Resource("key_pair", "k", extra={"path": str(outside)}), ctx)
    _remove_key_file(Resource("key_pair", "k", extra={"path": str(run_dir / "../../..")}), ctx)
    assert outside.read_text() == "keep me"
    _remove_key_file(Resource("key_pair", "k", extra={"path": str(inside)}), ctx)
    assert not inside.exists()


def _shell(script: str) -> tuple[int, str, str]:
    system = System(Disk.ubuntu(), ModelClock.starting_now(1e7), hostname="ip-172-31-5-6",
                    private_ip="172.31.5.6")
    out: list[bytes] = []
    err: list[bytes] = []
    code = Shell(system).run(script, IO(b"", out.append, err.append))
    return code, b"".join(out).decode(), b"".join(err).decode()


def test_arithmetic_bomb_in_a_guest_shell_returns_at_once() -> None:
    started = time.monotonic()
    code, out, _ = _shell("echo $((9**9**9)); echo $((2**62*4)); echo $((-7 % 3)) $((-7 / 2))")
    assert time.monotonic() - started < 1.0
    # bash 5's answers: 64-bit wrap-around, truncation toward zero.
    assert code == 0 and out.split() == ["-2123029214124047543", "0", "-1", "-3"]


@pytest.mark.parametrize("expr, message", [
    ("1/0", "division by 0"),
    ("2**-1", "exponent less than 0"),
    ("(" * 3000 + "1" + ")" * 3000, "nested too deeply"),
    ("+".join(["1"] * 4000), "nested too deeply"),
    ("__import__('os')", "syntax error"),
])
def test_hostile_arithmetic_is_an_error_not_a_hang(expr: str, message: str) -> None:
    started = time.monotonic()
    code, out, err = _shell(f"echo $(({expr})); echo after")
    assert time.monotonic() - started < 2.0
    assert message in err, err
    assert "after" in out or code != 0
