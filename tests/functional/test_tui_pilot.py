"""The app driven through keys and clicks, on the real Runner with scripted steps.

(The whole lab in the real sandbox: test_tui_sandbox.py.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from textual.widgets import Log

from stemcell.engine.context import RunConfig
from stemcell.tui.app import StemcellApp
from stemcell.tui.screens.lab_screen import LabScreen
from stemcell.tui.screens.modals import Confirm, QuitWithResources, SkipReason
from stemcell.tui.widgets.instances import InstancesTable
from stemcell.tui.widgets.steps import StepsList
from tui_engine import ScriptedStep, scripted_prepare


async def until(pilot, check: Callable[[], bool], timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def confirm_shown(app: StemcellApp) -> Callable[[], bool]:
    """The Confirm dialog is up and composed (its buttons exist)."""
    return lambda: isinstance(app.screen, Confirm) and bool(app.screen.query("#yes"))


def lab(app: StemcellApp) -> LabScreen:
    screen = app.screen
    assert isinstance(screen, LabScreen)
    return screen


@pytest.fixture(autouse=True)
def _no_failures() -> None:
    ScriptedStep.fail = set()


async def test_start_screen_click_start_then_run_the_whole_lab_with_keys() -> None:
    app = StemcellApp(RunConfig(), prepare=scripted_prepare(), runs=[])
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.click("#start-button")
        await until(pilot, lambda: isinstance(app.screen, LabScreen) and lab(app).ready)
        await pilot.press("r")
        await until(pilot, lambda: lab(app).model.status == "succeeded", 180)
        screen = lab(app)
        await pilot.pause(0.2)
        steps = screen.query_one(StepsList)
        prompts = [str(steps.get_option_at_index(i).prompt) for i in range(steps.option_count)]
        assert all(p.startswith("✔") for p in prompts), prompts
        table = screen.query_one(InstancesTable)
        assert table.row_count == 7
        assert table.get_cell("i-web-2", "state").plain == "terminated"
        bars = screen.model.boot_bars()
        assert {(b.role, b.setup) for b in bars} >= {("web", "1"), ("web", "2")}
        assert all(b.complete for b in bars)
        bars_text = str(screen.query_one("#bars").render())
        assert "web         #1" in bars_text and "web         #2" in bars_text
        # Cleanup ran at the end of the lab: nothing left, quitting does not ask.
        await pilot.press("q")
        await pilot.pause(0.2)
    assert app.return_code == 0
    assert screen.live.session.closed  # the session (sandbox, recorder) was closed


async def test_step_mode_pauses_skip_asks_a_reason_and_records_it() -> None:
    app = StemcellApp(RunConfig(), prepare=scripted_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: lab(app).ready)
        await pilot.press("n", "r")
        screen = lab(app)
        await until(pilot, lambda: screen.live is not None and screen.live.paused_after == "why")
        assert screen.model.steps["base-image"].status == "pending"
        await pilot.press("r")  # continue: runs base-image, pauses after it
        await until(pilot, lambda: screen.live.paused_after == "base-image")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, SkipReason))
        await pilot.press("enter")  # an empty reason is refused
        assert isinstance(app.screen, SkipReason)
        for key in "demo only":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await until(pilot, lambda: screen.model.steps["key-pair"].status == "skipped")
        assert "demo only" in screen.model.steps["key-pair"].error
        await pilot.press("n")  # step mode off: runs to the end
        await until(pilot, lambda: screen.model.status in ("succeeded", "failed"), 180)
        await pilot.pause(0.2)
        # The step pane followed the run again instead of staying on the step it showed
        # while paused.
        steps = screen.query_one(StepsList)
        assert screen.view.follow_current
        assert steps.highlighted == list(screen.model.steps).index(screen.model.current_step)
        assert steps.selected_step != "key-pair"
        state = screen.live.session.ctx.state
        assert state.steps["key-pair"].status == "skipped"
        recording = (screen.live.session.ctx.run_dir / "recording.jsonl").read_text()
        assert "skipped by the student: demo only" in recording


async def test_failure_is_shown_in_place_and_retry_runs_again() -> None:
    ScriptedStep.fail = {"builder"}
    app = StemcellApp(RunConfig(), prepare=scripted_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: lab(app).ready)
        await pilot.press("r")
        first = lab(app)
        await until(pilot, lambda: first.model.status == "failed", 120)
        await pilot.pause(0.2)
        text = first.query_one("#explain").markdown_text
        assert "scripted failure" in text and "press t to retry" in text
        ScriptedStep.fail = set()
        await pilot.press("t")
        await until(pilot, lambda: lab(app) is not first and lab(app).ready)
        await pilot.press("r")
        await until(pilot, lambda: lab(app).model.status == "succeeded", 180)
        assert lab(app).model.run_id != first.model.run_id


async def test_quit_mid_run_asks_then_stops_and_cleans_up() -> None:
    app = StemcellApp(RunConfig(), prepare=scripted_prepare(speed=20), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: lab(app).ready)
        await pilot.press("r")
        screen = lab(app)
        await until(pilot, lambda: screen.live_count() > 0, 120)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitWithResources))
        await pilot.press("escape")  # cancel: keep going
        assert isinstance(app.screen, LabScreen)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitWithResources))
        await pilot.click("#cleanup")
        await until(pilot, lambda: not app.is_running, 120)
    state = screen.live.session.ctx.state
    assert state.status == "interrupted"
    assert state.live_resources() == []


async def test_ssh_pane_follow_pause_search_and_instance_cycle() -> None:
    app = StemcellApp(RunConfig(), prepare=scripted_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: lab(app).ready)
        await pilot.press("r")
        screen = lab(app)
        await until(pilot, lambda: screen.model.status == "succeeded", 180)
        await pilot.press("3")
        log = screen.query_one("#ssh-log", Log)
        assert log.line_count == 50
        await pilot.press("f")
        assert not screen.view.ssh.follow and "paused" in str(
            screen.query_one("#ssh-header").render())
        await pilot.press("slash")
        for key in "line 4":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert log.line_count == 11  # "apt line 4" and 40..49
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert log.line_count == 50
        await pilot.press("o")
        assert screen.view.ssh.instance == "i-builder"


async def test_command_palette_offers_lab_commands() -> None:
    app = StemcellApp(RunConfig(), prepare=scripted_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: lab(app).ready)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        for key in "step mode":
            await pilot.press("space" if key == " " else key)
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert lab(app).live.step_mode


async def test_resume_reconciles_with_the_cloud(monkeypatch: pytest.MonkeyPatch) -> None:
    from stemcell.engine.state import Resource, RunState, StateStore, StepRecord
    from stemcell.paths import run_dir

    run_id = "20261128-030000-c0ffee"
    state = RunState(run_id=run_id, config=RunConfig().to_dict(), status="interrupted",
                     steps={"why": StepRecord(status="done", seconds=1.0),
                            "base-image": StepRecord(status="done", seconds=2.0),
                            "key-pair": StepRecord(status="done", seconds=1.0),
                            "security-group": StepRecord(status="done", seconds=3.0),
                            "builder": StepRecord(status="running")},
                     resources=[Resource("key_pair", "key-1", step_id="key-pair"),
                                Resource("security_group", "sg-1", step_id="security-group"),
                                Resource("instance", "i-builder", step_id="builder")],
                     timings={"instances": {"i-builder": {"role": "builder", "setup": "builder",
                                                          "image_id": "ami-1", "marks": {}}}})
    StateStore(run_dir(run_id) / "state.json", state).save()
    # The key pair was deleted in the console meanwhile; the builder was stopped.
    still_there = [Resource("security_group", "sg-1"),
                   Resource("instance", "i-builder", extra={"state": "stopped"})]
    monkeypatch.setattr("stemcell.cloud.leftovers.find", lambda cloud, rid=None: still_there)
    app = StemcellApp(RunConfig(), prepare=scripted_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LabScreen))
        screen = lab(app)
        screen.dismiss()  # replace the fresh run with the resumed one
        from stemcell.tui.screens.lab_screen import LabScreen as Lab

        resumed = Lab(RunConfig(), screen.lab, screen.profile, resume=run_id,
                      prepare=scripted_prepare())
        await app.push_screen(resumed)
        await until(pilot, lambda: resumed.ready or resumed.problem)
        assert not resumed.problem
        await until(pilot, lambda: resumed.model.resources[("key_pair", "key-1")].state == "gone")
        assert resumed.model.resources[("security_group", "sg-1")].state == "live"
        await until(pilot, lambda: resumed.model.instances["i-builder"].state == "stopped")
        assert resumed.model.steps["builder"].status == "interrupted"
        assert resumed.model.steps["key-pair"].status == "done"
        assert "1 resource(s) deleted outside stemcell" in resumed.note
        table = resumed.query_one(InstancesTable)
        assert table.get_cell("i-builder", "state").plain == "stopped"
        assert "gone" in run_dir(run_id).joinpath("state.json").read_text()


async def test_aws_shows_the_estimate_and_launches_nothing_unless_confirmed() -> None:
    from stemcell.paths import runs_dir
    from stemcell.tui.screens.start_screen import StartScreen

    prepared: list[RunConfig] = []
    base = scripted_prepare()

    def prepare(config: RunConfig, **kwargs: object) -> object:
        prepared.append(config)
        return base(config, **kwargs)

    app = StemcellApp(RunConfig(), prepare=prepare, runs=[])
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, StartScreen) and app.screen.complete)
        await pilot.click("#b-aws")
        await pilot.pause()
        assert app.screen.query_one("#aws-row").display
        await pilot.click("#start-button")
        await until(pilot, confirm_shown(app))
        body = str(app.screen.query_one(".dialog-body Static").render())
        assert "Estimated AWS cost" in body and "t3.micro" in body
        assert app.screen.focused is not None and app.screen.focused.id == "no"
        await pilot.press("enter")  # "Cancel" has the focus: nothing happens
        await pilot.pause(0.2)
        assert isinstance(app.screen, StartScreen)
        assert prepared == [] and not any(runs_dir().iterdir())
        await pilot.click("#start-button")
        await until(pilot, confirm_shown(app))
        await pilot.click("#yes")
        await until(pilot, lambda: isinstance(app.screen, LabScreen) and bool(prepared))
        assert prepared[0].backend == "aws" and prepared[0].yes


async def test_cleanup_screen_lists_confirms_and_deletes_a_kept_runs_resources() -> None:
    from textual.widgets import DataTable

    from stemcell.tui.screens.cleanup_screen import CleanupScreen

    app = StemcellApp(RunConfig(keep=True), prepare=scripted_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: lab(app).ready)
        await pilot.press("r")
        screen = lab(app)
        await until(pilot, lambda: screen.model.status == "succeeded", 180)
        await until(pilot, lambda: not screen.live.running)
        alive = screen.live_count()
        assert alive > 0  # --keep: the lab's cleanup step was skipped
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, CleanupScreen))
        cleanup = app.screen
        await until(pilot, lambda: len(cleanup.resources) == alive)
        table = cleanup.query_one(DataTable)
        assert {table.get_cell(str(n), "status").plain for n in range(alive)} == {"would delete"}
        await pilot.press("d")
        await until(pilot, confirm_shown(app))
        await pilot.click("#yes")
        await until(pilot, lambda: app.screen is cleanup and not cleanup.busy)
        await until(pilot, lambda: screen.live_count() == 0)
        assert {table.get_cell(str(n), "status").plain for n in range(alive)} == {"deleted"}
        await pilot.press("escape")
        await pilot.press("q")  # nothing alive any more: quits without asking
        await until(pilot, lambda: not app.is_running)


async def test_quit_and_keep_tells_how_to_clean_up_later_and_closes_the_session() -> None:
    app = StemcellApp(RunConfig(keep=True), prepare=scripted_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: lab(app).ready)
        await pilot.press("r")
        screen = lab(app)
        await until(pilot, lambda: screen.model.status == "succeeded", 180)
        await until(pilot, lambda: not screen.live.running)
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, QuitWithResources))
        await pilot.click("#keep")
        await until(pilot, lambda: not app.is_running)
    assert f"stemcell cleanup --run {screen.model.run_id}" in app.farewell
    assert screen.live.live_resources()  # kept
    assert screen.live.session.closed


async def test_stop_pressed_twice_shows_it_and_cleanup_still_finishes() -> None:
    """Issue 12: the second Stop used to cancel the cleanup's own waits."""
    from tui_engine import MarkDeleter

    class SlowDeleter(MarkDeleter):
        def delete(self, resource, ctx) -> None:  # type: ignore[no-untyped-def]
            ctx.sleep(20)  # terminating waits, as on AWS: ~1 s wall at speed 20
            super().delete(resource, ctx)

    base = scripted_prepare(speed=20)

    def prepare(config, *, resume=None):  # type: ignore[no-untyped-def]
        session = base(config, resume=resume)
        session.ctx.deleter = SlowDeleter()
        return session

    app = StemcellApp(RunConfig(), prepare=prepare, skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: lab(app).ready)
        await pilot.press("r")
        screen = lab(app)
        await until(pilot, lambda: screen.live_count() > 0, 120)
        ctx = screen.live.session.ctx
        await pilot.press("x")
        await until(pilot, lambda: ctx.cleaning_up, 120)
        await pilot.press("x")
        await until(pilot, lambda: any("already cleaning up" in n.message
                                       for n in app._notifications), 30)
        assert not ctx.cleanup_cancel.is_set()
        await until(pilot, lambda: not screen.live.running, 120)
    assert ctx.state.status == "interrupted"
    assert ctx.state.live_resources() == []
