"""Regenerate the shipped reference recording: a complete Lab 1 run in the sandbox.

    python tools/reference_recording.py [--speed 20] [--profile apache-python]

Runs the lab headless in a fresh sandbox (throwaway STEMCELL_HOME), checks that
it succeeded and left nothing behind, and writes recordings/lab1-sandbox.jsonl
with its header marked as a SIMULATED run. Review it with
`stemcell replay recordings/lab1-sandbox.jsonl` (or `--headless`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTE = ("SIMULATED: a complete Lab 1 run in stemcell's offline sandbox. Times are modeled "
        "seconds from the sandbox's boot model, not measurements of real EC2 instances.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--profile", default="apache-python")
    parser.add_argument("--output", type=Path, default=ROOT / "recordings" / "lab1-sandbox.jsonl")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stemcell-reference-") as home:
        os.environ["STEMCELL_HOME"] = home
        from stemcell.engine.context import RunConfig
        from stemcell.engine.statuses import RunStatus
        from stemcell.session import prepare

        session = prepare(RunConfig(profile=args.profile, speed=args.speed))
        try:
            status = session.run()
            left = session.ctx.state.live_resources()
        finally:
            session.close()
        if status is not RunStatus.SUCCEEDED or left:
            print(f"run {status}, {len(left)} resource(s) left: {session.ctx.state.reason}",
                  file=sys.stderr)
            return 1
        lines = session.ctx.folder.recording.read_text().splitlines()
    header = json.loads(lines[0])
    header.update({"simulated": True, "note": NOTE, "speed": args.speed})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join([json.dumps(header, sort_keys=True), *lines[1:]]) + "\n")
    print(f"wrote {args.output} ({len(lines) - 1} events)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
