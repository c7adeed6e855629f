"""Snapshots of every screen and key state, at 80x24, from scripted events with fixed ids/times.

Regenerate after an intended change: pytest tests/snapshots --snapshot-update

The SVGs record the rendering of the textual release pinned in requirements-test.lock
(what CI installs); another release draws some cells differently, so with any other
installed the snapshots are skipped with that reason rather than failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import textual
from textual.pilot import Pilot

from stemcell.engine.context import RunConfig
from stemcell.engine.recorder import RECORDING_VERSION
from stemcell.engine.replay import Recording
from stemcell.engine.state import Resource
from stemcell.tui.app import StemcellApp
from tui_script import RUN_ID, scripted_run


def _locked_textual() -> str:
    lock = Path(__file__).resolve().parents[2] / "requirements-test.lock"
    for line in lock.read_text().splitlines():
        if line.startswith("textual=="):
            return line.split("==")[1].split()[0]
    raise AssertionError("requirements-test.lock pins no textual")


LOCKED_TEXTUAL = _locked_textual()
pytestmark = pytest.mark.skipif(
    textual.__version__ != LOCKED_TEXTUAL,
    reason=f"snapshots record textual {LOCKED_TEXTUAL} (the locked release); "
           f"{textual.__version__} is installed")

RUNS = [
    {"run_id": "20261127-180000-0a0b0c", "lab": "lab1-stem-cell", "profile": "apache-python",
     "backend": "sandbox", "created": 1795800000, "status": "succeeded", "live_resources": 0,
     "run_dir": "/nonexistent"},
    {"run_id": "20261127-190000-0d0e0f", "lab": "lab1-stem-cell", "profile": "apache-php",
     "backend": "aws", "created": 1795803600, "status": "failed", "live_resources": 2,
     "run_dir": "/nonexistent"},
]


def lab_app(checkpoint: str, fail_at: str | None = None) -> StemcellApp:
    return StemcellApp(RunConfig(), events=scripted_run(checkpoint, fail_at=fail_at))


def test_start_screen(snap_compare) -> None:
    async def complete(pilot: Pilot) -> None:
        while not pilot.app.screen.runs_listed:
            await pilot.pause(0.05)

    assert snap_compare(StemcellApp(RunConfig(), runs=RUNS), run_before=complete)


def test_start_screen_aws_fields(snap_compare) -> None:
    async def pick_aws(pilot: Pilot) -> None:
        while not pilot.app.screen.runs_listed:
            await pilot.pause(0.05)
        pilot.app.screen.query_one("#b-aws").value = True
        await pilot.pause()

    assert snap_compare(StemcellApp(RunConfig(), runs=RUNS), run_before=pick_aws)


def test_lab_mid_bake(snap_compare) -> None:
    assert snap_compare(lab_app("mid-bake"))


def test_lab_comparison_filled(snap_compare) -> None:
    assert snap_compare(lab_app("compared"), press=["4"])


def test_lab_failure_with_hint(snap_compare) -> None:
    assert snap_compare(lab_app("end", fail_at="builder"))


def test_lab_instances(snap_compare) -> None:
    assert snap_compare(lab_app("compared"), press=["2"])


def test_lab_ssh_output(snap_compare) -> None:
    assert snap_compare(lab_app("compared"), press=["3"])


def test_lab_events(snap_compare) -> None:
    assert snap_compare(lab_app("end"), press=["5"])


def test_help(snap_compare) -> None:
    assert snap_compare(lab_app("start"), press=["question_mark"])


class _FakeLive:
    """Stands in for a LiveRun: the cleanup screen only lists this run's live resources."""

    session = None

    def live_resources(self) -> list[Resource]:
        return [Resource("instance", "i-0setup1web00000000"), Resource("image", "ami-0stemcell01"),
                Resource("security_group", "sg-0a1b2c3d4e5f60718", name="stemcell-lab1"),
                Resource("key_pair", "key-0a1b2c3d4e5f60718", name=f"stemcell-{RUN_ID}")]


def test_cleanup(snap_compare) -> None:
    async def open_cleanup(pilot: Pilot) -> None:
        from stemcell.tui.screens.cleanup_screen import CleanupScreen

        screen = pilot.app.screen
        pilot.app.push_screen(CleanupScreen(_FakeLive(), screen.feed))
        await pilot.pause(0.3)

    assert snap_compare(lab_app("end"), run_before=open_cleanup)


def test_replay_mid_run(snap_compare) -> None:
    events = scripted_run("end")
    recording = Recording(Path("lab1-sandbox.jsonl"), {"version": RECORDING_VERSION,
                                                       "lab": "lab1-stem-cell",
                                                       "profile": "apache-python"}, events)

    async def to_step_nine(pilot: Pilot) -> None:
        for _ in range(9):
            await pilot.press("right_square_bracket")
        await pilot.pause()

    app = StemcellApp(recording=recording, autoplay=False)
    assert snap_compare(app, run_before=to_step_nine)


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
