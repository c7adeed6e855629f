"""Choosing and ordering checks: prerequisites first, pulled in, cycles refused."""

from __future__ import annotations

import pytest

from stemcell.checks.plan import PlanError, PlannedCheck, order, select
from stemcell.content import load_lab
from stemcell.content.models import CheckSpec, Lab
from stemcell.content.shipped import shipped_dir


def c(cid: str, *depends: str, target: str = "any") -> CheckSpec:
    return CheckSpec(id=cid, kind="command", command="true", description=cid,
                     depends=list(depends), target=target)


def test_order_puts_prerequisites_first_and_keeps_written_order() -> None:
    planned = order([c("page", "apache"), c("apache", "package"), c("package"), c("other")])
    assert [p.id for p in planned] == ["package", "apache", "page", "other"]


def test_order_refuses_cycles_duplicates_and_unknown() -> None:
    with pytest.raises(PlanError, match="cycle: a -> b -> a"):
        order([c("a", "b"), c("b", "a")])
    with pytest.raises(PlanError, match="twice"):
        order([c("a"), c("a")])
    with pytest.raises(PlanError, match="not selected"):
        order([PlannedCheck(c("a", "ghost"))])


def lab1() -> Lab:
    return load_lab(shipped_dir("labs") / "lab1-stem-cell.yaml")


def test_select_pulls_in_prerequisites_from_other_steps() -> None:
    lab = lab1()
    planned = select(lab, ["launch-baked"], "web")
    ids = [p.id for p in planned]
    # web-page-local needs apache-running, which lives in the install-stack step.
    assert ids.index("apache-installed") < ids.index("apache-running") < ids.index("web-page-local")
    assert {"web-page-file", "web-page-mode", "web-page-public"} <= set(ids)
    assert "worker-running" not in ids
    steps = {p.id: p.step_id for p in planned}
    assert steps["apache-running"] == "install-stack" and steps["web-page-local"] == "launch-baked"


def test_select_without_role_runs_only_checks_for_any_server() -> None:
    planned = select(lab1(), [], None)
    assert all(p.spec.target == "any" for p in planned)
    assert "worker-running" in [p.id for p in select(lab1(), [], "app-worker")]


def test_select_unknown_step_names_the_choices() -> None:
    with pytest.raises(PlanError, match=r"unknown step nope .*install-stack"):
        select(lab1(), ["nope"])


def test_run_hosts_turn_a_runs_role_servers_into_hosts() -> None:
    from pathlib import Path

    from stemcell.checks.student import run_hosts
    from stemcell.engine.instance_records import set_addresses, track
    from stemcell.engine.state import RunState

    state = RunState(run_id="r1", bag={"key_path": "/runs/r1/ssh/id_ed25519",
                                       "image_id": "ami-0123456789abcdef0"})
    track(state, "i-0b", "web", "2", "ami-0123456789abcdef0")
    track(state, "i-0a", "web", "1", "ami-0base")
    track(state, "i-0c", "web", "2", "ami-0123456789abcdef0")  # launched, not running yet
    track(state, "i-0d", "builder", "builder", "ami-0base")
    for iid in ("i-0a", "i-0b", "i-0d"):
        set_addresses(state, iid, "198.51.100.7", "172.31.0.7")
    (baked,) = run_hosts(state)
    assert (baked.host, baked.role, baked.ami, baked.key) == (
        "i-0b", "web", "ami-0123456789abcdef0", Path("/runs/r1/ssh/id_ed25519"))
    both = run_hosts(state, setup=None)
    assert [h.host for h in both] == ["i-0a", "i-0b"] and both[0].ami is None


def test_a_run_folder_from_before_still_names_its_role_servers() -> None:
    """Older state files kept the role servers in bag["instances"] too."""
    from stemcell.checks.student import run_hosts
    from stemcell.engine.instance_records import role_servers
    from stemcell.engine.state import RunState

    state = RunState.from_dict({
        "run_id": "r1",
        "bag": {"instances": {
            "i-0b": {"role": "web", "setup": "2", "image_id": "ami-1",
                     "public_ip": "198.51.100.7", "private_ip": "172.31.0.7"},
            "i-0e": {"role": "app-api", "setup": "1", "image_id": "ami-0",
                     "public_ip": "", "private_ip": "172.31.0.9"}}},
        "timings": {"instances": {
            "i-0b": {"role": "web", "setup": "2", "image_id": "ami-1", "marks": {}},
            "i-0z": {"role": "builder", "setup": "builder", "image_id": "ami-0", "marks": {}}}},
    })
    servers = role_servers(state)
    assert sorted(servers) == ["i-0b", "i-0e"]
    assert servers["i-0b"]["private_ip"] == "172.31.0.7"
    assert [h.host for h in run_hosts(state, setup=None)] == ["i-0b", "i-0e"]
