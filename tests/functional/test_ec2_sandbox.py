"""The steps against the real sandbox: moto server + simulated guests (real SSH).

The shipped lab and profile, through ``open_backend``: the bake runs over SSH on
a simulated guest, the TA key baked into the image is there on a server
launched from it, host keys are checked against the console fingerprints, and
nothing tagged remains.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ec2_support import leftovers

from stemcell.cloud.backend import Backend, open_backend
from stemcell.content import load_lab, load_profile
from stemcell.content.shipped import shipped_dir
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.events import Event, ImageState, SshOutput
from stemcell.engine.instance_records import role_servers
from stemcell.engine.runner import Runner
from stemcell.engine.state import RunState, StateStore
from stemcell.remote.reach import ssh_to
from stemcell.steps import build_steps

TA_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1nHZ9xUj0ysWZ0B3zfHv0t9qWQyQ3jz3v4q1mW8xP "
          "ta@course")
STEPS = ["base-image", "key-pair", "security-group", "builder", "install-stack", "ta-access",
         "stop-builder", "bake", "code-bundles", "launch-baked", "load-balancer", "cleanup"]


@pytest.fixture
def backend() -> Iterator[Backend]:
    opened = open_backend(RunConfig(backend="sandbox", speed=100.0))
    yield opened
    opened.close()


def test_lab_steps_in_the_sandbox(backend: Backend, tmp_path: Path) -> None:
    lab_path = shipped_dir("labs") / "lab1-stem-cell.yaml"
    profile_path = shipped_dir("profiles") / "apache-python.yaml"
    full = load_lab(lab_path)
    lab = full.model_copy(update={"steps": [s for s in full.steps if s.id in STEPS]})
    run_id = "20261128-020000-5a5a5a"
    run_dir = tmp_path / run_id
    ctx = Context(run_id=run_id, run_dir=run_dir, config=RunConfig(ta_keys=[TA_KEY]),
                  lab=lab, profile=load_profile(profile_path), profile_dir=profile_path.parent,
                  store=StateStore(run_dir / "state.json", RunState(run_id=run_id)))
    backend.attach(ctx)
    events: list[Event] = []
    ctx.bus.subscribe(events.append)
    seen: dict[str, str] = {}

    def look_inside(event: Event) -> None:
        # Once setup #2 runs, a server made from the image must let the TA in.
        if event.kind == "step_finished" and getattr(event, "step_id", "") == "launch-baked":
            iid, info = next(iter(role_servers(ctx.state).items()))
            with ssh_to(ctx, iid, info["public_ip"], info["private_ip"]) as ssh:
                _, out, _ = ssh.run("cat /home/ubuntu/.ssh/authorized_keys")
            seen["authorized_keys"] = out

    ctx.bus.subscribe(look_inside)
    status = Runner(ctx, build_steps(lab)).run()
    assert status == "succeeded", ctx.state.reason
    assert TA_KEY in seen["authorized_keys"]
    assert any(isinstance(e, SshOutput) for e in events)  # the bake streamed
    phases = [e.phase for e in events if isinstance(e, ImageState)]
    assert phases[0] == "stopping" and phases[-1] == "available"
    marks = ctx.state.timings["instances"]
    builder = marks[ctx.state.resources[[r.rtype for r in ctx.state.resources].index(
        "instance")].rid]["marks"]
    assert builder["run_instances_sent"] <= builder["running"] <= builder["ssh_accepting"]
    web = [i for i, v in role_servers(ctx.state).items() if v["role"] == "web"]
    assert "lb_healthy" in marks[web[0]]["marks"]
    assert leftovers(backend.cloud, run_id) == []
    assert ctx.state.api_calls["ec2.DescribeInstances"] > 0
