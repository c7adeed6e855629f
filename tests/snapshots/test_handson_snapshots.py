"""Snapshots of the hands-on step view, from scripted events with fixed ids and times.

Regenerate after an intended change: pytest tests/snapshots/test_handson_snapshots.py
--snapshot-update
"""

from __future__ import annotations

import pytest
from textual.pilot import Pilot

from handson_script import hands_on_run
from stemcell.engine.context import RunConfig
from stemcell.tui.app import StemcellApp


def test_hands_on_step_open_with_a_failing_check(snap_compare) -> None:
    assert snap_compare(StemcellApp(RunConfig(hands_on=True), events=hands_on_run()),
                        terminal_size=(100, 40))


def test_start_screen_hands_on_mode(snap_compare) -> None:
    async def pick(pilot: Pilot) -> None:
        while not pilot.app.screen.complete:
            await pilot.pause(0.05)
        pilot.app.screen.query_one("#m-hands-on").value = True
        await pilot.pause()

    assert snap_compare(StemcellApp(RunConfig(), runs=[]), run_before=pick)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
