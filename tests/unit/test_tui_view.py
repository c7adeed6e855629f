"""The view model: the pure reducer every pane (and replay) reads."""

from __future__ import annotations

from stemcell.engine.events import (
    EARLIER_NOTE,
    InstanceState,
    SshOutput,
    StepFinished,
    TimingMark,
)
from stemcell.engine.statuses import StepStatus
from stemcell.present.event_text import describe
from stemcell.present.view import SSH_LINES_PER_INSTANCE, ViewModel
from tui_script import IMAGE, scripted_run


def fold(events: list) -> ViewModel:
    model = ViewModel()
    model.apply_all(events)
    return model


def test_a_whole_run_folds_into_steps_instances_bars_and_counts() -> None:
    model = fold(scripted_run("end"))
    assert model.status == "succeeded"
    assert all(s.status == "done" for s in model.steps.values())
    assert len(model.instances) == 7  # builder + 3 roles x 2 setups
    assert model.live_resources() == []
    bars = model.boot_bars()
    assert [(b.role, b.setup) for b in bars] == [
        ("web", "1"), ("web", "2"), ("app-api", "1"), ("app-api", "2"),
        ("app-worker", "1"), ("app-worker", "2")]
    web1, web2 = bars[0], bars[1]
    assert web1.complete and web2.complete
    assert round(web1.total, 1) == 72.5 and round(web2.total, 1) == 27.0
    assert round(web1.phases["cloud_init"], 1) == 53.0
    assert model.api_total == max(e.total for e in scripted_run("end") if hasattr(e, "total"))


def test_mid_bake_shows_the_image_snapshotting() -> None:
    model = fold(scripted_run("mid-bake"))
    image = model.baking_image()
    assert image is not None and image.image_id == IMAGE
    assert (image.state, image.phase) == ("pending", "snapshot")
    assert model.steps["bake"].status == "running"
    assert model.steps["launch-baked"].status == "pending"


def test_a_failure_keeps_error_and_hint_on_the_step() -> None:
    model = fold(scripted_run("end", fail_at="builder"))
    step = model.steps["builder"]
    assert step.status == "failed"
    assert "vCPU" in step.error and "smaller instance type" in step.hint
    assert model.status == "failed"


def test_missing_marks_fold_into_the_next_phase_instead_of_being_invented() -> None:
    model = ViewModel()
    for mark, at in (("run_instances_sent", 0.0), ("running", 10.0), ("ssh_accepting", 25.0)):
        model.apply(TimingMark(instance_id="i-1", mark=mark, at=at + 100, t=at + 100))
    model.apply(InstanceState(instance_id="i-1", state="running", role="web", setup="1"))
    (bar,) = model.boot_bars()
    # A missing mark (SSH may already answer on the first probe, so no refusal is ever
    # seen) folds its phase into the next one instead of inventing it.
    assert bar.phases == {"pending": 10.0, "sshd": 15.0} and not bar.complete


def test_ssh_buffer_is_bounded_and_changes_are_taken_once() -> None:
    model = ViewModel()
    for n in range(SSH_LINES_PER_INSTANCE + 50):
        model.apply(SshOutput(instance_id="i-1", line=f"line {n}", t=1.0))
    assert len(model.ssh["i-1"]) == SSH_LINES_PER_INSTANCE
    assert model.ssh["i-1"][0] == "line 50"
    changed, ssh, _ = model.take_changes()
    assert "ssh" in changed and len(ssh) == SSH_LINES_PER_INSTANCE + 50
    assert model.take_changes() == (set(), [], [])


def test_state_updates_merge_and_skip_reason_survives_the_runner() -> None:
    model = ViewModel()
    model.apply(InstanceState(instance_id="i-1", state="pending", role="web", setup="2"))
    model.apply(InstanceState(instance_id="i-1", state="running", address="1.2.3.4"))
    inst = model.instances["i-1"]
    assert (inst.role, inst.setup, inst.state, inst.address) == ("web", "2", "running", "1.2.3.4")
    model.declare_steps([{"id": "ta-access", "title": "TA", "kind": "grant_ta_access"}])
    model.steps["ta-access"].status = "skipped"
    model.steps["ta-access"].error = "skipped: no TA yet"
    model.apply(StepFinished(step_id="ta-access", status=StepStatus.SKIPPED,
                             error=EARLIER_NOTE, earlier=True))
    assert model.steps["ta-access"].error == "skipped: no TA yet"


def test_describe_skips_noise_and_stamps_relative_time() -> None:
    assert describe(SshOutput(instance_id="i", line="x", t=5.0), 1.0) is None
    line = describe(StepFinished(step_id="bake", status="done", seconds=90, t=101.0), 1.0)
    assert line is not None and line.strip().startswith("+1m40s step bake done (1m30s)")


def test_bars_come_from_the_compare_step_once_it_has_spoken() -> None:
    from stemcell.engine.events import Comparison

    model = fold(scripted_run("end"))
    assert model.comparison is not None
    data = model.comparison.to_dict()

    def stats(median: float) -> dict[str, float]:
        return {"n": 2, "median": median, "low": median, "high": median}

    def block(phases: dict[str, object], not_ready: list[str]) -> dict[str, object]:
        return {"n": 2, "instances": ["i-a", "i-b"], "ready": stats(70.0), "phases": phases,
                "bytes": None, "cloud_init": {}, "not_ready": not_ready}

    data["roles"] = [{"role": "web", "ratio": None, "saved_s": None, "dominant_phase": None,
                      "setups": {
        "1": block({"pending": stats(30.0), "cloud_init": stats(40.0), "network": None}, []),
        "2": block({"pending": stats(20.0)}, ["i-x"])}}]
    model.apply(Comparison(data=data, t=model.now))
    bars = model.boot_bars()
    assert [(b.role, b.setup, b.phases, b.complete) for b in bars] == [
        ("web", "1", {"pending": 30.0, "cloud_init": 40.0}, True),
        ("web", "2", {"pending": 20.0}, False)]
    assert model.conclusion()[0].startswith("Launched from the baked image")
    model.apply(Comparison(data={"roles": "garbage"}))
    assert len(model.boot_bars()) == 6  # an unknown shape falls back to the marks


def test_the_bake_s_first_phase_names_an_image_not_created_yet() -> None:
    """The builder stops before CreateImage: that phase has no image id to show."""
    from rich.console import Console

    from stemcell.cli.printer import Printer
    from stemcell.engine.events import ImageState
    from stemcell.present.event_text import describe

    event = ImageState(image_id="", state="pending", phase="stopping")
    assert (describe(event) or "").strip().endswith("image (not created yet) pending stopping 0%")
    console = Console(record=True, width=120)
    Printer(console)(event)
    # The printer words it as the log does (present.event_text), only styled.
    assert "image (not created yet) pending stopping 0%" in console.export_text()
