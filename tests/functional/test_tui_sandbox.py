"""The whole of Lab 1 in the real sandbox, driven through the app's keys, at high speed."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
from typing import Any

import pytest
from textual.widgets import Log

from stemcell.engine.context import RunConfig
from stemcell.engine.replay import read_recording
from stemcell.tui.app import StemcellApp
from stemcell.tui.screens.check_screen import CheckScreen
from stemcell.tui.screens.lab_screen import LabScreen
from stemcell.tui.screens.replay_screen import ReplayScreen
from stemcell.tui.widgets.instances import InstancesTable
from stemcell.tui.widgets.steps import StepsList
from tui_engine import pane_contents

pytestmark = pytest.mark.e2e

SPEED = 100.0


async def until(pilot: Any, check: Any, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not reached in time"
        await pilot.pause(0.1)


async def test_whole_lab_in_the_sandbox_through_the_ui() -> None:
    app = StemcellApp(RunConfig(speed=SPEED), runs=[])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.click("#start-button")  # sandbox + apache-python are the defaults
        await until(pilot, lambda: isinstance(app.screen, LabScreen), 30)
        screen = app.screen
        assert isinstance(screen, LabScreen)
        await until(pilot, lambda: screen.ready or screen.problem, 60)
        assert not screen.problem, screen.problem
        # Step by step up to the measurement, check the live servers, then run to the end.
        await pilot.press("n", "r")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 400
        while screen.live.paused_after != "measure" and loop.time() < deadline:
            if screen.model.status not in ("running", "idle"):
                break
            if screen.live.paused_after:  # paused after an earlier step: read it, go on
                await pilot.press("r")
            await pilot.pause(0.1)
        assert screen.live.paused_after == "measure", screen.model.status
        # The SSH command the app copies logs in with the run's key and checks the host
        # key stemcell pinned in the run's ssh/known_hosts, without asking anything.
        pinned = screen.live.session.ctx.run_dir / "ssh" / "known_hosts"
        entries = pinned.read_text()
        commands = [shlex.split(c) for _, c in screen.ssh_commands()]
        assert commands and all(f"UserKnownHostsFile={pinned}" in c for c in commands)
        # Pins are kept under the instance id (HostKeyAlias), not the reusable address.
        known = [c for c in commands
                 if any(w.startswith("HostKeyAlias=") and w.split("=", 1)[1] in entries
                        for w in c)]
        assert known, (commands, entries)
        words = [known[0][0], "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                 "-o", "ConnectTimeout=20", "-F", "/dev/null", *known[0][1:], "echo", "in"]
        login = await asyncio.to_thread(subprocess.run, words, capture_output=True, text=True,
                                        timeout=120)
        assert login.stdout.strip() == "in", login.stderr
        # "Check this step": with a step highlighted, only its checks run (and what they
        # need), each on the servers of its role.
        steps_list = screen.query_one(StepsList)
        ids = [steps_list.get_option_at_index(i).id for i in range(steps_list.option_count)]
        steps_list.highlighted = ids.index("launch-baked")
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, CheckScreen), 10)
        one_step = app.screen
        assert isinstance(one_step, CheckScreen) and one_step.step_id == "launch-baked"
        await until(pilot, lambda: not one_step.busy, 120)
        lab_checks = {c.id: s.id for s in screen.live.session.ctx.lab.steps for c in s.checks}
        ran = {r.check_id for _, r in one_step.results}
        assert "web-page-public" in ran and "worker-running" in ran
        assert {lab_checks[c] for c in ran} <= {"launch-baked", "install-stack", "bake",
                                                 "ta-access"}
        # A worker has no web page: role checks only ran on their role's server.
        assert all(host.startswith("web ") for host, r in one_step.results
                   if r.check_id.startswith("web-page"))
        await pilot.press("escape")
        steps_list.highlighted = ids.index("measure")  # no checks of its own: all of them
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, CheckScreen), 10)
        checks = app.screen
        assert isinstance(checks, CheckScreen)
        await until(pilot, lambda: not checks.busy, 120)
        statuses = [str(r.status) for _, r in checks.results]
        assert statuses and "passed" in statuses, checks.query_one("#checks-note").render()
        await pilot.press("escape")
        await pilot.press("n")  # step mode off: the lab runs to the end
        await until(pilot, lambda: screen.model.status in ("succeeded", "failed", "interrupted"),
                    400)
        await until(pilot, lambda: not screen.live.running, 60)
        await pilot.press("4")
        await pilot.pause(0.5)
        failed = {s.id: (s.error, s.hint) for s in screen.model.steps.values()
                  if s.status == "failed"}
        assert screen.model.status == "succeeded", failed
        steps = screen.query_one(StepsList)
        prompts = [str(steps.get_option_at_index(i).prompt) for i in range(steps.option_count)]
        assert all(p[0] in "✔↷" for p in prompts), prompts
        # Setup #1 and #2 instances of every role were shown, and are terminated now.
        table = screen.query_one(InstancesTable)
        roles = {(table.get_cell(r, "role").plain, table.get_cell(r, "setup").plain)
                 for r in table.rows}
        for role in ("web", "app-api", "app-worker"):
            assert (role, "#1 base") in roles and (role, "#2 baked") in roles
        assert {table.get_cell(r, "state").plain for r in table.rows} == {"terminated"}
        # The bake's SSH output streamed into the SSH pane.
        assert any("apt-get" in line for line in screen.query_one("#ssh-log", Log).lines)
        bars = str(screen.query_one("#bars").render())
        assert "web" in bars and "#1" in bars and "#2" in bars and "simulated" in bars
        assert all(b.complete for b in screen.model.boot_bars())
        assert screen.model.api_total > 20
        assert screen.live_count() == 0
        await pilot.press("4")
        await pilot.pause(0.3)
        live = pane_contents(screen)
        recording_path = screen.live.session.ctx.run_dir / "recording.jsonl"
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, 30)
    # Review mode: the recording of this sandbox run, replayed step by step, shows
    # exactly what the live panes showed at the end.
    replay_app = StemcellApp(recording=read_recording(recording_path), autoplay=False)
    async with replay_app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        replay = replay_app.screen
        assert isinstance(replay, ReplayScreen)
        while not replay.player.finished:
            await pilot.press("right_square_bracket")
        await pilot.press("4")
        await pilot.pause(0.3)
        replayed = pane_contents(replay)
    for pane in ("steps", "instances", "ssh", "bars", "events", "api", "model"):
        assert replayed[pane] == live[pane], pane
