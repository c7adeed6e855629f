"""The same lab against moto's HTTP server (endpoint_url), as the sandbox and
LocalStack users reach it: real HTTP, real retries, presigned URLs that fetch."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ec2_support import FixedDialer, SshTestServer, leftovers, make_cloud, make_ctx, make_lab
from moto.server import ThreadedMotoServer

from stemcell.engine.events import ApiCall, Event
from stemcell.engine.runner import Runner
from stemcell.sandbox.moto_patches import apply_moto_fixes
from stemcell.steps import build_steps
from stemcell.steps.step_launch_roles import user_data


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    apply_moto_fixes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    from ec2_support import seed_ubuntu

    seed_ubuntu()
    yield f"http://{host}:{port}"
    server.stop()


def test_lab_over_http_endpoint(endpoint: str, tmp_path: Path) -> None:
    cloud = make_cloud(endpoint)
    ssh = SshTestServer(tmp_path / "guest", None)
    ctx = make_ctx(tmp_path, cloud, FixedDialer(ssh.address), lab=make_lab())
    ssh.key_file = ctx.run_dir / "ssh" / "id_ed25519.pub"
    events: list[Event] = []
    ctx.bus.subscribe(events.append)
    fetched: dict[str, bytes] = {}

    def after_setup2(e: Event) -> None:
        # While the role servers exist, the presigned URL in their user data must
        # fetch the bundle without credentials.
        if getattr(e, "step_id", "") == "setup2" and e.kind == "step_finished" \
                and not fetched:
            script = user_data(ctx, "web", 2)
            url = script.split("'")[1]
            assert "X-Amz-Signature=" in url
            with urllib.request.urlopen(url, timeout=10) as response:
                fetched["web"] = response.read()

    ctx.bus.subscribe(after_setup2)
    status = Runner(ctx, build_steps(ctx.lab)).run()
    assert status == "succeeded", ctx.state.reason
    assert fetched["web"][:2] == b"\x1f\x8b"  # a gzip stream: the bundle
    assert any(isinstance(e, ApiCall) for e in events)
    assert leftovers(cloud, ctx.run_id) == []
    # Presigned URLs are never written down.
    state_text = (ctx.run_dir / "state.json").read_text()
    assert "X-Amz-Signature" not in state_text
    assert not any("X-Amz-Signature" in str(e.to_dict()) for e in events)
    ssh.close()
