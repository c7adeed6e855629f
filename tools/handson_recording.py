"""Record a hands-on Lab 1 run: a scripted student types every printed command.

    python tools/handson_recording.py [--speed 40] [--output recordings/lab1-handson.jsonl]

Starts a background sandbox in a throwaway STEMCELL_HOME, runs
`stemcell run --hands-on --json`, and for each step object types its commands in
bash with the real AWS CLI and ssh (the AWS CLI must be on PATH: the test extras
install it). At the security group it first makes the classic mistake (SSH open
to 0.0.0.0/0), waits for stemcell's hint, then fixes it, so the recording shows
a failing check too. Writes the run's recording with its header marked SIMULATED;
tools/screenshots.py shoots the hands-on view from it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from stemcell.engine.run_folder import RunFolder
from stemcell.engine.statuses import RunStatus

ROOT = Path(__file__).resolve().parents[1]
NOTE = ("SIMULATED: a hands-on Lab 1 run in stemcell's offline sandbox, the student's "
        "commands typed by tools/handson_recording.py. Times are modeled seconds.")


def stemcell(home: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stemcell", *args], text=True,
                          capture_output=True, env=dict(os.environ, STEMCELL_HOME=home),
                          timeout=300)


def type_in(command: str, env: dict[str, str]) -> None:
    done = subprocess.run(["bash", "-c", command], env=env, text=True, capture_output=True,
                          timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"$ {command}\n{done.stderr[-1000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=40.0)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "recordings" / "lab1-handson.jsonl")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stemcell-handson-") as home:
        started = stemcell(home, "sandbox", "start", "--speed", str(args.speed), "--json")
        if started.returncode != 0:
            print(started.stderr, file=sys.stderr)
            return 1
        sandbox: dict[str, Any] = json.loads(started.stdout)
        try:
            summary = play(home, sandbox)
        finally:
            stemcell(home, "sandbox", "stop")
        if summary.get("status") != RunStatus.SUCCEEDED:
            print(f"run {summary.get('status')}: {summary.get('reason')}", file=sys.stderr)
            return 1
        lines = RunFolder(Path(summary["run_dir"])).recording.read_text().splitlines()
    header = json.loads(lines[0])
    header.update({"simulated": True, "note": NOTE, "speed": args.speed, "hands_on": True})
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text("\n".join([json.dumps(header, sort_keys=True), *lines[1:]]) + "\n")
    print(f"wrote {args.output} ({len(lines) - 1} events)")
    return 0


def play(home: str, sandbox: dict[str, Any]) -> dict[str, Any]:
    # The student's shell: exactly what `eval "$(stemcell sandbox env)"` gives.
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base.update({"STEMCELL_HOME": home, "PATH": str(Path(sys.executable).parent) + os.pathsep
                 + os.environ.get("PATH", "")})
    shown = subprocess.run(["bash", "-c", 'eval "$(stemcell sandbox env)" && env -0'],
                           env=base, capture_output=True, text=True, timeout=60, check=True)
    env = dict(item.split("=", 1) for item in shown.stdout.split("\0") if "=" in item)
    env["AWS_PAGER"] = ""
    assert env["AWS_ENDPOINT_URL"] == sandbox["endpoint_url"]
    proc = subprocess.Popen([sys.executable, "-m", "stemcell", "run", "--hands-on", "--json"],
                            env=dict(os.environ, STEMCELL_HOME=home), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    errors: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    err = proc.stderr
    threading.Thread(target=lambda: errors.extend(err), daemon=True).start()
    try:
        for line in proc.stdout:
            obj = json.loads(line)
            if "step" not in obj:
                proc.wait(timeout=300)
                return dict(obj)
            commands = list(obj["commands"])
            if obj["step"] == "security-group":
                type_in(commands[0], env)
                type_in(commands[1].replace("127.0.0.1/32", "0.0.0.0/0"), env)
                deadline = time.monotonic() + 120
                while "port 22 is also open to 0.0.0.0/0" not in "".join(errors):
                    if time.monotonic() > deadline:
                        raise SystemExit("no hint for SSH open to the world")
                    time.sleep(0.1)
                name = commands[0].split("--group-name ")[1].split()[0]
                commands = [f"aws ec2 revoke-security-group-ingress --group-name {name} "
                            "--protocol tcp --port 22 --cidr 0.0.0.0/0",
                            f"aws ec2 authorize-security-group-ingress --group-name {name} "
                            "--protocol tcp --port 22 --cidr 127.0.0.1/32"]
            for command in commands:
                type_in(command, env)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=300)
    return {"status": "no summary", "reason": "".join(errors[-20:])}


if __name__ == "__main__":
    raise SystemExit(main())
