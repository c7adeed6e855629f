"""TUI figures: time to the first interactive frame, and a 100,000-line SSH burst.

    /work/venv/bin/python bench/tui.py [--runs 5] [--lines 100000]

1. First frame: a fresh process imports stemcell's CLI and opens the app (start
   screen, headless driver); we time from just before spawning the process to
   the moment the app has painted its first frame and accepts input. Target < 0.5 s.
2. Burst: a worker thread emits N SshOutput events onto the lab screen's feed as
   fast as it can, the way a runaway `apt-get` would. We report how long until the
   log pane has taken all of them in, and the largest gap between two UI frames
   (a 60 Hz heartbeat on the UI loop) while it happened - i.e. how long the app
   was unresponsive at worst.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

CHILD = r"""
import sys, time
if sys.argv[1] == "cli":
    import stemcell.cli  # what `stemcell` imports before the app (subcommands load lazily)
from stemcell.tui.app import StemcellApp
from stemcell.tui.screens.start_screen import StartScreen

shown = StartScreen.on_mount

def on_mount(self):
    shown(self)
    # The start screen has composed; once it has been painted, keys are handled.
    self.call_after_refresh(painted, self)

def painted(screen):
    print(f"{time.time():.6f}", flush=True)
    screen.app.exit()

StartScreen.on_mount = on_mount
StemcellApp(runs=[]).run(headless=True, size=(80, 24))
"""


def first_frame(runs: int, entry: str) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.time()
        out = subprocess.run([sys.executable, "-c", CHILD, entry], capture_output=True,
                             text=True,
                             check=True, cwd=Path(__file__).resolve().parents[1])
        painted = float(out.stdout.strip().splitlines()[-1])
        times.append(painted - start)
    return times


async def burst(lines: int) -> tuple[float, float, float, int]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from textual.widgets import Log

    from stemcell.engine.context import RunConfig
    from stemcell.engine.events import SshOutput
    from stemcell.tui.app import StemcellApp
    from stemcell.tui.screens.lab_screen import LabScreen
    from tui_script import scripted_run

    app = StemcellApp(RunConfig(), events=scripted_run("mid-bake"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LabScreen)
        await pilot.press("3")  # the SSH tab, visible while the burst lands
        await pilot.pause(0.2)
        beats: list[float] = []
        app.set_interval(1 / 60, lambda: beats.append(time.perf_counter()))
        await pilot.pause(0.2)
        base = screen.model.ssh_total
        events = [SshOutput(instance_id="i-0builder000000001", line=f"Get:{n} http://archive "
                            f"noble/main amd64 package-{n} [{n % 997} kB]", t=1.0)
                  for n in range(lines)]

        def produce() -> None:
            for event in events:
                screen.feed.push(event)

        started = time.perf_counter()
        thread = threading.Thread(target=produce)
        thread.start()
        while screen.model.ssh_total - base < lines or len(screen.feed):
            await asyncio.sleep(0.005)
        ingest = time.perf_counter() - started
        thread.join()
        await pilot.pause(0.2)
        during = [b for b in beats if b >= started]
        gaps = [b - a for a, b in itertools.pairwise(during)]
        if during:
            gaps.append(during[0] - started)
        log_lines = screen.query_one("#ssh-log", Log).line_count
        return ingest, max(gaps) if gaps else 0.0, statistics.median(gaps) if gaps else 0.0, \
            log_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    # Interleaved, so a cold first start or a busy moment does not land on one side.
    measured: dict[str, list[float]] = {"cli": [], "app": []}
    first_frame(1, "app")  # warm the file cache; not counted
    for _ in range(args.runs):
        for entry in measured:
            measured[entry] += first_frame(1, entry)
    for entry, label in (("cli", "via `stemcell` (the CLI, then the app)"),
                         ("app", "app module alone")):
        times = measured[entry]
        print(f"first interactive frame, {label}: median {statistics.median(times) * 1000:.0f}"
              f" ms, min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms over "
              f"{args.runs} runs (target < 500 ms)")
    ingest, worst, typical, kept = asyncio.run(burst(args.lines))
    print(f"SSH burst of {args.lines:,} lines: ingested in {ingest:.2f} s "
          f"({args.lines / ingest:,.0f} lines/s); largest gap between frames "
          f"{worst * 1000:.0f} ms (median {typical * 1000:.0f} ms); the log pane keeps the "
          f"last {kept:,} lines")


if __name__ == "__main__":
    main()
