"""The hands-on view driven through keys, on the real Runner with scripted steps.

The key pair step waits for the student (a task that is never satisfied);
the Step tab shows its commands and the failing check's hint; ``m`` (show me)
lets stemcell do it, and the step is recorded as done by stemcell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stemcell.engine.context import Context, RunConfig
from stemcell.engine.runner import Runner
from stemcell.engine.student_desk import Brief, CheckLine, Progress, StudentDesk
from stemcell.tui.app import StemcellApp
from stemcell.tui.screens.lab_screen import LabScreen
from stemcell.tui.widgets.explanation import Explanation
from tui_engine import ScriptedSession, scripted_prepare


class NeverDone:
    def brief(self, ctx: Context) -> Brief:
        return Brief(goal="Import your key pair.",
                     commands=["ssh-keygen -q -t ed25519 -f KEY",
                               "aws ec2 import-key-pair --key-name K"],
                     console="EC2 console > Key pairs > Import key pair.")

    def poll(self, ctx: Context) -> Progress:
        return Progress(done=False, found="", lines=[
            CheckLine("key-imported", "a key pair named K in EC2", "failed",
                      "not imported yet", "Run aws ec2 import-key-pair.")])


@dataclass
class HandsOnSession(ScriptedSession):
    desk: Any = None

    def run(self) -> str:
        try:
            return Runner(self.ctx, self.steps, self.desk).run()
        finally:
            self.recorder.flush()

    def show_me(self) -> str:
        return str(self.desk.show_me())


def hands_on_prepare() -> Any:
    inner = scripted_prepare()

    def prepare(config: RunConfig, *, resume: str | None = None) -> HandsOnSession:
        s = inner(config, resume=resume)
        return HandsOnSession(s.ctx, s.steps, s.recorder,
                              desk=StudentDesk({"key-pair": NeverDone()}))

    return prepare


async def until(pilot: Any, check: Callable[[], bool], timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


async def test_show_me_does_the_waiting_step_and_says_so() -> None:
    app = StemcellApp(RunConfig(hands_on=True), prepare=hands_on_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = app.screen
        assert isinstance(screen, LabScreen)
        await until(pilot, lambda: screen.ready)
        await pilot.press("r")
        await until(pilot, lambda: bool(screen.model.steps["key-pair"].checks))
        await pilot.pause(0.2)
        text = screen.query_one(Explanation).markdown_text
        assert "### Your turn" in text and "aws ec2 import-key-pair --key-name K" in text
        assert "*hint:* Run aws ec2 import-key-pair." in text
        assert screen.model.steps["key-pair"].status == "running"  # stays open
        desk = screen.live.session.desk  # type: ignore[union-attr]
        rechecks: list[bool] = []
        wake = desk.recheck
        desk.recheck = lambda: (rechecks.append(True), wake())[1]
        await pilot.press("k")  # re-check now (wakes the runner's wait), no check screen
        assert rechecks == [True] and isinstance(app.screen, LabScreen)
        await pilot.press("m")
        await until(pilot, lambda: screen.model.steps["key-pair"].status == "done")
        assert screen.model.steps["key-pair"].by == "stemcell"
        await until(pilot, lambda: screen.model.status == "succeeded", 120)
        assert screen.model.steps["why"].by == "stemcell"


async def test_start_screen_mode_goes_into_the_config() -> None:
    app = StemcellApp(RunConfig(), runs=[])
    async with app.run_test(size=(100, 30)) as pilot:
        while not app.screen.complete:  # type: ignore[attr-defined]
            await pilot.pause(0.05)
        assert app.screen.read_config().hands_on is False  # type: ignore[attr-defined]
        app.screen.query_one("#m-hands-on").value = True  # type: ignore[attr-defined]
        await pilot.pause()
        assert app.screen.read_config().hands_on is True  # type: ignore[attr-defined]
