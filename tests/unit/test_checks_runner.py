"""The runner: dependents skipped with the reason, unreachable hosts, rosters."""

from __future__ import annotations

import shlex
import threading
from dataclasses import dataclass, field

from stemcell.checks import CheckOptions, HostSpec, Status, run_checks, run_roster, select
from stemcell.checks.ssh_remote import CommandResult, HostUnreachable, Remote
from stemcell.checks.targets import Route
from stemcell.content import load_lab
from stemcell.content.shipped import shipped_dir

LAB = load_lab(shipped_dir("labs") / "lab1-stem-cell.yaml")


@dataclass
class Ubuntu:
    """Just enough of a server's answers to the check commands, from its state."""

    apache_installed: bool = True
    apache_active: bool = True
    files: dict[str, tuple[str, str]] = field(default_factory=lambda: {
        "/etc/stemcell-image": ("-rw-r--r--", "stem cell image: apache2 + mod_wsgi"),
        "/home/ubuntu/.ssh": ("drwx------", ""),
        "/home/ubuntu/.ssh/authorized_keys": ("-rw-------", "ssh-ed25519 AAAA ta"),
        "/var/www/html/index.html": ("-rw-r--r--", "<h1>Stem cell web server</h1>"),
    })
    lose_connection_after: int | None = None
    ran: list[str] = field(default_factory=list)

    def run(self, command: str, timeout: float) -> CommandResult:
        self.ran.append(command)
        if self.lose_connection_after is not None and len(self.ran) > self.lose_connection_after:
            raise HostUnreachable("SSH connection lost: EOF")
        argv = shlex.split(command)
        match argv:
            case ["dpkg-query", *_, "apache2"]:
                if self.apache_installed:
                    return CommandResult(0, "install ok installed 2.4.58-1ubuntu8.5", "")
                return CommandResult(1, "", "dpkg-query: no packages found matching apache2")
            case ["systemctl", "is-active", _]:
                up = self.apache_active and self.apache_installed
                return CommandResult(0 if up else 3, "active" if up else "inactive", "")
            case ["systemctl", "is-enabled", _]:
                return CommandResult(0, "enabled", "")
            case ["ss", "-tln"]:
                line = "LISTEN 0 511 *:80 *:*\n" if self.apache_active else ""
                return CommandResult(0, "State Recv-Q\n" + line, "")
            case ["test", "-e", path]:
                return CommandResult(0 if path in self.files else 1, "", "")
            case ["ls", "-ld", path]:
                perms, _ = self.files[path]
                return CommandResult(0, f"{perms} 1 ubuntu ubuntu 10 Nov 28 01:02 {path}", "")
            case ["grep", "-F", "-c", text, path]:
                count = self.files[path][1].count(text)
                return CommandResult(0 if count else 1, str(count), "")
            case ["cloud-init", "status"]:
                return CommandResult(0, "status: done", "")
            case ["curl", *_]:
                ok = self.apache_active and "/var/www/html/index.html" in self.files
                body = self.files.get("/var/www/html/index.html", ("", ""))[1]
                code = "200" if ok else "000"
                return CommandResult(0 if ok else 7, f"{body}\n__STEMCELL_HTTP_STATUS__{code}", "")
        raise AssertionError(f"unexpected command {command}")

    def close(self) -> None:
        pass


def options_for(servers: dict[str, Ubuntu | HostUnreachable], **kw: object) -> CheckOptions:
    def connect(spec: HostSpec, where: Route, deadline: float) -> Remote:
        server = servers[spec.host]
        if isinstance(server, HostUnreachable):
            raise server
        return server

    return CheckOptions(connector=connect, **kw)  # type: ignore[arg-type]


def by_id(report: object) -> dict[str, Status]:
    return {r.check_id: r.status for r in report.results}  # type: ignore[attr-defined]


# Checks that need the HTTP-from-the-checker route are left out of these unit tests.
PLAN = [p for p in select(LAB, [], "web") if p.id != "web-page-public"]


def test_a_good_server_passes_everything_it_can_be_asked() -> None:
    report = run_checks(PLAN, HostSpec(host="10.0.0.1"), options_for({"10.0.0.1": Ubuntu()}))
    statuses = by_id(report)
    cloud = {"image-available", "launched-from-image", "image-shared"}
    assert all(s is Status.PASSED for cid, s in statuses.items() if cid not in cloud), statuses
    assert statuses["image-available"] is Status.SKIPPED  # no AMI given
    assert report.ok


