"""The app's rough edges (issue 15), each driven through the app."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from stemcell.engine.context import RunConfig
from stemcell.engine.events import InstanceState, TimingMark
from stemcell.tui.app import StemcellApp
from stemcell.tui.screens.lab_screen import LabScreen
from tui_script import scripted_run


async def until(pilot: Any, check: Callable[[], bool], timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def lab(app: StemcellApp) -> LabScreen:
    screen = app.screen
    assert isinstance(screen, LabScreen)
    return screen


async def test_a_corrected_timing_mark_reaches_the_live_bars() -> None:
    iid = "i-0web0corrected0001"
    events = [*scripted_run("mid-bake"),
              InstanceState(instance_id=iid, state="running", role="web", setup="2", t=1.0),
              TimingMark(instance_id=iid, mark="run_instances_sent", at=100.0, role="web",
                         setup="2"),
              TimingMark(instance_id=iid, mark="running", at=130.0, role="web", setup="2")]
    app = StemcellApp(RunConfig(), events=events)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = lab(app)
        await pilot.pause()
        bar = next(b for b in screen.model.boot_bars() if (b.role, b.setup) == ("web", "2"))
        assert round(sum(bar.phases.values())) == 30
        # The guest's own account shows the instance ran 20 s earlier than first seen.
        screen.feed.push(TimingMark(instance_id=iid, mark="running", at=110.0, role="web",
                                    setup="2"))
        await until(pilot, lambda: screen.model.instances[iid].marks["running"] == 110.0)
        bar = next(b for b in screen.model.boot_bars() if (b.role, b.setup) == ("web", "2"))
        assert round(sum(bar.phases.values())) == 10


@pytest.mark.parametrize(("platform", "expected"), [("linux", "xdg-open"), ("darwin", "open"),
                                                    ("freebsd14", "xdg-open")])
async def test_open_the_run_folder_uses_the_platforms_opener(
        monkeypatch: Any, platform: str, expected: str) -> None:
    from stemcell.tui.screens import lab_screen

    opened: list[list[str]] = []

    class Popen:
        def __init__(self, argv: list[str], **_: Any) -> None:
            opened.append(argv)

    monkeypatch.setattr(lab_screen.sys, "platform", platform)
    monkeypatch.setattr(lab_screen.subprocess, "Popen", Popen)
    monkeypatch.setattr(LabScreen, "run_folder", lambda self: "/tmp/some run")
    app = StemcellApp(RunConfig(), events=scripted_run("mid-bake"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lab(app).open_run_folder()
        assert opened == [[expected, "/tmp/some run"]]


async def test_open_the_run_folder_on_windows_uses_startfile(monkeypatch: Any) -> None:
    from stemcell.tui.screens import lab_screen

    started: list[str] = []
    monkeypatch.setattr(lab_screen.sys, "platform", "win32")
    monkeypatch.setattr(lab_screen.os, "startfile", started.append, raising=False)
    monkeypatch.setattr(LabScreen, "run_folder", lambda self: r"C:\runs\one")
    app = StemcellApp(RunConfig(), events=scripted_run("mid-bake"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lab(app).open_run_folder()
        assert started == [r"C:\runs\one"]


def test_check_resolves_lab_names_like_run(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from stemcell.cli import main

    runner = CliRunner()
    # `lab1` is lab1-stem-cell for `check` as for `run`: the lab loads, and the next
    # problem reported is the unknown step, not the lab.
    result = runner.invoke(main, ["check", "--lab", "lab1", "--host", "127.0.0.1",
                                  "--step", "no-such-step"])
    assert result.exit_code == 2
    assert "unknown step no-such-step" in result.output
    unknown = runner.invoke(main, ["check", "--lab", "lab9", "--host", "127.0.0.1"])
    assert unknown.exit_code == 2
    assert "unknown lab 'lab9'" in unknown.output and "lab1-stem-cell" in unknown.output


def rendered(widget: Any) -> list[str]:
    """The widget's lines as drawn on screen."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


@pytest.mark.parametrize("width", [80, 120])
async def test_step_titles_and_instance_states_use_the_width_they_have(width: int) -> None:
    from stemcell.tui.widgets.instances import InstancesTable
    from stemcell.tui.widgets.steps import StepsList

    # Drawn while the instances run, then the rest arrives live: the state column was
    # sized for "running" and must grow for "terminated".
    compared, end = scripted_run("compared"), scripted_run("end")
    app = StemcellApp(RunConfig(), events=compared)
    async with app.run_test(size=(width, 40)) as pilot:
        screen = lab(app)
        await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
        for event in end[len(compared):]:
            screen.feed.push(event)
        await until(pilot, lambda: screen.model.status == "succeeded" and not screen.feed)
        await pilot.press("1")
        await pilot.pause()
        steps = screen.query_one(StepsList)
        lines = rendered(steps)
        shown = "\n".join(lines)
        titles = [s.title for s in screen.model.steps.values()]
        # Every title starts its row; at 120 columns each shows at least 28 characters
        # (it was cut to 17 whatever the width).
        room = 28 if width >= 120 else 17
        for title in titles:
            assert title[:room] in shown, (title, lines)
        await pilot.press("2")  # the Instances tab
        await pilot.pause(0.2)
        table = screen.query_one(InstancesTable)
        states = {table.get_cell(r, "state").plain for r in table.rows}
        assert states == {"terminated"}
        drawn = "\n".join(rendered(table))
        assert drawn.count("terminated") == table.row_count, drawn
