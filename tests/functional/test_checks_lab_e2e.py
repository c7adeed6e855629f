"""The lab's checks on the servers the lab itself builds (whole Lab 1 in the sandbox).

Setup #2 servers (from the baked stem cell image) pass every check of their
role, the cloud facts included; setup #1 servers (Canonical's image, everything
installed at boot) fail exactly one: the stem cell marker.
"""

from __future__ import annotations

import pytest

from stemcell.checks import Status, run_hosts, run_options, run_roster, select
from stemcell.engine.context import RunConfig

pytestmark = pytest.mark.e2e

try:
    from stemcell.session import prepare
except ImportError as exc:  # the lead's session module
    pytest.skip(f"stemcell.session not available: {exc}", allow_module_level=True)


def test_lab_servers_pass_their_checks() -> None:
    session = prepare(RunConfig(speed=300, keep=True, yes=True))
    try:
        status = session.run()
        assert status == "succeeded"
        ctx = session.ctx
        options = run_options(ctx, deadline=30)

        def plan(host):  # type: ignore[no-untyped-def]
            return select(ctx.lab, [], host.role)

        baked = run_roster(run_hosts(ctx.state, setup="2"), plan, options)
        assert {h.name.split(" ")[0] for h in baked.hosts} == {"web", "app-api", "app-worker"}
        for host in baked.hosts:
            not_passed = {r.check_id: r.status for r in host.results
                          if r.status is not Status.PASSED}
            # Sharing is optional in the lab and no course account is configured.
            assert not_passed == {"image-shared": Status.SKIPPED}, (host.name, not_passed)
        worker = next(h for h in baked.hosts if h.name.startswith("app-worker"))
        assert "worker-running" in {r.check_id for r in worker.results}

        base = run_roster(run_hosts(ctx.state, setup="1"), plan, options)
        for host in base.hosts:
            failed = {r.check_id for r in host.results if r.status is Status.FAILED}
            assert failed == {"stem-cell-marker"}, (host.name, failed)
    finally:
        session.close()
