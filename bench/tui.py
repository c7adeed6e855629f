"""TUI figures: first frame against a bare Textual app, and a 100,000-line SSH burst.

    python bench/tui.py [--runs 11] [--lines 100000]

1. First frame: a fresh process runs what `stemcell` runs (its console script with
   no arguments: the app, start screen, headless driver, 80x24); we time
   from just before spawning the process to the moment the start screen has been
   painted and accepts input. Beside it, in the same run and interleaved with it (so
   a busy moment or a cold cache lands on both), a bare Textual app of six Static
   lines is timed the same way. We print both medians and their ratio (goal <= 1.4),
   and the same for the CPU time each child had used when its frame was painted
   (process time, all threads), which a busy machine disturbs less than the wall
   clock.
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
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Both children report the wall clock once their first screen has been painted: the
# screen's on_mount asks for a callback after the next refresh, i.e. after the frame.
STEMCELL = r"""
import sys, time
sys.argv = ["stemcell"]
import textual.app
from stemcell.console import main  # the `stemcell` console script

def headless_run(self, *args, **kwargs):
    kwargs.update(headless=True, size=(80, 24))
    return run(self, *args, **kwargs)

run = textual.app.App.run
textual.app.App.run = headless_run

def patch_start_screen():
    from stemcell.tui.screens.start_screen import StartScreen
    shown = StartScreen.on_mount
    def on_mount(self):
        shown(self)
        self.call_after_refresh(painted, self)
    StartScreen.on_mount = on_mount

def painted(screen):
    print(f"{time.time():.6f} {time.process_time():.6f}", flush=True)
    screen.app.exit()

# The start screen module is imported by the app when it mounts; patch it then.
import stemcell.tui.app as app_module
mounted = app_module.StemcellApp.on_mount
def app_on_mount(self):
    patch_start_screen()
    mounted(self)
app_module.StemcellApp.on_mount = app_on_mount
main()
"""

BARE = r"""
import time
from textual.app import App
from textual.screen import Screen
from textual.widgets import Static

class Lines(Screen):
    def compose(self):
        for n in range(6):
            yield Static(f"line {n}: a bare Textual app")
    def on_mount(self):
        self.call_after_refresh(painted, self)

def painted(screen):
    print(f"{time.time():.6f} {time.process_time():.6f}", flush=True)
    screen.app.exit()

class Bare(App):
    def on_mount(self):
        self.push_screen(Lines())

Bare().run(headless=True, size=(80, 24))
"""


def first_frame(code: str, home: str) -> tuple[float, float]:
    """(wall seconds to the first frame, CPU seconds the child had used by then)."""
    start = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1],
                         env={**os.environ, "STEMCELL_HOME": home})
    painted, cpu = out.stdout.strip().splitlines()[-1].split()
    return float(painted) - start, float(cpu)


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
    parser.add_argument("--no-burst", action="store_true", help="first frame only")
    args = parser.parse_args()
    wall: dict[str, list[float]] = {"stemcell": [], "bare": []}
    cpu: dict[str, list[float]] = {"stemcell": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="stemcell-bench-") as home:
        first_frame(STEMCELL, home)  # warm the file cache; not counted
        first_frame(BARE, home)
        for _ in range(args.runs):
            for entry, code in (("stemcell", STEMCELL), ("bare", BARE)):
                took, used = first_frame(code, home)
                wall[entry].append(took)
                cpu[entry].append(used)
    for entry, label in (("stemcell", "stemcell (the `stemcell` command)"),
                         ("bare", "bare Textual app (six Static lines)")):
        times = wall[entry]
        print(f"first frame, {label}: median {statistics.median(times) * 1000:.0f} ms, "
              f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms; "
              f"CPU median {statistics.median(cpu[entry]) * 1000:.0f} ms")
    ratio = statistics.median(wall["stemcell"]) / statistics.median(wall["bare"])
    cpu_ratio = statistics.median(cpu["stemcell"]) / statistics.median(cpu["bare"])
    print(f"ratio stemcell / bare: {ratio:.2f} wall, {cpu_ratio:.2f} CPU, over {args.runs} "
          f"interleaved runs (goal <= 1.4; CPU time is the steadier figure on a busy machine)")
    if args.no_burst:
        return
    ingest, worst, typical, kept = asyncio.run(burst(args.lines))
    print(f"SSH burst of {args.lines:,} lines: ingested in {ingest:.2f} s "
          f"({args.lines / ingest:,.0f} lines/s); largest gap between frames "
          f"{worst * 1000:.0f} ms (median {typical * 1000:.0f} ms); the log pane keeps the "
          f"last {kept:,} lines")


if __name__ == "__main__":
    main()
