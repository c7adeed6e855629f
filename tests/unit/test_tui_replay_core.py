"""Replay's headless core: reading recordings strictly, pacing, step boundaries, the story."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stemcell.engine.events import StepStarted
from stemcell.engine.recorder import RECORDING_VERSION, Recorder
from stemcell.engine.replay import Player, RecordingError, read_recording
from stemcell.present.story import story
from tui_script import scripted_run


def write(tmp_path: Path, events: list, header: dict | None = None) -> Path:
    path = tmp_path / "recording.jsonl"
    rec = Recorder(path, header or {"run_id": "r1", "lab": "lab1-stem-cell"})
    for event in events:
        rec(event)
    rec.close()
    return path


def test_a_recording_reads_back_the_same_events(tmp_path: Path) -> None:
    events = scripted_run("end")
    recording = read_recording(write(tmp_path, events))
    assert [e.to_dict() for e in recording.events] == [e.to_dict() for e in events]
    assert recording.simulated and recording.notes == []


@pytest.mark.parametrize(("first_line", "message"), [
    ('{"format": "stemcell-recording", "version": 99}', "newer than this stemcell"),
    ('{"format": "stemcell-recording", "version": "one"}', "not valid"),
    ('{"format": "other-tool", "version": 1}', "not a stemcell recording"),
    ("not json at all", "not a stemcell recording"),
])
def test_unreadable_headers_are_clear_errors(tmp_path: Path, first_line: str,
                                             message: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(first_line + "\n")
    with pytest.raises(RecordingError, match=message):
        read_recording(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such recording"):
        read_recording(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(RecordingError, match="empty"):
        read_recording(tmp_path / "empty.jsonl")


def test_a_cut_off_last_line_ends_early_and_unknown_types_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, scripted_run("start"))
    with path.open("a") as fh:
        fh.write(json.dumps({"type": "from_the_future", "t": 1}) + "\n")
        fh.write('{"type": "log", "mess')
    recording = read_recording(path)
    assert len(recording.events) == 1
    assert any("cut off" in n for n in recording.notes)
    assert any("from_the_future" in n for n in recording.notes)


def test_a_broken_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, scripted_run("start"))
    text = path.read_text().splitlines()
    path.write_text("\n".join([text[0], "garbage", text[1]]) + "\n")
    with pytest.raises(RecordingError, match=":2: not a JSON event line"):
        read_recording(path)


def test_player_paces_by_modeled_time_and_jumps_between_steps() -> None:
    events = scripted_run("end")
    player = Player(events)
    assert player.duration == pytest.approx(events[-1].t - events[0].t)
    assert player.advance_to(0.0) == events[:1]
    due = player.advance_to(10.0)
    assert due and all(e.t - events[0].t <= 10.0 for e in due)
    player.seek_index(0)
    starts = [i for i, e in enumerate(events) if isinstance(e, StepStarted)]
    player.seek_index(player.next_boundary())
    assert player.index == starts[0] + 1
    player.seek_index(player.next_boundary())
    assert player.index == starts[1] + 1
    reset, replayed = player.seek_index(player.previous_boundary())
    assert reset and player.index == starts[0] + 1 and len(replayed) == starts[0] + 1
    assert player.current_step_number() == (1, len(starts))


def test_story_tells_the_run_and_its_figures(tmp_path: Path) -> None:
    recording = read_recording(write(tmp_path, scripted_run("end")))
    text = "\n".join(story(recording))
    assert "SIMULATED sandbox run" in text
    assert "step bake done" in text
    assert "line(s) of SSH output from i-0builder000000001" in text
    assert "web         #1" in text and "web         #2" in text
    assert "Resources left: 0" in text
    assert f"format v{RECORDING_VERSION}" in text


def test_a_resumed_run_replays_every_session_in_order(tmp_path: Path) -> None:
    from stemcell.engine.events import Log
    from stemcell.engine.replay import read_run
    from stemcell.engine.run_folder import RunFolder

    (tmp_path / "state.json").write_text("{}")
    for name, messages in (("recording.jsonl", ["first session"]),
                           ("recording-3.jsonl", ["third"]),
                           ("recording-2.jsonl", ["second", "still second"])):
        rec = Recorder(tmp_path / name, header={"run_id": "r"})
        for n, message in enumerate(messages):
            rec(Log(message=message, t=float(n + 1)))
        rec.close()
    whole = read_run(RunFolder(tmp_path))
    assert [e.message for e in whole.events if isinstance(e, Log)] == [
        "first session", "second", "still second", "third"]
    # The next resumed session records beside them, overwriting none.
    assert RunFolder(tmp_path).next_recording(resumed=True).name == "recording-4.jsonl"
