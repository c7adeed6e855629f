"""What each sandbox fault costs Lab 1: API calls, retries and modeled seconds added.

    .venv/bin/python bench/faults.py [--speed 40] [--sets "throttle=0.3;capacity=1"]

Runs the whole lab once without faults and once per fault set, all in this
process (each run with its own in-process sandbox, in a fresh STEMCELL_HOME),
and prints per set: status, API calls (logical calls, as the run counts them),
retries (HTTP attempts beyond the first: throttling, 5xx, NotFound right after
a create), modeled seconds of the whole run, and the difference of each to the
no-fault run (after a discarded warm-up run: moto's first calls in a process are
slow and would bill the first run). Faults use a fixed seed; modeled seconds
still vary by a few tens of seconds between runs (the sandbox's own work is
billed as wall x speed on a busy machine).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

SETS = ["throttle=0.3", "capacity=1", "ssh-refused=60", "not-found=5", "console-delay=90",
        "s3-errors=0.2", "ami-failed=1",
        "throttle=0.3,capacity=1,ssh-refused=60,not-found=5,console-delay=90,s3-errors=0.2"]


def run_lab(faults: str, speed: float) -> dict[str, Any]:
    from stemcell.engine.context import RunConfig
    from stemcell.session import prepare

    spec = f"{faults},seed=7" if faults else ""
    with tempfile.TemporaryDirectory(prefix="stemcell-bench-faults-") as home:
        os.environ["STEMCELL_HOME"] = home
        session = prepare(RunConfig(speed=speed, faults=spec))
        started = time.perf_counter()
        try:
            session.open()
            status = session.run()
            state = session.ctx.state
            handle = getattr(session.backend, "_handle", None)
            owned = getattr(handle, "_owned", None)
            injected = dict(owned.faults.status()["injected"]) if owned is not None else {}
            return {
                "faults": faults or "(none)", "status": status, "reason": state.reason,
                "calls": sum(state.api_calls.values()),
                "retries": session.backend.cloud.retries.retries,
                "modeled": sum(r.seconds for r in state.steps.values()),
                "wall": time.perf_counter() - started, "injected": injected,
                "left": len(state.live_resources()),
            }
        finally:
            session.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=40.0)
    parser.add_argument("--sets", default=";".join(SETS),
                        help="fault sets separated by ';' (default: each fault, then all)")
    args = parser.parse_args()
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(key, None)
    run_lab("", args.speed)  # warm-up: moto's first calls per process cost modeled time
    base = run_lab("", args.speed)
    rows = [base] + [run_lab(s, args.speed) for s in args.sets.split(";") if s.strip()]
    print(f"Lab 1 in the sandbox at speed {args.speed:g}; modeled = sum of step durations; "
          "+/- against the no-fault run")
    print(f"{'faults':<40} {'status':<12} {'calls':>6} {'+':>5} {'retries':>8} {'+':>5} "
          f"{'modeled s':>10} {'+':>8} {'left':>5} {'wall s':>7}")
    for r in rows:
        print(f"{r['faults'][:40]:<40} {r['status']:<12} {r['calls']:>6} "
              f"{r['calls'] - base['calls']:>+5} {r['retries']:>8} "
              f"{r['retries'] - base['retries']:>+5} {r['modeled']:>10.1f} "
              f"{r['modeled'] - base['modeled']:>+8.1f} {r['left']:>5} {r['wall']:>7.1f}")
        if r["injected"]:
            print(f"{'':<40} injected: " + ", ".join(f"{k} {v}" for k, v in
                                                     sorted(r["injected"].items())))
        if r["status"] != "succeeded":
            print(f"{'':<40} reason: {r['reason'][:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
