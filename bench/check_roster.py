"""Wall time to check 1 host and a roster of 20 hosts, and the ratio.

Runs an in-process sandbox, launches 20 web servers through its EC2 API (each
sets itself up with a boot script: Apache, the page), waits until they have
booted, then times the lab's web checks (SSH connect, every command, HTTP from
here and from inside) on 1 host and on all 20 with a pool of --jobs workers.
Target: 20 hosts in under 3 times the time of one. Figures are wall seconds on
this machine; the guests are simulated, the SSH and HTTP are real.

    /work/venv/bin/python bench/check_roster.py [--hosts 20] [--jobs 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "functional"))  # the shared fleet helper
os.environ.setdefault("STEMCELL_HOME", tempfile.mkdtemp(prefix="stemcell-bench-"))
for name, value in {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox",
                    "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ[name] = value  # the sandbox only: never a real account

import boto3  # noqa: E402
import checks_fleet as fleet  # noqa: E402
from botocore.config import Config  # noqa: E402

from stemcell.checks import CheckOptions, HostSpec, run_roster, select  # noqa: E402
from stemcell.checks.cloudfacts import CloudFacts  # noqa: E402
from stemcell.content import load_lab  # noqa: E402
from stemcell.content.shipped import shipped_dir  # noqa: E402
from stemcell.sandbox.loopback_dialer import SandboxDialer  # noqa: E402
from stemcell.sandbox.runtime import Sandbox  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--speed", type=float, default=300.0)
    args = parser.parse_args()

    lab = load_lab(shipped_dir("labs") / "lab1-stem-cell.yaml")
    plan = select(lab, [], "web")
    with Sandbox(args.speed) as sandbox:
        keys = sandbox.credentials  # the sandbox verifies SigV4 against its own key
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=sandbox.endpoint_url,
                           aws_access_key_id=keys.access_key_id,
                           aws_secret_access_key=keys.secret_access_key,
                           config=Config(max_pool_connections=64))
        key = Path(tempfile.mkdtemp()) / "ta_ed25519"
        ec2.import_key_pair(KeyName="ta", PublicKeyMaterial=fleet.write_key(key).encode())
        options = CheckOptions(dialer=SandboxDialer(sandbox.control_url, keys.control_token),
                               cloud=CloudFacts(ec2), key=key, deadline=60)
        started = time.monotonic()
        ids = fleet.launch(ec2, fleet.base_image(ec2), fleet.GOOD_WEB, args.hosts, "ta")
        fleet.wait_state(ec2, ids, "running")
        fleet.wait_booted(ids, options)
        print(f"setup: {args.hosts} sandbox web servers launched and booted in "
              f"{time.monotonic() - started:.1f} s wall (speed {args.speed:g}x, simulated)")
        hosts = [HostSpec(host=i, name=f"student{n:02d}", role="web") for n, i in enumerate(ids)]

        def timed(subset: list[HostSpec], jobs: int) -> float:
            t0 = time.monotonic()
            report = run_roster(subset, plan, options, jobs=jobs)
            took = time.monotonic() - t0
            if not report.ok:
                bad = next(h for h in report.hosts if not h.ok)
                raise SystemExit(f"a good host failed its checks: {bad.name} {bad.error}")
            return took

        timed(hosts[:1], 1)  # warm-up: imports, first connections, host keys pinned
        one = [timed([hosts[i % len(hosts)]], 1) for i in range(args.repeat)]
        many = [timed(hosts, args.jobs) for _ in range(args.repeat)]
    t1, tn = statistics.median(one), statistics.median(many)
    checks = len(plan)
    print(f"checks per host: {checks} (web role, lab1-stem-cell)")
    print(f"1 host:           {t1:.3f} s wall (median of {args.repeat}: "
          f"{', '.join(f'{x:.3f}' for x in one)})")
    print(f"{args.hosts} hosts, jobs={args.jobs}: {tn:.3f} s wall (median of {args.repeat}: "
          f"{', '.join(f'{x:.3f}' for x in many)})")
    ratio = tn / t1 if t1 else float("inf")
    verdict = "meets" if ratio < 3 else "misses"
    print(f"ratio {args.hosts}/1: {ratio:.2f}x ({verdict} the target of < 3x); "
          f"{args.hosts * checks / tn:.0f} checks/s")


if __name__ == "__main__":
    main()
