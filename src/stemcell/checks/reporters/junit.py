"""JUnit XML: a testsuite per host, a testcase per check, so CI tools load it.

Failed checks are <failure>, checks that could not be judged (host
unreachable, error) are <error>, skipped ones are <skipped>; the exact
commands and answers go in <system-out>.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from stemcell.checks.model import CheckResult, Report, Status

# XML 1.0 forbids most control characters; command output may contain them.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _BAD_XML.sub("?", text)


def render(report: Report) -> str:
    root = ET.Element("testsuites", name=f"stemcell checks {report.lab}".strip())
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for index, host in enumerate(report.hosts):
        counts = {
            "tests": len(host.results),
            "failures": host.count(Status.FAILED),
            "errors": host.count(Status.UNREACHABLE) + host.count(Status.ERROR),
            "skipped": host.count(Status.SKIPPED),
        }
        for k, v in counts.items():
            totals[k] += v
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_clean(host.name),
            id=str(index),
            hostname=_clean(host.host),
            tests=str(counts["tests"]),
            failures=str(counts["failures"]),
            errors=str(counts["errors"]),
            skipped=str(counts["skipped"]),
            time=f"{host.seconds:.3f}",
        )
        for result in host.results:
            _case(suite, host.name, result)
        if host.error:
            ET.SubElement(suite, "system-err").text = _clean(host.error)
    for k, v in totals.items():
        if k != "skipped":  # the Jenkins schema has no skipped count on <testsuites>
            root.set(k, str(v))
    root.set("time", f"{report.seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _case(suite: ET.Element, host: str, result: CheckResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        name=_clean(f"{result.check_id}: {result.description}"),
        classname=_clean(f"{host}.{result.step_id or 'checks'}"),
        time=f"{result.seconds:.3f}",
    )
    cause = result.cause
    message = _clean(cause.rationale) if cause else ""
    body = ""
    if cause is not None:
        lines = []
        if cause.expected or cause.actual:
            lines += [f"expected: {cause.expected}", f"actual: {cause.actual}"]
        if cause.help:
            lines.append(f"hint: {cause.help}")
        body = _clean("\n".join(lines))
    if result.status is Status.FAILED:
        ET.SubElement(case, "failure", message=message, type="CheckFailed").text = body
    elif result.status in (Status.UNREACHABLE, Status.ERROR):
        kind = "HostUnreachable" if result.status is Status.UNREACHABLE else "CheckError"
        ET.SubElement(case, "error", message=message, type=kind).text = body
    elif result.status is Status.SKIPPED:
        ET.SubElement(case, "skipped", message=message)
    if result.log:
        ET.SubElement(case, "system-out").text = _clean("\n".join(result.log))
