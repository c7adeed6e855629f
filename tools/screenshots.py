"""Regenerate screenshots/*.svg of the app's main screens from the reference recording.

    python tools/screenshots.py [--out DIR]    (with stemcell installed, from the repo root)

Every lab screenshot is the real lab screen fed with the events of
recordings/lab1-sandbox.jsonl (a simulated sandbox run) cut at a moment of
interest, which is the same path live events take; nothing is mocked up. The
hands-on view comes from recordings/lab1-handson.jsonl (tools/handson_recording.py),
when it exists.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "screenshots"
SIZE = (100, 30)


def cut(events: list[Any], predicate: Any, extra: int = 0) -> list[Any]:
    for n, event in enumerate(events):
        if predicate(event):
            return events[: n + 1 + extra]
    return events


async def shoot(name: str, app: Any, keys: tuple[str, ...] = (), before: Any = None) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        if before is not None:
            await before(pilot)
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.3)
        app.save_screenshot(filename=f"{name}.svg", path=str(OUT))
    print(f"screenshots/{name}.svg")


async def main() -> None:
    import os
    import time

    os.environ["TZ"] = "UTC"  # the start screen shows run times: same picture anywhere
    time.tzset()
    from stemcell.engine.context import RunConfig
    from stemcell.engine.events import ImageState, StepFinished, StepStarted
    from stemcell.engine.replay import read_recording
    from stemcell.engine.state import Resource
    from stemcell.tui.app import StemcellApp

    recording = read_recording(ROOT / "recordings" / "lab1-sandbox.jsonl")
    events = recording.events
    config = RunConfig(lab=str(recording.header.get("lab", "lab1-stem-cell")),
                       profile=str(recording.header.get("profile", "apache-python")))

    def lab(evts: list[Any]) -> StemcellApp:
        return StemcellApp(config, events=list(evts))

    runs = [{"run_id": recording.header.get("run_id", "?"), "lab": config.lab,
             "profile": config.profile, "backend": "sandbox",
             "created": events[0].t if events else 0,
             "status": "succeeded", "live_resources": 0, "run_dir": ""}]
    OUT.mkdir(exist_ok=True)
    await shoot("start", StemcellApp(config, runs=runs))
    bake = cut(events, lambda e: isinstance(e, ImageState) and e.progress > 0, 1)
    await shoot("lab-mid-bake", lab(bake))
    installing = cut(events, lambda e: isinstance(e, StepFinished) and e.step_id ==
                     "install-stack")
    await shoot("lab-ssh-output", lab(installing), ("3",))
    measuring = cut(events, lambda e: isinstance(e, StepStarted) and e.step_kind == "measure",
                    40)
    await shoot("lab-instances", lab(measuring), ("2",))
    compared = cut(events, lambda e: isinstance(e, StepFinished) and e.step_id == "compare")
    await shoot("lab-boot-times", lab(compared), ("4",))
    await shoot("lab-events", lab(events), ("5",))
    await shoot("help", lab(events[:1]), ("question_mark",))

    class Listing:
        """The cleanup screen lists a run's live resources; here, those alive mid-run."""

        session = None

        def __init__(self, evts: list[Any]) -> None:
            from stemcell.present.view import ViewModel

            model = ViewModel()
            model.apply_all(evts)
            self.items = [Resource(r.rtype, r.rid, name=r.name) for r in model.live_resources()]

        def live_resources(self) -> list[Resource]:
            return self.items

    async def open_cleanup(pilot: Any) -> None:
        from stemcell.tui.screens.cleanup_screen import CleanupScreen

        pilot.app.push_screen(CleanupScreen(Listing(measuring), pilot.app.screen.feed))
        await pilot.pause(0.3)

    await shoot("cleanup", lab(measuring), before=open_cleanup)

    async def to_bake(pilot: Any) -> None:
        for _ in range(9):
            await pilot.press("right_square_bracket")

    await shoot("replay", StemcellApp(recording=recording, autoplay=False), before=to_bake)

    hands_on = ROOT / "recordings" / "lab1-handson.jsonl"
    if hands_on.is_file():
        from stemcell.engine.events import StudentCheck

        student = read_recording(hands_on).events
        # The security group open to the world: the step waits with the check's hint.
        mistake = cut(student, lambda e: isinstance(e, StudentCheck) and any(
            r.get("status") == "failed" and r.get("id") == "ssh-not-wider" for r in e.results))
        async def to_checks(pilot: Any) -> None:  # what stemcell sees, with the hint
            pilot.app.screen.query_one("#explain").scroll_to(y=14, animate=False)
            await pilot.pause(0.2)

        await shoot("lab-hands-on", StemcellApp(RunConfig(lab=config.lab, profile=config.profile,
                                                          hands_on=True),
                                                events=list(mistake)), before=to_checks)


if __name__ == "__main__":
    if "--out" in sys.argv:
        OUT = Path(sys.argv[sys.argv.index("--out") + 1])
    sys.exit(asyncio.run(main()))
