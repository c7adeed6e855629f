"""One model per idea: the live bars and the report agree, the reference recording reads
through the typed comparison, and every event kind is worded by one layer."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from rich.console import Console

from stemcell.cli.printer import Printer
from stemcell.engine import events as ev
from stemcell.engine.replay import read_recording
from stemcell.engine.state import RunState
from stemcell.present import event_text
from stemcell.present.story import story
from stemcell.present.view import ViewModel
from stemcell.timing.compare import compare
from stemcell.timing.comparison import ComparisonResult
from stemcell.timing.phases import PHASE_KEYS, role_timeline, timeline
from stemcell.timing.report import build

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "recordings" / "lab1-sandbox.jsonl"

# Two web servers per setup; one of setup #1's was never seen refusing SSH (its network
# phase folds into sshd) and saw "running" late (after the refusal: clamped).
MARKS = {
    "i-1a": ("1", {"run_instances_sent": 100.0, "run_instances_returned": 100.8,
                   "running": 112.0, "tcp_refused": 118.0, "ssh_accepting": 125.0,
                   "cloud_init_done": 190.0, "http_healthy": 191.5}),
    "i-1b": ("1", {"run_instances_sent": 100.0, "run_instances_returned": 101.0,
                   "running": 121.0, "ssh_accepting": 120.0,
                   "cloud_init_done": 200.0, "http_healthy": 204.0}),
    "i-2a": ("2", {"run_instances_sent": 300.0, "run_instances_returned": 300.5,
                   "running": 311.0, "tcp_refused": 316.0, "ssh_accepting": 322.0,
                   "cloud_init_done": 326.0, "http_healthy": 327.0}),
    "i-2b": ("2", {"run_instances_sent": 300.0, "run_instances_returned": 300.9,
                   "running": 313.0, "tcp_refused": 317.0, "ssh_accepting": 321.0,
                   "cloud_init_done": 329.0, "http_healthy": 329.5}),
}


def _model() -> ViewModel:
    model = ViewModel()
    for iid, (setup, marks) in MARKS.items():
        for mark, at in marks.items():
            model.apply(ev.TimingMark(instance_id=iid, mark=mark, at=at, role="web",
                                      setup=setup, t=at))
    return model


def _state() -> RunState:
    state = RunState(run_id="20261130-000000-abcdef", config={"backend": "sandbox"})
    state.timings["instances"] = {
        iid: {"role": "web", "setup": setup, "image_id": "ami-1", "marks": dict(marks)}
        for iid, (setup, marks) in MARKS.items()}
    return state


def test_the_live_bars_and_the_report_agree_on_a_roles_phases() -> None:
    bars = {b.setup: b for b in _model().boot_bars()}
    report = build(_state())
    for setup in ("1", "2"):
        rows = [r for r in report["instances"] if r["setup"] == setup]
        for key in PHASE_KEYS:
            values = [r["phases"].get(key) for r in rows]
            # The bar is the mean over the instances; a phase never seen adds nothing.
            mean = sum(v for v in values if v is not None) / len(rows)
            if any(v is not None for v in values):
                assert math.isclose(bars[setup].phases[key], mean), (setup, key)
            else:
                assert key not in bars[setup].phases
        # A bar is as long as the mean ready time the report gives.
        ready = [r["ready_s"] for r in rows]
        assert math.isclose(bars[setup].total, sum(ready) / len(ready))
    late = {p.key: p.seconds for p in timeline(MARKS["i-1b"][1]).phases}
    # "running" was seen after SSH answered: clamped to it (the live bars used to say
    # 20 s pending then 0 s sshd, a bar 1 s longer than the report's ready time).
    assert late["network"] is None and late["pending"] == 19.0 and late["sshd"] == 0.0
    assert bars["1"].complete and bars["2"].complete


def test_the_bars_switch_to_the_comparison_with_the_same_phase_keys() -> None:
    model = _model()
    live = {b.setup: b.phases for b in model.boot_bars()}
    result = compare(_state().timings["instances"], simulated=True)
    model.apply(ev.Comparison(data=result.to_dict()))
    measured = {b.setup: b.phases for b in model.boot_bars()}
    assert model.comparison == result
    assert {s: set(p) for s, p in measured.items()} == {s: set(p) for s, p in live.items()}
    for setup, phases in measured.items():
        block = result.roles[0].setups[setup]
        assert phases == {k: block.median(k) for k in phases}


def test_a_role_timeline_with_nothing_seen_is_empty_and_incomplete() -> None:
    bar = role_timeline("web", "1", [{}])
    assert bar.phases == {} and not bar.complete and bar.total == 0.0


@pytest.mark.skipif(not REFERENCE.exists(), reason="the reference recording is not there")
def test_the_reference_recording_replays_through_the_typed_comparison() -> None:
    recording = read_recording(REFERENCE)
    found = [e for e in recording.events if isinstance(e, ev.Comparison)]
    assert found, "the reference run compares the setups"
    typed = ComparisonResult.from_dict(found[-1].data)
    # One JSON form: what the recording holds is exactly what the types write back.
    assert typed.to_dict() == found[-1].data
    assert {r.role for r in typed.roles} >= {"web"}
    model = ViewModel()
    model.apply_all(recording.events)
    assert model.comparison == typed
    bars = model.boot_bars()
    assert bars and all(set(b.phases) <= set(PHASE_KEYS) for b in bars)
    text = "\n".join(story(recording))
    assert typed.conclusion[0] in text
    assert "cloud-init" in text  # the phases' short names, from timing.phases


def _one_of_each() -> list[ev.Event]:
    """An instance of every event kind, with every text field filled."""
    out: list[ev.Event] = []
    for kind in ev.EVENT_TYPES.values():
        if kind is ev.Event:
            continue
        values: dict[str, object] = {}
        for f in dataclasses.fields(kind):
            if f.name == "t":
                values[f.name] = 5.0
            elif f.name == "status":
                values[f.name] = "failed"
            elif f.type in ("str", str):
                values[f.name] = {"status": "failed", "level": "warning",
                                  "setup": "1"}.get(f.name, f"{f.name}-x")
            elif f.type in ("float", "int", "bool"):
                values[f.name] = 1
            elif f.name == "results":
                values[f.name] = [{"id": "c", "description": "d", "status": "failed",
                                   "why": "w", "hint": "h"}]
            elif f.name == "data":
                values[f.name] = compare(_state().timings["instances"],
                                         simulated=True).to_dict()
            elif f.name in ("commands", "notes"):
                values[f.name] = ["one", "two"]
        out.append(kind(**values))  # type: ignore[arg-type]
    return out


def test_every_event_kind_is_worded_once_and_the_views_use_those_words() -> None:
    events = _one_of_each()
    assert {type(e) for e in events} == set(ev.EVENT_TYPES.values()) - {ev.Event}
    console = Console(record=True, width=400)
    printer = Printer(console, verbose=True)
    model = ViewModel()
    for event in events:
        phrase = event_text.headline(event)
        if isinstance(event, ev.SshOutput):
            assert phrase is None  # counted and streamed, never a log line
            continue
        assert phrase, f"{event.kind} has no words"
        words = event_text.plain(phrase)
        # The event log (TUI and replay) shows exactly those words ...
        model.apply(event)
        assert model.log[-1].strip().endswith(words), event.kind
        # ... and the printer prints them, only styled (a comparison is its table).
        if not isinstance(event, (ev.Comparison, ev.TimingMark, ev.ApiCall)):
            printer(event)
            assert words in console.export_text(clear=False), event.kind
    # Markup escapes what a student or a server wrote: no style injected through text.
    hostile = ev.Log(message="[bold red]not markup[/]")
    assert event_text.markup(event_text.headline(hostile) or ()) == r"\[bold red]not markup\[/]"
