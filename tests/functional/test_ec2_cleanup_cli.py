"""``stemcell cleanup`` against moto's server through AWS_ENDPOINT_URL (--backend aws)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from ec2_support import leftovers, make_cloud, make_ctx, make_lab, seed_ubuntu
from moto.server import ThreadedMotoServer

from stemcell.cli import main
from stemcell.engine.runner import Runner
from stemcell.sandbox.moto_patches import apply_moto_fixes
from stemcell.steps import build_steps

KEEP_STEPS = ["base", "key", "sg", "builder", "bundles"]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    apply_moto_fixes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    seed_ubuntu()
    yield f"http://{host}:{port}"
    server.stop()


def _kept_run(home: Path, endpoint: str, run_suffix: str) -> tuple[str, object]:
    cloud = make_cloud(endpoint)
    lab = make_lab([s.model_dump() for s in make_lab().steps if s.id in KEEP_STEPS])
    ctx = make_ctx(home, cloud, None, lab=lab, keep=True, backend="aws")
    ctx.run_id = ctx.state.run_id = f"20261128-000000-{run_suffix}"
    ctx.run_dir = home / "runs" / ctx.run_id
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    ctx.store.path = ctx.run_dir / "state.json"
    ctx.state.config = ctx.config.to_dict()
    assert Runner(ctx, build_steps(lab)).run() == "succeeded", ctx.state.reason
    return ctx.run_id, cloud


def test_dry_run_then_by_run_then_all(endpoint: str, _isolated: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    home = Path(os.environ["STEMCELL_HOME"])
    first, cloud = _kept_run(home, endpoint, "aaaaaa")
    second, _ = _kept_run(home, endpoint, "bbbbbb")
    assert len(leftovers(cloud, first)) == 4  # instance, security group, key pair, bucket
    cli = CliRunner()

    listed = cli.invoke(main, ["cleanup", "--all", "--dry-run", "--backend", "aws"])
    assert listed.exit_code == 0, listed.output
    assert "8 resource(s) to delete" in listed.output and "dry run" in listed.output
    assert len(leftovers(cloud, first)) == 4

    declined = cli.invoke(main, ["cleanup", "--run", first], input="n\n")
    assert declined.exit_code == 1 and "nothing deleted" in declined.output

    done = cli.invoke(main, ["cleanup", "--run", first, "--yes"])
    assert done.exit_code == 0, done.output
    assert "all clean" in done.output
    assert leftovers(cloud, first) == [] and len(leftovers(cloud, second)) == 4

    # The second run's state file is lost: --all finds its resources by tag alone.
    (home / "runs" / second / "state.json").unlink()
    swept = cli.invoke(main, ["cleanup", "--all", "--yes", "--backend", "aws"])
    assert swept.exit_code == 0, swept.output
    assert leftovers(cloud, second) == []
    again = cli.invoke(main, ["cleanup", "--all", "--backend", "aws"])
    assert again.exit_code == 0 and "nothing to clean up" in again.output


def test_usage_errors(endpoint: str) -> None:
    cli = CliRunner()
    assert cli.invoke(main, ["cleanup"]).exit_code == 2
    assert cli.invoke(main, ["cleanup", "--run", "x", "--all"]).exit_code == 2


def test_missing_credentials_is_exit_2_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an IMDS
    result = CliRunner().invoke(main, ["cleanup", "--all", "--backend", "aws"])
    assert result.exit_code == 2
    assert "no AWS credentials found" in result.output
    assert "aws configure" in result.output and "--backend sandbox" in result.output
    assert "Traceback" not in result.output


def test_run_on_aws_shows_the_cost_and_launches_nothing_without_a_yes(
    endpoint: str, _isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint)
    before = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}
    keys_before = {k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]}
    result = CliRunner().invoke(main, ["run", "--backend", "aws", "--ssh-cidr",
                                       "203.0.113.7/32"])
    assert result.exit_code == 2, result.output
    assert "estimated total: $" in result.output
    assert "t3.micro" in result.output
    assert "confirm the cost at a terminal or pass --yes" in result.output
    after = {i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
             for i in r["Instances"]}
    assert after == before
    assert {k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]} == keys_before
    assert not list((_isolated / "runs").glob("*")), "a run that never ran is not kept"


def test_all_takes_only_the_callers_resources_of_runs_no_process_holds(
        endpoint: str, _isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12: --all once broke a lab running in another terminal."""
    import json

    from stemcell.engine import run_lock
    from stemcell.engine.run_folder import RunFolder

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    home = Path(os.environ["STEMCELL_HOME"])
    mine, cloud = _kept_run(home, endpoint, "cccccc")
    busy, _ = _kept_run(home, endpoint, "dddddd")
    # A classmate in the same account made this group (the owner tag says who).
    group = next(r.split()[1] for r in leftovers(cloud, mine) if r.startswith("security_group"))
    cloud.ec2.create_tags(Resources=[group], Tags=[
        {"Key": "stemcell:owner", "Value": "arn:aws:iam::123456789012:user/classmate"}])
    cli = CliRunner()
    with run_lock.hold(RunFolder(home / "runs" / busy)):  # the other run is still running
        listed = cli.invoke(main, ["cleanup", "--all", "--dry-run", "--backend", "aws"])
        assert listed.exit_code == 0, listed.output
        assert "3 resource(s) to delete" in listed.output
        assert "--any-owner would add them" in listed.output and group in listed.output
        assert "--include-live would add them" in listed.output
        done = cli.invoke(main, ["cleanup", "--all", "--yes", "--backend", "aws"])
        assert done.exit_code == 0, done.output
        assert leftovers(cloud, mine) == [f"security_group {group}"]
        assert len(leftovers(cloud, busy)) == 4
    wide = cli.invoke(main, ["cleanup", "--all", "--any-owner", "--yes", "--backend", "aws"])
    assert wide.exit_code == 0, wide.output
    assert leftovers(cloud, mine) == [] and leftovers(cloud, busy) == []
    # The runs' own ledgers know: `runs` no longer lists leftovers --all removed.
    listed_runs = json.loads(cli.invoke(main, ["runs", "--json"]).output)
    assert {r["run_id"]: r["live_resources"] for r in listed_runs
            if r["run_id"] in (mine, busy)} == {mine: 0, busy: 0}
    assert cli.invoke(main, ["cleanup", "--run", mine, "--any-owner"]).exit_code == 2


def test_runs_shows_dead_runs_interrupted_and_a_bad_file_on_its_own_line(
        _isolated: Path) -> None:
    import json

    home = Path(os.environ["STEMCELL_HOME"])
    for run_id, body in (("20261130-000000-aaaaaa", {"run_id": "20261130-000000-aaaaaa",
                                                      "status": "running", "version": 1}),
                         ("20261130-000000-bbbbbb", {"run_id": "x", "steps": [1, 2],
                                                      "version": 1})):
        (home / "runs" / run_id).mkdir(parents=True)
        (home / "runs" / run_id / "state.json").write_text(json.dumps(body))
    result = CliRunner().invoke(main, ["runs"])
    assert result.exit_code == 0, result.output
    assert "interrupted" in result.output
    assert "unreadable" in result.output and "run state is corrupt" in result.output
