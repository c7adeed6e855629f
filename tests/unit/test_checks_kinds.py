"""Each check kind against canned answers: the exact command and the verdict."""

from __future__ import annotations

import time
from typing import Any

import pytest

from stemcell.checks.kinds import command, file, http, image, instance, package, service, socket
from stemcell.checks.kinds.file import parse_mode
from stemcell.checks.kinds.socket import listening_ports
from stemcell.checks.probe import HostContext, NotApplicable, Probe
from stemcell.checks.ssh_remote import CommandResult, CommandTimeout
from stemcell.checks.targets import HostSpec
from stemcell.content.models import CheckSpec


class Canned:
    """A Remote that answers exact commands; anything else is a test bug."""

    def __init__(self, answers: dict[str, tuple[int, str] | tuple[int, str, str]]) -> None:
        self.answers = answers
        self.ran: list[str] = []

    def run(self, command: str, timeout: float) -> CommandResult:
        self.ran.append(command)
        if command not in self.answers:
            raise AssertionError(f"unexpected command: {command}")
        answer = self.answers[command]
        if answer == "timeout":
            raise CommandTimeout("too slow")
        status, out, *err = answer
        return CommandResult(status, out, err[0] if err else "")

    def close(self) -> None:
        pass


def probe_for(answers: dict[str, Any], *, ami: str | None = None, cloud: Any = None,
              account: str | None = None, course: str | None = None) -> Probe:
    host = HostContext(
        spec=HostSpec(host="54.1.2.3", ami=ami, account=account), remote=Canned(answers),
        http=None, cloud=cloud, course_account=course, deadline=time.monotonic() + 30,
    )
    return Probe(host)


def spec(**fields: Any) -> CheckSpec:
    return CheckSpec(id="c", description="d", **fields)


DPKG = "dpkg-query -W -f '${Status} ${Version}' apache2"


def test_package_installed_records_command_and_version() -> None:
    probe = probe_for({DPKG: (0, "install ok installed 2.4.58-1ubuntu8.5")})
    verdict = package.check(spec(kind="package", name="apache2", version="2.4.58"), probe)
    assert verdict.passed
    assert verdict.actual == "apache2 installed, version 2.4.58-1ubuntu8.5"
    assert probe.exchanges[0].command == DPKG
    assert probe.exchanges[0].stdout.startswith("install ok installed")


def test_package_missing_and_wrong_version() -> None:
    missing = probe_for({DPKG: (1, "", "dpkg-query: no packages found matching apache2")})
    assert not package.check(spec(kind="package", name="apache2"), missing).passed
    old = probe_for({DPKG: (0, "install ok installed 2.4.52-1ubuntu4")})
    verdict = package.check(spec(kind="package", name="apache2", version="2.4.58"), old)
    assert not verdict.passed
    assert "2.4.52-1ubuntu4 is not 2.4.58" in verdict.detail
    removed = probe_for({DPKG: (0, "deinstall ok config-files 2.4.58-1ubuntu8.5")})
    assert not package.check(spec(kind="package", name="apache2"), removed).passed


def test_service_defaults_to_active_and_checks_enabled() -> None:
    probe = probe_for({"systemctl is-active apache2": (3, "inactive\n")})
    verdict = service.check(spec(kind="service", name="apache2"), probe)
    assert not verdict.passed and verdict.actual == "inactive"
    both = probe_for({"systemctl is-active apache2": (0, "active\n"),
                      "systemctl is-enabled apache2": (1, "disabled\n")})
    verdict = service.check(spec(kind="service", name="apache2", active=True, enabled=True), both)
    assert not verdict.passed
    assert verdict.expected == "active, enabled" and verdict.actual == "active, disabled"
    only_enabled = probe_for({"systemctl is-enabled apache2": (0, "enabled\n")})
    assert service.check(spec(kind="service", name="apache2", enabled=True), only_enabled).passed


SS = """State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      4096   127.0.0.53%lo:53         0.0.0.0:*
LISTEN 0      4096         0.0.0.0:22         0.0.0.0:*
LISTEN 0      511                *:80               *:*
LISTEN 0      4096            [::]:22            [::]:*
"""


