"""Replay shows what the live run showed; recordings never hold secrets."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from stemcell.content.shipped import shipped_dir
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.events import SshOutput
from stemcell.engine.replay import read_recording
from stemcell.tui.app import StemcellApp
from stemcell.tui.screens.lab_screen import LabScreen
from stemcell.tui.screens.replay_screen import ReplayScreen
from tui_engine import ScriptedSession, ScriptedStep, pane_contents, scripted_prepare


async def until(pilot: Any, check: Any, timeout: float = 180.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await pilot.pause(0.05)


async def live_then_replay(prepare: Any, size: tuple[int, int] = (120, 40)) -> tuple[dict, dict]:
    app = StemcellApp(RunConfig(), prepare=prepare, skip_start=True)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LabScreen) and app.screen.ready)
        await pilot.press("r")
        screen = app.screen
        assert isinstance(screen, LabScreen)
        await until(pilot, lambda: screen.model.status in ("succeeded", "failed"), 300)
        await until(pilot, lambda: screen.live is not None and not screen.live.running)
        await pilot.press("4")  # the bars are drawn to the width of their visible tab
        await pilot.pause(0.3)
        live = pane_contents(screen)
        run_dir = screen.live.session.ctx.run_dir
    recording = read_recording(run_dir / "recording.jsonl")
    replay_app = StemcellApp(recording=recording, autoplay=False)
    async with replay_app.run_test(size=size) as pilot:
        await pilot.pause()
        replay = replay_app.screen
        assert isinstance(replay, ReplayScreen)
        # Play it back in step-sized jumps, as a student would with ']'.
        while not replay.player.finished:
            await pilot.press("right_square_bracket")
        await pilot.press("4")
        await pilot.pause(0.3)
        replayed = pane_contents(replay)
    return live, replayed


async def test_replayed_panes_equal_the_live_run_at_its_end() -> None:
    live, replayed = await live_then_replay(scripted_prepare())
    assert live["model"]["run"][4] == "succeeded"
    for pane in ("steps", "instances", "ssh", "bars", "events", "api", "model"):
        assert replayed[pane] == live[pane], pane


async def test_seeking_back_and_forth_lands_on_the_same_screen() -> None:
    session_app = StemcellApp(RunConfig(), prepare=scripted_prepare(), skip_start=True)
    async with session_app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(session_app.screen, LabScreen)
                    and session_app.screen.ready)
        await pilot.press("r")
        screen = session_app.screen
        await until(pilot, lambda: screen.model.status == "succeeded")
        await until(pilot, lambda: not screen.live.running)
        run_dir = screen.live.session.ctx.run_dir
    app = StemcellApp(recording=read_recording(run_dir / "recording.jsonl"), autoplay=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        replay = app.screen
        assert isinstance(replay, ReplayScreen)
        for _ in range(5):
            await pilot.press("right_square_bracket")
        there = pane_contents(replay)
        await pilot.press("end")
        await pilot.press("home")
        assert replay.player.index == 0
        for _ in range(5):
            await pilot.press("right_square_bracket")
        assert pane_contents(replay) == there
        await pilot.press("left_square_bracket")
        assert replay.player.current_step_number()[0] == 4
        await pilot.click("#seek", offset=(50, 0))
        # The click posts a Seek message that the screen handles on a later turn. The
        # replay then stands at the clicked time; the last event applied is at or before
        # it (a long bake can leave a gap with no events around the middle of a run).
        await until(pilot, lambda: 0.3 < replay.at / replay.player.duration < 0.7, 60)
        assert replay.player.position <= replay.at
        replay.seek(replay.player.duration - 20)
        replay.playing, replay.speed = True, 100.0
        await until(pilot, lambda: replay.player.finished, 60)


# --- secrets ------------------------------------------------------------------------

FAKE_KEY = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"
            "\n-----END OPENSSH PRIVATE KEY-----")
FAKE_URL = ("https://b.s3.amazonaws.com/web.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-"
            "Credential=AKIAIOSFODNN7EXAMPLE%2F20261128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-"
            "Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0")
SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)X-Amz-Signature=[0-9a-f]{8}"),
    re.compile(r"(?i)X-Amz-Credential=(?!\[REDACTED)"),
    re.compile(r"(?i)[?&]Signature=(?!\[REDACTED)"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"(?i)aws_secret_access_key\s*[=:]\s*(?!\[REDACTED)\S{8,}"),
    re.compile(r"b3BlbnNzaC1rZXktdjE"),  # the body of any OpenSSH private key
]


class LeakyStep(ScriptedStep):
    """A careless step: prints a private key, a presigned URL and a credentials line."""

    def run(self, ctx: Context) -> None:
        super().run(ctx)
        if self.spec.kind == "upload_bundles":
            ctx.log(f"bundle url: {FAKE_URL}")
            ctx.emit(SshOutput(instance_id="i-builder", line=FAKE_KEY))
            secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            ctx.emit(SshOutput(instance_id="i-builder", line=f"aws_secret_access_key = {secret}"))


def leaky_prepare() -> Any:
    base = scripted_prepare()

    def prepare(config: RunConfig, **kwargs: Any) -> ScriptedSession:
        session: ScriptedSession = base(config, **kwargs)
        session.steps = [LeakyStep(s.spec) for s in session.steps]
        return session

    return prepare


async def test_no_recording_the_suite_produces_holds_secrets(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    app = StemcellApp(RunConfig(), prepare=leaky_prepare(), skip_start=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LabScreen) and app.screen.ready)
        await pilot.press("r")
        screen = app.screen
        await until(pilot, lambda: screen.model.status == "succeeded")
        await until(pilot, lambda: not screen.live.running)
        own = screen.live.session.ctx.run_dir / "recording.jsonl"
    assert "[REDACTED" in own.read_text()
    # Every recording under this test session's temporary root (all xdist workers),
    # plus the shipped reference recording.
    root = tmp_path_factory.getbasetemp().parent
    recordings = sorted(root.rglob("recording*.jsonl"))
    shipped = shipped_dir("labs").parent / "recordings"
    recordings += sorted(shipped.glob("*.jsonl")) if shipped.is_dir() else []
    assert own in recordings
    for path in recordings:
        text = path.read_text(encoding="utf-8", errors="replace")
        for pattern in SECRET_PATTERNS:
            found = pattern.search(text)
            assert found is None, f"{path}: {pattern.pattern} matched {found.group(0)!r}"