def test_a_failed_prerequisite_skips_its_dependents_with_the_reason() -> None:
    server = Ubuntu(apache_active=False)
    del server.files["/var/www/html/index.html"]
    report = run_checks(PLAN, HostSpec(host="10.0.0.1"), options_for({"10.0.0.1": server}))
    statuses = by_id(report)
    failed = {cid for cid, s in statuses.items() if s is Status.FAILED}
    assert failed == {"apache-running", "web-page-file"}
    for cid in ("http-port-open", "web-page-mode", "web-page-local"):
        assert statuses[cid] is Status.SKIPPED
    local = next(r for r in report.results if r.check_id == "web-page-local")
    assert local.cause is not None
    assert local.cause.rationale == ("can't check until a prerequisite passes "
                                     "(apache-running failed, web-page-mode skipped)")
    assert not local.exchanges  # skipped checks run nothing
    running = next(r for r in report.results if r.check_id == "apache-running")
    assert running.cause is not None and running.cause.help.startswith("Start it with")
    assert running.log == ["$ systemctl is-active apache2", "inactive", "exit status 3"]
    assert not report.ok


def test_unreachable_host_reports_every_host_check_with_the_cause() -> None:
    down = HostUnreachable("could not reach SSH at 10.0.0.9:22: timed out", "is it running?")
    report = run_checks(PLAN, HostSpec(host="10.0.0.9"), options_for({"10.0.0.9": down}))
    assert not report.reachable and report.error.startswith("could not reach SSH")
    host_checks = [r for r in report.results if r.kind not in ("image", "instance")]
    assert host_checks and all(r.status is Status.UNREACHABLE for r in host_checks)
    assert host_checks[0].cause is not None and host_checks[0].cause.help == "is it running?"


def test_connection_lost_midway_marks_the_rest_unreachable() -> None:
    server = Ubuntu(lose_connection_after=2)
    report = run_checks(PLAN, HostSpec(host="10.0.0.1"), options_for({"10.0.0.1": server}))
    statuses = [r.status for r in report.results if r.kind not in ("image", "instance")]
    assert statuses[:2] == [Status.PASSED, Status.PASSED]
    assert set(statuses[2:]) == {Status.UNREACHABLE}
    assert not report.reachable


def test_roster_keeps_order_and_reports_every_host() -> None:
    servers: dict[str, Ubuntu | HostUnreachable] = {
        f"10.0.0.{i}": Ubuntu(apache_active=i != 3) for i in range(1, 7)
    }
    servers["10.0.0.5"] = HostUnreachable("timed out")
    hosts = [HostSpec(host=h, name=f"student{h[-1]}") for h in servers]
    seen: list[str] = []
    lock = threading.Lock()

    def heard(spec: HostSpec, report: object) -> None:
        with lock:
            seen.append(spec.host)

    report = run_roster(hosts, PLAN, options_for(servers), jobs=3, on_host_finished=heard)
    assert [h.name for h in report.hosts] == [h.name for h in hosts]
    assert sorted(seen) == sorted(servers)
    oks = {h.name: h.ok for h in report.hosts}
    assert oks == {"student1": True, "student2": True, "student3": False, "student4": True,
                   "student5": False, "student6": True}
    assert not report.hosts[4].reachable


def test_cancelled_run_skips_what_is_left() -> None:
    options = options_for({"10.0.0.1": Ubuntu()})
    options.cancel.set()
    report = run_checks(PLAN, HostSpec(host="10.0.0.1"), options)
    assert {r.status for r in report.results} == {Status.SKIPPED}


def test_output_no_parser_expected_is_an_error_not_a_crash() -> None:
    class Odd(Ubuntu):
        def run(self, command: str, timeout: float) -> CommandResult:
            if command.startswith("ls -ld"):
                return CommandResult(0, "?", "")
            return super().run(command, timeout)

    report = run_checks(PLAN, HostSpec(host="10.0.0.1"), options_for({"10.0.0.1": Odd()}))
    by = {r.check_id: r for r in report.results}
    assert by["ssh-dir-private"].status is Status.ERROR
    assert by["ssh-dir-private"].cause is not None
    assert "could not judge: ValueError" in by["ssh-dir-private"].cause.rationale
    assert by["apache-running"].status is Status.PASSED and not report.ok
