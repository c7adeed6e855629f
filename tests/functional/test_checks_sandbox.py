"""The lab's checks against real sandbox guests (simulated Ubuntu, real SSH/HTTP).

Servers are launched through the sandbox's EC2 API and set themselves up with
boot scripts: a correct web server passes every check; broken ones fail
exactly the expected checks, with their hints, and dependents are skipped. A
roster of 20 hosts, two unreachable, is reported right for all 20; the pass-off
(`--launch`) launches a baked image, checks it and terminates it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import checks_fleet as fleet
import pytest
from click.testing import CliRunner

from stemcell import paths
from stemcell.checks import CheckOptions, HostSpec, Status, run_checks, run_roster, select
from stemcell.checks.cloudfacts import CloudFacts
from stemcell.checks.launch_and_check import launch_and_check
from stemcell.content import load_lab
from stemcell.content.shipped import shipped_dir
from stemcell.sandbox.faults import FaultSpec

try:
    from stemcell.sandbox.machine import Guest  # noqa: F401
    from stemcell.sandbox.runtime import Sandbox
except ImportError as exc:  # the simulated guest is being written in parallel
    pytest.skip(f"sandbox guest not available yet: {exc}", allow_module_level=True)

LAB = load_lab(shipped_dir("labs") / "lab1-stem-cell.yaml")
WEB = select(LAB, [], "web")
SPEED = 300.0


@dataclass
class World:
    sandbox: Any
    ec2: Any
    key: Path
    key_name: str
    base: str
    options: CheckOptions


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("checks-home")
    sandbox = Sandbox(SPEED, faults=FaultSpec(not_found=0)).start()  # raw clients
    try:
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=sandbox.endpoint_url,
                           aws_access_key_id=sandbox.credentials.access_key_id,
                           aws_secret_access_key=sandbox.credentials.secret_access_key)
        key = home / "ta_ed25519"
        ec2.import_key_pair(KeyName="ta", PublicKeyMaterial=fleet.write_key(key).encode())
        from stemcell.sandbox.loopback_dialer import SandboxDialer

        dialer = SandboxDialer(sandbox.control_url, sandbox.credentials.control_token)
        options = CheckOptions(dialer=dialer, cloud=CloudFacts(ec2),
                               key=key, deadline=60)
        yield World(sandbox, ec2, key, "ta", fleet.base_image(ec2), options)
    finally:
        sandbox.close()


def boot(world: World, script: str, count: int = 1) -> list[str]:
    ids = fleet.launch(world.ec2, world.base, script, count, world.key_name)
    fleet.wait_state(world.ec2, ids, "running")
    fleet.wait_booted(ids, world.options)
    return ids


@pytest.fixture(scope="module")
def servers(world: World) -> dict[str, str]:
    good, broken, private = (boot(world, s)[0] for s in
                             (fleet.GOOD_WEB, fleet.BROKEN_WEB, fleet.PRIVATE_PAGE_WEB))
    return {"good": good, "broken": broken, "private": private}


def statuses(report: Any) -> dict[str, Status]:
    return {r.check_id: r.status for r in report.results}


HOST_CHECKS = {p.id for p in WEB if p.spec.kind not in ("image", "instance")}


def test_a_correct_server_passes_every_check(world: World, servers: dict[str, str]) -> None:
    report = run_checks(WEB, HostSpec(host=servers["good"], role="web"), world.options)
    got = statuses(report)
    assert {c: got[c] for c in HOST_CHECKS} == dict.fromkeys(HOST_CHECKS, Status.PASSED), [
        (r.check_id, r.cause) for r in report.results if r.status is not Status.PASSED]
    public = next(r for r in report.results if r.check_id == "web-page-public")
    assert public.exchanges[0].where == "checker" and "HTTP 200" in public.exchanges[0].stdout
    # No AMI named: the cloud checks say why they did not run, and do not fail the host.
    assert got["image-available"] is Status.SKIPPED
    assert report.ok


def test_a_broken_server_fails_exactly_the_expected_checks(
    world: World, servers: dict[str, str],
) -> None:
    report = run_checks(WEB, HostSpec(host=servers["broken"], role="web"), world.options)
    got = statuses(report)
    failed = {c for c, s in got.items() if s is Status.FAILED}
    assert failed == {"apache-running", "web-page-file", "ssh-dir-private"}
    skipped = {c for c, s in got.items() if s is Status.SKIPPED and c in HOST_CHECKS}
    assert skipped == {"http-port-open", "web-page-mode", "web-page-local", "web-page-public",
                       "authorized-keys-private"}
    assert {c for c, s in got.items() if s is Status.PASSED} == {
        "apache-installed", "apache-enabled", "stem-cell-marker", "boot-script-done"}
    causes = {r.check_id: r.cause for r in report.results}
    assert causes["apache-running"].help.startswith("Start it with `sudo systemctl start")
    assert causes["apache-running"].actual == "inactive"
    assert causes["ssh-dir-private"].actual.endswith("mode 755, owner ubuntu:ubuntu")
    assert causes["web-page-file"].actual == "/var/www/html/index.html does not exist"
    assert "apache-running failed" in causes["web-page-local"].rationale


def test_a_page_apache_cannot_read_fails_the_mode_check(
    world: World, servers: dict[str, str],
) -> None:
    report = run_checks(WEB, HostSpec(host=servers["private"], role="web"), world.options)
    got = statuses(report)
    assert {c for c, s in got.items() if s is Status.FAILED} == {"web-page-mode"}
    mode = next(r for r in report.results if r.check_id == "web-page-mode")
    assert mode.cause is not None and "mode is 600, not 644" in mode.cause.rationale
    assert mode.log[-3].startswith("$ ls -ld /var/www/html/index.html")
    assert got["web-page-local"] is Status.SKIPPED and got["web-page-public"] is Status.SKIPPED


def test_cloud_checks_know_a_canonical_image_is_not_the_students(
    world: World, servers: dict[str, str],
) -> None:
    host = HostSpec(host=servers["good"], role="web", ami=world.base)
    report = run_checks([p for p in WEB if p.spec.kind in ("image", "instance")], host,
                        world.options)
    got = statuses(report)
    assert got["image-available"] is Status.FAILED
    assert got["launched-from-image"] is Status.SKIPPED
    image = next(r for r in report.results if r.check_id == "image-available")
    assert image.exchanges[0].where == "cloud"
    assert "Canonical's public image" in (image.cause.rationale if image.cause else "")


def test_roster_of_20_with_two_unreachable(world: World, servers: dict[str, str]) -> None:
    ids = boot(world, fleet.GOOD_WEB, count=17)
    world.ec2.stop_instances(InstanceIds=[ids[-1]])  # answers nothing once stopped
    fleet.wait_state(world.ec2, [ids[-1]], "stopped")
    hosts = [HostSpec(host=i, name=f"student{n:02d}", role="web") for n, i in enumerate(ids)]
    hosts += [HostSpec(host=servers["good"], name="student17", role="web"),
              HostSpec(host=servers["broken"], name="student18", role="web"),
              HostSpec(host="i-0000000000deadbee", name="student19", role="web")]
    assert len(hosts) == 20
    options = replace(world.options, deadline=4)
    heard: list[str] = []
    report = run_roster(hosts, WEB, options, jobs=10,
                        on_host_finished=lambda spec, _: heard.append(spec.name))
    by_name = {h.name: h for h in report.hosts}
    assert [h.name for h in report.hosts] == [h.name for h in hosts]
    assert sorted(heard) == sorted(by_name)
    unreachable = {n for n, h in by_name.items() if not h.reachable}
    assert unreachable == {"student16", "student19"}
    assert "no instance i-0000000000deadbee" in by_name["student19"].error
    assert "did not accept SSH within 4 s" in by_name["student16"].error
    for name in unreachable:
        host_results = [r for r in by_name[name].results if r.check_id in HOST_CHECKS]
        assert {r.status for r in host_results} == {Status.UNREACHABLE}
    ok = {n for n, h in by_name.items() if h.ok}
    assert ok == {f"student{n:02d}" for n in range(16)} | {"student17"}
    assert not by_name["student18"].ok and by_name["student18"].reachable


def test_launch_pass_off_checks_a_baked_image_and_terminates(
    world: World, servers: dict[str, str],
) -> None:
    # The student's stem cell: the good server's disk, baked into an AMI.
    image_id = world.ec2.create_image(InstanceId=servers["good"], Name="student-stem-cell",
                                      NoReboot=True)["ImageId"]
    fleet.wait_image(world.ec2, image_id)
    cloud = type("Cloud", (), {"ec2": world.ec2})()
    lines: list[str] = []
    report = launch_and_check(cloud, image_id, fleet.BAKED_WEB_BOOT, WEB, world.options,
                              host=HostSpec(host="", role="web"), poll=0.1, say=lines.append)
    (host,) = report.hosts
    got = statuses(host)
    assert got["image-available"] is Status.PASSED
    assert got["launched-from-image"] is Status.PASSED
    assert got["web-page-public"] is Status.PASSED
    assert host.ok, [(r.check_id, r.cause) for r in host.results if r.status is not Status.PASSED]
    launched = host.host
    assert lines[0].startswith(f"launched {launched} from {image_id}")
    assert lines[-1] == f"terminated {launched}"
    assert fleet.states(world.ec2, [launched])[launched] in ("shutting-down", "terminated")


class _Recording:
    """The EC2 client, recording RunInstances and failing TerminateInstances on demand
    (as a killed checker would never terminate)."""

    def __init__(self, ec2: Any, fail_terminate: bool) -> None:
        self._ec2, self._fail = ec2, fail_terminate
        self.launched: list[dict[str, Any]] = []

    def run_instances(self, **kwargs: Any) -> Any:
        self.launched.append(kwargs)
        return self._ec2.run_instances(**kwargs)

    def terminate_instances(self, **kwargs: Any) -> Any:
        if self._fail:
            raise RuntimeError("the checker died here")
        return self._ec2.terminate_instances(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ec2, name)


def test_launch_keeps_runs_safe_defaults_and_cleanup_all_finds_it(
    world: World, servers: dict[str, str],
) -> None:
    from stemcell.cloud import leftovers
    from stemcell.engine.errors import ConfigError

    image_id = world.ec2.create_image(InstanceId=servers["good"], Name="safe-defaults",
                                      NoReboot=True)["ImageId"]
    fleet.wait_image(world.ec2, image_id)
    ec2 = _Recording(world.ec2, fail_terminate=True)
    cloud = type("Cloud", (), {"ec2": ec2})()
    launch_and_check(cloud, image_id, fleet.BAKED_WEB_BOOT, WEB[:1], world.options,
                     host=HostSpec(host="", role="web"), poll=0.1, lab=LAB.id)
    (params,) = ec2.launched
    assert params["MetadataOptions"]["HttpTokens"] == "required"  # IMDSv2 only
    (root,) = params["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True and root["Ebs"]["VolumeType"] == "gp3"
    specs = {s["ResourceType"]: {t["Key"]: t["Value"] for t in s["Tags"]}
             for s in params["TagSpecifications"]}
    assert set(specs) == {"instance", "volume"}
    run_tag = specs["instance"]["stemcell:run"]
    assert run_tag.startswith("check-") and specs["volume"]["stemcell:run"] == run_tag
    assert paths.check_run_id(run_tag) == run_tag  # `cleanup --run` accepts it
    # The checker "died" before terminating: `cleanup --all` finds what it launched.
    clients = {name: boto3.client(name, region_name="us-east-1",
                                  endpoint_url=world.sandbox.endpoint_url,
                                  aws_access_key_id=world.sandbox.credentials.access_key_id,
                                  aws_secret_access_key=world.sandbox.credentials
                                  .secret_access_key)
               for name in ("s3", "elbv2")}
    account = type("Cloud", (), {"ec2": world.ec2, **clients})()
    found = [r for r in leftovers.find(account) if r.rtype == "instance"]
    assert [r.step_id for r in found if r.step_id == run_tag] == [run_tag]
    world.ec2.terminate_instances(InstanceIds=[r.rid for r in found if r.step_id == run_tag])

    # The run's allowlist holds here too.
    with pytest.raises(ConfigError, match="not allowed"):
        launch_and_check(cloud, image_id, "", WEB, world.options,
                         host=HostSpec(host=""), instance_type="m5.24xlarge")
    assert len(ec2.launched) == 1


def test_launch_on_aws_confirms_the_cost_first() -> None:
    from stemcell.checks.launch_and_check import confirm_cost
    from stemcell.engine.errors import ConfigError, Interrupted

    asked: list[str] = []
    with pytest.raises(Interrupted):
        confirm_cost("aws", "us-east-1", False, lambda q: asked.append(q) or False)("t3.micro")
    assert "t3.micro" in asked[0] and "$" in asked[0]
    with pytest.raises(ConfigError, match="--yes"):  # nobody to ask, no --yes
        confirm_cost("aws", "us-east-1", False, None)("t3.micro")
    confirm_cost("aws", "us-east-1", True, None)("t3.micro")  # --yes
    confirm_cost("sandbox", "us-east-1", False, None)("t3.micro")  # nothing to pay


def test_cli_checks_a_sandbox_guest_by_instance_id(
    world: World, servers: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from stemcell.checks import targets
    from stemcell.cli import main

    running = targets.RunningSandbox(world.options.dialer, world.sandbox.endpoint_url,  # type: ignore[arg-type]
                                     world.sandbox.credentials)
    monkeypatch.setattr("stemcell.cli.cmd_check.running_sandbox", lambda: running)
    args = ["check", "--host", servers["broken"], "--key", str(world.key), "--role", "web",
            "--format", "json", "--deadline", "30"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    results = {r["name"]: r for r in data["hosts"][0]["results"]}
    assert results["apache-running"]["passed"] is False
    assert results["web-page-local"]["passed"] is None
    assert results["apache-installed"]["passed"] is True


def test_cli_roster_and_launch_reports(
    world: World, servers: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from lxml import etree

    from stemcell.checks import targets
    from stemcell.cli import main
    from stemcell.sandbox import connect

    running = targets.RunningSandbox(world.options.dialer, world.sandbox.endpoint_url,  # type: ignore[arg-type]
                                     world.sandbox.credentials)
    monkeypatch.setattr("stemcell.cli.cmd_check.running_sandbox", lambda: running)
    handle = connect.SandboxHandle(world.sandbox.endpoint_url, world.sandbox.control_url,
                                   world.sandbox.credentials,
                                   world.sandbox.clock, world.options.dialer,  # type: ignore[arg-type]
                                   world.sandbox.speed, background=True)
    monkeypatch.setattr(connect, "connect_or_start", lambda speed=None, faults="": handle)
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "ta").write_bytes(world.key.read_bytes())
    (tmp_path / "keys" / "ta").chmod(0o600)
    roster = tmp_path / "class.yaml"
    roster.write_text(f"hosts:\n  - {{student: ada, host: {servers['good']}, key: keys/ta}}\n"
                      f"  - {{student: bob, host: {servers['broken']}, key: keys/ta}}\n")
    runner = CliRunner()
    page = tmp_path / "class.html"
    result = runner.invoke(main, ["check", "--roster", str(roster), "--role", "web",
                                  "--format", "html", "--output", str(page)])
    assert result.exit_code == 1, result.output
    html = page.read_text()
    assert "ada" in html and "bob" in html and "Start it with" in html

    image_id = world.ec2.create_image(InstanceId=servers["good"], Name="cli-pass-off",
                                      NoReboot=True)["ImageId"]
    fleet.wait_image(world.ec2, image_id)
    boot = tmp_path / "boot.sh"
    boot.write_text(fleet.BAKED_WEB_BOOT)
    xml = tmp_path / "pass-off.xml"
    result = runner.invoke(main, ["check", "--launch", image_id, "--user-data", str(boot),
                                  "--key", str(world.key), "--role", "web", "--format", "junit",
                                  "--output", str(xml), "--deadline", "60"])
    assert result.exit_code == 0, result.output
    schema = etree.XMLSchema(etree.parse(str(Path(__file__).parents[1] / "data" /
                                             "junit-jenkins.xsd")))
    doc = etree.parse(str(xml))
    schema.assertValid(doc)
    suite = doc.getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("errors") == "0"
    assert "terminated" in result.output


def test_cli_finds_a_background_sandbox_by_public_address(tmp_path: Path) -> None:
    """No wiring at all: `stemcell check --host PUBLIC_IP` finds the daemon's guest."""
    from stemcell.cli import main

    runner = CliRunner()
    started = runner.invoke(main, ["sandbox", "start", "--speed", str(SPEED)])
    assert started.exit_code == 0, started.output
    try:
        from stemcell.sandbox.info import read_info

        info = read_info()
        assert info is not None and info.credentials is not None
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=info.endpoint_url,
                           aws_access_key_id=info.credentials.access_key_id,
                           aws_secret_access_key=info.credentials.secret_access_key)
        key = tmp_path / "ta"
        ec2.import_key_pair(KeyName="ta", PublicKeyMaterial=fleet.write_key(key).encode())
        (iid,) = fleet.launch(ec2, fleet.base_image(ec2), fleet.GOOD_WEB, 1, "ta")
        fleet.wait_state(ec2, [iid], "running")
        address = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0][
            "PublicIpAddress"]
        result = runner.invoke(main, ["check", "--host", address, "--key", str(key),
                                      "--step", "install-stack", "--format", "json",
                                      "--deadline", "30"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        (host,) = data["hosts"]
        assert host["ok"] and host["address"].startswith("127.0.0.1:")
        assert {r["passed"] for r in host["results"]} == {True}
    finally:
        runner.invoke(main, ["sandbox", "stop"])


async def test_the_roster_screen_fills_in_live(world: World, servers: dict[str, str]) -> None:
    """`stemcell check --roster FILE --tui`: a row per student, failures with their hints."""
    from textual.widgets import DataTable

    from stemcell.tui.roster_view import RosterApp

    hosts = [HostSpec(host=servers["good"], name="alice", role="web"),
             HostSpec(host=servers["broken"], name="bob", role="web"),
             HostSpec(host="i-0000000000deadbee", name="carol", role="web")]
    app = RosterApp(hosts, lambda _h: WEB, replace(world.options, deadline=4), jobs=3,
                    source="class.csv")
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one("#roster-hosts", DataTable)
        assert [str(table.get_cell(str(n), "student")) for n in range(3)] == \
            ["alice", "bob", "carol"]
        for _ in range(600):
            if app.report is not None:
                break
            await pilot.pause(0.05)
        assert app.report is not None
        states = [str(table.get_cell(str(n), "state")) for n in range(3)]
        assert states[0] == "all passed"
        assert states[1] == "3 failed"
        assert states[2].startswith("unreachable: no instance i-0000000000deadbee")
        failures = app.query_one("#roster-failures", DataTable)
        rows = [failures.get_row_at(i) for i in range(failures.row_count)]
        assert {str(r[0]) for r in rows} == {"bob"} and len(rows) == 3
        assert any(str(r[3]).startswith("Start it with `sudo systemctl start") for r in rows)
        await pilot.press("q")