def test_listening_ports_parses_ipv4_ipv6_and_wildcards() -> None:
    ports = listening_ports(SS)
    assert ports[22] == ["0.0.0.0", "[::]"]
    assert ports[80] == ["*"]
    assert ports[53] == ["127.0.0.53%lo"]


def test_socket_check() -> None:
    assert socket.check(spec(kind="socket", port=80), probe_for({"ss -tln": (0, SS)})).passed
    verdict = socket.check(spec(kind="socket", port=443), probe_for({"ss -tln": (0, SS)}))
    assert not verdict.passed and "listening: 22, 53, 80" in verdict.actual


@pytest.mark.parametrize(
    ("perms", "mode"),
    [("-rw-r--r--", 0o644), ("drwx------", 0o700), ("-rwsr-xr-x", 0o4755),
     ("drwxrwxrwt", 0o1777), ("-rw-r-S---", 0o2640), ("-rwxr-sr-T", 0o3754)],
)
def test_parse_mode(perms: str, mode: int) -> None:
    assert parse_mode(perms) == mode


LS = "ls -ld /var/www/html/index.html"
TEST = "test -e /var/www/html/index.html"
GREP = "grep -F -c 'Stem cell web server' /var/www/html/index.html"


def test_file_mode_owner_contains() -> None:
    listing = "-rw-r--r-- 1 root root 1043 Nov 28 01:02 /var/www/html/index.html"
    answers = {TEST: (0, ""), LS: (0, listing), GREP: (0, "2")}
    check = spec(kind="file", path="/var/www/html/index.html", mode="0644", owner="root:root",
                 contains="Stem cell web server")
    verdict = file.check(check, probe_for(answers))
    assert verdict.passed, verdict
    assert "contains it (2 line(s))" in verdict.actual
    answers[LS] = (0, "-rw------- 1 ubuntu ubuntu 1043 Nov 28 01:02 /var/www/html/index.html")
    answers[GREP] = (1, "0")
    verdict = file.check(check, probe_for(answers))
    assert not verdict.passed
    assert verdict.detail == ("mode is 600, not 644; owned by ubuntu:ubuntu, not root:root; "
                              "/var/www/html/index.html lacks 'Stem cell web server'")


def test_file_missing_stops_early_and_absent_files_pass() -> None:
    probe = probe_for({TEST: (1, "")})
    verdict = file.check(spec(kind="file", path="/var/www/html/index.html", mode="644"), probe)
    assert not verdict.passed and verdict.actual.endswith("does not exist")
    assert [e.command for e in probe.exchanges] == [TEST]
    assert file.check(spec(kind="file", path="/var/www/html/index.html", exists=False),
                      probe_for({TEST: (1, "")})).passed


def test_file_unreadable_is_a_failure_with_the_reason() -> None:
    denied = (2, "", "grep: /var/www/html/index.html: Permission denied")
    no_sudo = (1, "", "sudo: a password is required")
    answers = {TEST: (0, ""), GREP: denied, f"sudo -n {GREP}": no_sudo}
    verdict = file.check(spec(kind="file", path="/var/www/html/index.html",
                              contains="Stem cell web server"), probe_for(answers))
    assert not verdict.passed and "a password is required" in verdict.actual


def test_command_status_and_output() -> None:
    answers = {"cloud-init status": (0, "status: done\n")}
    check = spec(kind="command", command="cloud-init status", stdout_contains="status: done")
    assert command.check(check, probe_for(answers)).passed
    answers = {"cloud-init status": (1, "status: error\n")}
    verdict = command.check(check, probe_for(answers))
    assert not verdict.passed and verdict.detail == "exited 1; output lacks 'status: done'"


CURL = "curl -s -o - -w '__STEMCELL_HTTP_STATUS__%{http_code}' http://localhost/"


