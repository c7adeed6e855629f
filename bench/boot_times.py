"""Run Lab 1 in the sandbox and print the boot-time comparison it measured.

    /work/venv/bin/python bench/boot_times.py [--speed 200] [--repeat 1]

Prints, per role, the median ready time (RunInstances sent -> HTTP healthy) of
setup #1 and setup #2 and their ratio from one run, which marks came from the
guest's own log rather than a live observation, the surge model's counts, and
the wall time the run took. Everything printed is simulated (modeled seconds).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=200.0)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("STEMCELL_HOME", tempfile.mkdtemp(prefix="stemcell-bench-"))

    from stemcell.engine.context import RunConfig
    from stemcell.session import prepare

    started = time.perf_counter()
    session = prepare(RunConfig(speed=args.speed, repeat=args.repeat, yes=True))
    try:
        status = session.run()
        summary = session.summary()
    finally:
        session.close()
    wall = time.perf_counter() - started
    print(f"lab status: {status}; wall {wall:.1f} s at speed {args.speed:g} "
          f"(repeat {args.repeat})")
    comparison = summary["timings"].get("comparison")
    if not comparison:
        print("no comparison (the run stopped before it):", summary.get("reason"))
        return
    print(f"{'role':<11} {'#1 ready s':>11} {'#2 ready s':>11} {'ratio':>6} {'#1 bytes':>10}")
    for row in comparison["roles"]:
        one, two = row["setups"]["1"], row["setups"]["2"]
        print(f"{row['role']:<11} {one['ready']['median']:>11.1f} {two['ready']['median']:>11.1f} "
              f"{row['ratio']:>6.2f} {one['bytes']['median'] if one['bytes'] else 0:>10.0f}")
    guest = sum(1 for e in summary["timings"]["instances"].values()
                if (e.get("measure") or {}).get("from_guest"))
    live = sum(1 for e in summary["timings"]["instances"].values()
               if (e.get("measure") or {}).get("http_first_look") is False)
    print(f"instances with marks from the guest log: {guest}; "
          f"HTTP health transition seen live: {live}")
    surge = comparison.get("surge")
    if surge:
        for setup in ("1", "2"):
            res = surge["results"][setup]
            print(f"surge setup #{setup}: late {res['late']:,.0f}, dropped {res['dropped']:,.0f}")
    for line in comparison["conclusion"]:
        print("-", line)


if __name__ == "__main__":
    main()
