"""How engine events reach the app: one coalesced message per burst, no timer left ticking."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stemcell.engine.context import RunConfig
from stemcell.engine.events import SshOutput
from stemcell.engine.replay import read_recording
from stemcell.tui.app import StemcellApp
from stemcell.tui.feed import EventFeed
from stemcell.tui.screens.lab_screen import LabScreen
from stemcell.tui.screens.replay_screen import ReplayScreen
from tui_script import scripted_run


async def until(pilot: Any, check: Callable[[], bool], timeout: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def test_the_feed_rings_once_until_it_is_drained() -> None:
    rings: list[int] = []
    feed = EventFeed(on_ready=lambda: rings.append(len(feed)))
    for n in range(1000):
        feed.push(SshOutput(instance_id="i-1", line=f"line {n}", t=1.0))
    assert rings == [1]
    assert len(feed.drain(10)) == 10
    feed.push(SshOutput(instance_id="i-1", line="after the drain", t=1.0))
    assert rings == [1, 991]  # a push after a drain rings again: nothing waits unseen
    assert len(feed.drain()) == 991


async def test_a_burst_from_a_thread_is_folded_in_a_few_coalesced_messages(
        monkeypatch: Any) -> None:
    handled: list[int] = []  # one entry per drain: each message or frame of a burst
    original = LabScreen._drain

    def counting(self: LabScreen) -> None:
        handled.append(len(self.feed))
        original(self)

    monkeypatch.setattr(LabScreen, "_drain", counting)
    app = StemcellApp(RunConfig(), events=scripted_run("mid-bake"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, LabScreen)
        await pilot.pause()
        base = screen.model.ssh_total
        lines = 20_000

        def produce() -> None:
            for n in range(lines):
                screen.feed.push(SshOutput(instance_id="i-0builder000000001",
                                           line=f"Get:{n} package-{n}", t=1.0))

        thread = threading.Thread(target=produce)
        thread.start()
        await until(pilot, lambda: screen.model.ssh_total - base >= lines and not screen.feed)
        thread.join()
        # One message per event would be 20,000; coalescing leaves a few per frame.
        assert 0 < len(handled) < lines / 20, len(handled)
        await pilot.pause(0.3)  # a bell rung just before the last drain may still land
        calls = len(handled)
        await pilot.pause(0.5)
        assert len(handled) == calls  # idle: nothing polls the feed


async def test_the_replay_clock_runs_only_while_it_plays(monkeypatch: Any) -> None:
    frames: list[float] = []
    original = ReplayScreen._frame

    def counting(self: ReplayScreen) -> None:
        frames.append(self.at)
        original(self)

    monkeypatch.setattr(ReplayScreen, "_frame", counting)
    recording = Path(__file__).resolve().parents[2] / "recordings" / "lab1-sandbox.jsonl"
    app = StemcellApp(recording=read_recording(recording), autoplay=False)
    async with app.run_test(size=(120, 40)) as pilot:
        replay = app.screen
        assert isinstance(replay, ReplayScreen)
        await pilot.pause(0.4)
        assert frames == []  # paused from the start: no frame timer
        replay.speed = 100.0
        replay.playing = True
        await until(pilot, lambda: len(frames) >= 3)
        replay.playing = False
        await pilot.pause(0.1)
        stopped = len(frames)
        await pilot.pause(0.4)
        assert len(frames) == stopped