def test_http_from_inside_the_guest() -> None:
    page = "<h1>Stem cell web server</h1>\n"
    check = spec(kind="http", url_path="/", where="guest", body_contains="Stem cell web server")
    ok = probe_for({CURL: (0, page + "\n__STEMCELL_HTTP_STATUS__200")})
    assert http.check(check, ok).passed
    missing = probe_for({CURL: (0, "Not Found\n__STEMCELL_HTTP_STATUS__404")})
    verdict = http.check(check, missing)
    assert not verdict.passed and verdict.actual.startswith("HTTP 404")
    refused = probe_for({CURL: (7, "\n__STEMCELL_HTTP_STATUS__000")})
    verdict = http.check(check, refused)
    assert not verdict.passed and "curl exited 7" in verdict.actual


class FakeCloud:
    def __init__(self, image: dict[str, Any] | None, perms: dict[str, Any] | None = None,
                 instances: list[dict[str, Any]] | None = None) -> None:
        self._image, self._perms, self._instances = image, perms, instances or []

    def image(self, image_id: str) -> dict[str, Any] | None:
        return self._image

    def launch_permissions(self, image_id: str, account: str) -> dict[str, Any]:
        assert self._perms is not None
        return self._perms

    def instances_from(self, image_id: str) -> list[dict[str, Any]]:
        return self._instances


IMAGE = {"ImageId": "ami-0123456789abcdef0", "State": "available", "OwnerId": "111122223333",
         "Name": "lab1", "Public": False, "Tags": {"stemcell:lab": "lab1-stem-cell"}}


def test_image_needs_an_ami_and_credentials() -> None:
    with pytest.raises(NotApplicable, match="no AMI id"):
        image.check(spec(kind="image"), probe_for({}))
    with pytest.raises(NotApplicable, match="no AWS credentials"):
        image.check(spec(kind="image"), probe_for({}, ami="ami-0123456789abcdef0"))


def test_image_owner_tags_and_sharing() -> None:
    cloud = FakeCloud(IMAGE, {"accounts": ["999988887777"], "public": False})
    check = spec(kind="image", tag={"stemcell:lab": "lab1-stem-cell"}, shared_with="course")
    probe = probe_for({}, ami="ami-0123456789abcdef0", cloud=cloud, account="111122223333",
                      course="999988887777")
    verdict = image.check(check, probe)
    assert verdict.passed, verdict
    assert [e.where for e in probe.exchanges] == ["cloud", "cloud"]
    not_shared = FakeCloud(IMAGE, {"accounts": [], "public": False})
    verdict = image.check(check, probe_for({}, ami="ami-0123456789abcdef0", cloud=not_shared,
                                           course="999988887777"))
    assert not verdict.passed and verdict.detail == "not shared with 999988887777"
    canonical = FakeCloud({**IMAGE, "OwnerId": "099720109477"})
    verdict = image.check(spec(kind="image"), probe_for({}, ami="ami-0123456789abcdef0",
                                                        cloud=canonical))
    assert not verdict.passed and "Canonical's public image" in verdict.detail
    assert not image.check(spec(kind="image"), probe_for({}, ami="ami-0123456789abcdef0",
                                                         cloud=FakeCloud(None))).passed


def test_instance_from_image_matches_the_host() -> None:
    inst = {"InstanceId": "i-0123456789abcdef0", "PublicIpAddress": "54.1.2.3", "Tags": {}}
    cloud = FakeCloud(IMAGE, instances=[inst])
    assert instance.check(spec(kind="instance"),
                          probe_for({}, ami="ami-0123456789abcdef0", cloud=cloud)).passed
    other = FakeCloud(IMAGE, instances=[{**inst, "PublicIpAddress": "3.3.3.3"}])
    verdict = instance.check(spec(kind="instance"),
                             probe_for({}, ami="ami-0123456789abcdef0", cloud=other))
    assert not verdict.passed and "54.1.2.3 was not launched from" in verdict.detail


def test_file_contains_reads_as_root_when_the_user_may_not() -> None:
    denied = (2, "", "grep: /var/www/html/index.html: Permission denied")
    answers = {TEST: (0, ""), GREP: denied, f"sudo -n {GREP}": (0, "1")}
    check = spec(kind="file", path="/var/www/html/index.html", contains="Stem cell web server")
    probe = probe_for(answers)
    assert file.check(check, probe).passed
    assert [e.command for e in probe.exchanges] == [TEST, GREP, f"sudo -n {GREP}"]
