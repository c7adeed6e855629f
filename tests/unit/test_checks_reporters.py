"""Reporters: check50-like JSON, schema-valid JUnit, self-contained HTML, text."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lxml import etree

from stemcell.checks import FORMATS, Cause, CheckResult, Exchange, HostReport, Report, Status
from stemcell.checks.reporters import text

XSD = Path(__file__).parents[1] / "data" / "junit-jenkins.xsd"


def sample() -> Report:
    good = HostReport(name="ada", host="54.1.2.3", address="54.1.2.3:22", seconds=1.25, results=[
        CheckResult("apache-installed", "package", "Apache is installed", Status.PASSED,
                    step_id="install-stack",
                    exchanges=[Exchange("dpkg-query -W apache2", 0, "install ok installed 2.4")]),
        CheckResult("apache-running", "service", "Apache is running", Status.FAILED,
                    step_id="install-stack",
                    exchanges=[Exchange("systemctl is-active apache2", 3, "inactive\x1b[0m\x00")],
                    cause=Cause("apache2 is not running <b>", "sudo systemctl start apache2",
                                "active", "inactive")),
        CheckResult("http-port-open", "socket", "Port 80 & friends", Status.SKIPPED,
                    cause=Cause("can't check until a prerequisite passes (apache-running failed)")),
        CheckResult("boot-script-done", "command", "cloud-init done", Status.ERROR,
                    cause=Cause("`cloud-init status` did not finish")),
    ])
    down = HostReport(name="bob", host="54.1.2.4", reachable=False, error="timed out", results=[
        CheckResult("apache-installed", "package", "Apache is installed", Status.UNREACHABLE,
                    cause=Cause("host unreachable: timed out", "is it running?")),
    ])
    return Report(hosts=[good, down], lab="lab1-stem-cell", seconds=2.5)


def test_json_is_check50_like() -> None:
    data = json.loads(FORMATS["json"](sample()))
    assert data["ok"] is False
    assert data["summary"] == {"passed": 1, "failed": 1, "skipped": 1, "unreachable": 1,
                               "error": 1}
    first, failed, skipped, _ = data["hosts"][0]["results"]
    assert first["passed"] is True and first["cause"] is None
    assert first["log"] == ["$ dpkg-query -W apache2", "install ok installed 2.4", "exit status 0"]
    assert failed["passed"] is False
    assert failed["cause"] == {"rationale": "apache2 is not running <b>",
                               "help": "sudo systemctl start apache2",
                               "expected": "active", "actual": "inactive"}
    assert skipped["passed"] is None and skipped["status"] == "skipped"
    assert data["hosts"][1]["results"][0]["passed"] is None


def test_junit_validates_against_the_schema_and_counts() -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    xml = FORMATS["junit"](sample()).encode()
    doc = etree.fromstring(xml)
    schema.assertValid(doc)
    suites = doc.findall("testsuite")
    assert [s.get("name") for s in suites] == ["ada", "bob"]
    ada = suites[0]
    assert (ada.get("tests"), ada.get("failures"), ada.get("errors"), ada.get("skipped")) == (
        "4", "1", "1", "1")
    failure = ada.find("testcase/failure")
    assert failure is not None and failure.get("message") == "apache2 is not running <b>"
    assert "hint: sudo systemctl start apache2" in (failure.text or "")
    assert suites[1].find("testcase/error").get("type") == "HostUnreachable"
    assert doc.get("tests") == "5" and doc.get("failures") == "1" and doc.get("errors") == "2"


def test_junit_schema_rejects_what_ci_tools_would() -> None:
    # The schema is not a rubber stamp: a suite without its counts is refused.
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    bad = etree.fromstring(b"<testsuites><testsuite name='x'><testcase name='a'/></testsuite>"
                           b"</testsuites>")
    assert not schema.validate(bad)


def test_html_is_self_contained_and_escaped() -> None:
    page = FORMATS["html"](sample())
    assert page.startswith("<!DOCTYPE html>")
    assert "apache2 is not running &lt;b&gt;" in page and "<b>" not in page
    assert not re.search(r"<(script|link)\b|src=|href=", page)
    assert "unreachable: timed out" in page


def test_text_table_shows_cause_hint_and_summary() -> None:
    out = text.render(sample(), width=120)
    assert "apache2 is not running" in out and "hint: sudo systemctl start apache2" in out
    assert "bob: unreachable: timed out" in out
    summary = "0/2 host(s) all good; checks: 1 passed, 1 failed, 1 skipped, 1 unreachable, 1 error"
    assert summary in out
