"""`stemcell replay --headless` and `stemcell runs`, through click."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stemcell.cli import main
from stemcell.engine.recorder import Recorder
from stemcell.engine.state import Resource, RunState, StateStore
from stemcell.paths import runs_dir
from tui_script import scripted_run


def record(path: Path) -> Path:
    rec = Recorder(path, {"run_id": "r1", "lab": "lab1-stem-cell"})
    for event in scripted_run("end"):
        rec(event)
    rec.close()
    return path


def test_replay_headless_prints_the_story(tmp_path: Path) -> None:
    path = record(tmp_path / "recording.jsonl")
    result = CliRunner().invoke(main, ["replay", str(path), "--headless"])
    assert result.exit_code == 0, result.output
    assert "SIMULATED sandbox run" in result.output
    assert "Summary: run 20261128-010000-abc123 succeeded" in result.output
    # a run folder works as well as the file
    again = CliRunner().invoke(main, ["replay", str(tmp_path), "--headless"])
    assert again.output == result.output


def test_replay_of_a_newer_format_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "future.jsonl"
    path.write_text('{"format": "stemcell-recording", "version": 7}\n')
    result = CliRunner().invoke(main, ["replay", str(path), "--headless"])
    assert result.exit_code == 2
    assert "version 7 is newer" in result.output and "Traceback" not in result.output


def test_replay_speed_is_bounded() -> None:
    result = CliRunner().invoke(main, ["replay", "x.jsonl", "--speed", "500"])
    assert result.exit_code == 2


def test_runs_lists_lab_profile_backend_status_and_leftovers() -> None:
    run_dir = runs_dir() / "20261128-020000-aaaaaa"
    state = RunState(run_id=run_dir.name, config={"lab": "lab1-stem-cell",
                                                 "profile": "apache-php", "backend": "aws"},
                     status="failed", resources=[Resource("instance", "i-1"),
                                                 Resource("key_pair", "k-1", state="deleted")])
    StateStore(run_dir / "state.json", state).save()
    (runs_dir() / "broken").mkdir()
    (runs_dir() / "broken" / "state.json").write_text("{not json")
    result = CliRunner().invoke(main, ["runs"])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if ln.startswith(run_dir.name))
    assert "apache-php" in line and "aws" in line and "failed" in line and line.endswith("1")
    assert "unreadable" in result.output and "stemcell cleanup --run" in result.output
    data = json.loads(CliRunner().invoke(main, ["runs", "--json"]).output)
    assert {r["run_id"] for r in data} == {run_dir.name, "broken"}
