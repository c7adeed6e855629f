"""Wall time of the whole Lab 1 in the sandbox, and the modeled time it stands for.

    /work/venv/bin/python bench/sandbox_run.py [--speeds 12,200] [--profile apache-python]

Runs ``stemcell run --json`` once per speed (default: the sandbox's default
speed and a test speed), each in a fresh STEMCELL_HOME with an in-process
sandbox, and prints per run: status, wall seconds, modeled seconds (sum of the
steps' simulated durations) and modeled/wall, then the wall-time ratio of the
runs. Target: the default speed under 60 s wall on a 2-core machine.

Then each step's modeled seconds at every speed, and the largest difference
from the first speed (modeled time is a property of the model: the same lab
gives the same step times, within 5 %, at any speed; engine/clock.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from stemcell.sandbox.runtime import DEFAULT_SPEED


def run_lab(speed: float, profile: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="stemcell-bench-") as home:
        env = dict(os.environ, STEMCELL_HOME=home)
        for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
            env.pop(key, None)
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "stemcell", "run", "--json", "--speed", f"{speed:g}",
             "--profile", profile],
            env=env, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - start
    try:
        summary = json.loads(proc.stdout)
    except ValueError:
        summary = {"status": f"no summary (exit {proc.returncode})",
                   "reason": proc.stderr.strip()[-300:]}
    modeled = sum(float(s.get("seconds") or 0.0) for s in summary.get("steps", []))
    steps = {str(s.get("id")): float(s.get("seconds") or 0.0) for s in summary.get("steps", [])}
    return {"speed": speed, "status": summary.get("status"), "reason": summary.get("reason", ""),
            "wall": wall, "modeled": modeled, "exit": proc.returncode, "steps": steps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speeds", default=f"{DEFAULT_SPEED:g},20,200",
                        help="comma-separated sandbox speeds (default: default speed, 20, 200)")
    parser.add_argument("--profile", default="apache-python")
    args = parser.parse_args()
    results = [run_lab(float(s), args.profile) for s in args.speeds.split(",")]
    print(f"Lab 1 ({args.profile}) in the sandbox; modeled = sum of step durations (simulated)")
    print(f"{'speed':>7} {'status':>10} {'wall s':>8} {'modeled s':>10} {'modeled/wall':>13}")
    for r in results:
        ratio = r["modeled"] / r["wall"] if r["wall"] else 0.0
        print(f"{r['speed']:>7g} {r['status']!s:>10} {r['wall']:>8.1f} {r['modeled']:>10.1f} "
              f"{ratio:>13.1f}")
        if r["status"] != "succeeded" and r["reason"]:
            print(f"        reason: {r['reason'][:200]}")
    if len(results) > 1 and results[-1]["wall"]:
        print(f"wall-time ratio speed {results[0]['speed']:g} / speed {results[-1]['speed']:g}: "
              f"{results[0]['wall'] / results[-1]['wall']:.2f}")
    first = results[0]
    print(f"\nmodeled seconds per step; last column: largest |difference| from speed "
          f"{first['speed']:g}")
    print(f"{'step':<16}" + "".join(f"{r['speed']:>9g}" for r in results) + f"{'max diff':>10}")
    worst = 0.0
    for step, base in first["steps"].items():
        values = [r["steps"].get(step, float("nan")) for r in results]
        diff = max(abs(v - base) for v in values)
        rel = diff / base if base >= 1.0 else 0.0  # steps under 1 s: host noise only
        worst = max(worst, rel)
        print(f"{step:<16}" + "".join(f"{v:>9.2f}" for v in values) + f"{diff:>9.2f}s")
    print(f"largest relative difference (steps of 1 s or more): {worst:.1%}")
    default = next((r for r in results if r["speed"] == DEFAULT_SPEED), None)
    if default is not None:
        verdict = "meets" if default["wall"] < 60 else "misses"
        print(f"default speed {DEFAULT_SPEED:g}: {default['wall']:.1f} s wall ({verdict} the "
              "60 s target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
