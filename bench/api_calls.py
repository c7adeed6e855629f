"""EC2 API calls of the lab's launch-and-wait, for 2, 10 and 50 instances (moto).

Instances report ``pending`` for BOOT modeled seconds after RunInstances returns
(edited into moto's replies through a botocore hook, as EC2 would answer), so
the wait takes several polling ticks. Prints DescribeInstances calls per tick
and the EC2 totals; with one DescribeInstances filtered by the run tag per
tick, calls per tick stay at 1 whatever the number of instances.

    /work/venv/bin/python bench/api_calls.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "functional"))

from ec2_support import make_cloud, make_ctx, make_lab, seed_ubuntu
from moto import mock_aws

from stemcell.cloud.poller import InstancePoller
from stemcell.engine.instance_records import role_servers
from stemcell.engine.runner import Runner
from stemcell.steps import (
    build_steps,
    launching,
)

BOOT = 30.0  # modeled seconds from RunInstances to running
SPEED = 20.0  # slow enough that a launch of 50 takes less than BOOT


def measure(n: int) -> dict[str, Any]:
    # A step launches at most 20 per role; --repeat multiplies (as the CLI does).
    per_role, repeat = (n // 2, 1) if n <= 40 else (n // 10, 5)
    steps = [
        {"id": "base", "title": "base", "kind": "find_base_image"},
        {"id": "key", "title": "key", "kind": "key_pair"},
        {"id": "sg", "title": "sg", "kind": "security_group"},
        {"id": "bundles", "title": "bundles", "kind": "upload_bundles"},
        {"id": "roles", "title": "roles", "kind": "launch_roles",
         "params": {"setup": 1, "roles": ["web", "app-api"], "count": per_role}},
    ]
    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        seed_ubuntu()
        cloud = make_cloud()
        ctx = make_ctx(Path(tmp), cloud, None, lab=make_lab(steps), speed=SPEED,
                       repeat=repeat)
        in_wait: dict[str, int] = {}

        waiting = {"on": False}

        def count(event: Any) -> None:
            if event.kind in ("step_started", "step_finished"):
                waiting["on"] = event.kind == "step_started" and event.step_id == "roles"
            if event.kind == "api_call" and waiting["on"]:
                key = f"{event.service}.{event.operation}"
                in_wait[key] = in_wait.get(key, 0) + 1

        ctx.bus.subscribe(count)

        def still_booting(parsed: dict[str, Any] | None = None, **kw: Any) -> None:
            # Booting counts from the last launch: moto takes seconds of wall time
            # to launch 50, and every size should wait through several ticks.
            marks = ctx.state.timings.get("instances", {}).values()
            returned = max((m["marks"].get("run_instances_returned", 0) for m in marks),
                           default=0)
            for reservation in (parsed or {}).get("Reservations", []):
                for inst in reservation["Instances"]:
                    if returned and ctx.clock.now() - returned < BOOT and \
                            inst["State"]["Name"] == "running":
                        inst["State"] = {"Code": 0, "Name": "pending"}

        cloud.ec2.meta.events.register("after-call.ec2.DescribeInstances", still_booting)
        pollers: list[InstancePoller] = []
        original = launching.wait_running

        def counting_wait(ctx: Any, ids: list[str], poller: Any = None) -> Any:
            poller = poller or InstancePoller(ctx)
            pollers.append(poller)
            return original(ctx, ids, poller)

        launching.wait_running = counting_wait  # type: ignore[assignment]
        import stemcell.steps.step_launch_roles as lr

        lr.wait_running = counting_wait  # type: ignore[assignment]
        before = dict(ctx.state.api_calls)
        try:
            status = Runner(ctx, build_steps(ctx.lab)).run()
        finally:
            launching.wait_running = original  # type: ignore[assignment]
            lr.wait_running = original  # type: ignore[assignment]
        assert status == "succeeded", ctx.state.reason
        calls = {k: v - before.get(k, 0) for k, v in ctx.state.api_calls.items()}
        launched = len(role_servers(ctx.state))
        ticks = sum(p.ticks for p in pollers)
        return {
            "n": launched,
            "ticks": ticks,
            "describe_per_tick": in_wait.get("ec2.DescribeInstances", 0) / max(ticks, 1),
            "describe_in_wait": in_wait.get("ec2.DescribeInstances", 0),
            "ec2_total": sum(v for k, v in calls.items() if k.startswith("ec2.")),
            "run_instances": calls.get("ec2.RunInstances", 0),
            "ec2_in_step": sum(v for k, v in in_wait.items() if k.startswith("ec2.")),
        }


def main() -> None:
    rows = [measure(n) for n in (2, 10, 50)]
    print(f"{'instances':>9} {'ticks':>6} {'DescribeInstances/tick':>23} "
          f"{'RunInstances':>12} {'EC2 in launch+wait':>19} {'EC2 whole run':>14}")
    for r in rows:
        print(f"{r['n']:>9} {r['ticks']:>6} {r['describe_per_tick']:>23.2f} "
              f"{r['run_instances']:>12} {r['ec2_in_step']:>19} {r['ec2_total']:>14}")
    base = rows[0]["describe_per_tick"]
    for r in rows[1:]:
        print(f"calls per tick, {r['n']} vs {rows[0]['n']} instances: "
              f"{r['describe_per_tick'] / base:.2f}x (instances: {r['n'] / rows[0]['n']:.0f}x)")
    print("(the whole run adds setup and cleanup calls; a per-instance "
          f"poller would make {rows[-1]['n']} DescribeInstance calls per tick at "
          f"{rows[-1]['n']} instances)")


if __name__ == "__main__":
    main()
