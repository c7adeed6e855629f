"""http: GET a page, from the checker's machine or from inside the guest.

From the checker it proves the page is reachable as a visitor would see it
(security group included); from inside the guest (curl to localhost) it tells
"Apache serves it" apart from "the network lets you in".
"""

from __future__ import annotations

from stemcell.checks.kinds.base import Verdict, q
from stemcell.checks.probe import Probe
from stemcell.content.models import CheckSpec

_MARK = "__STEMCELL_HTTP_STATUS__"


def check(spec: CheckSpec, probe: Probe) -> Verdict:
    path = spec.url_path or "/"
    port = spec.port or 80
    want = spec.status or 200
    if spec.where == "guest":
        url = f"http://localhost{'' if port == 80 else f':{port}'}{path}"
        # The status goes after a marker, so a page without a final newline still parses.
        result = probe.sh(f"curl -s -o - -w {q(_MARK + '%{http_code}')} {q(url)}")
        body, _, code = result.stdout.rpartition(_MARK)
        status = int(code.strip()) if code.strip().isdigit() else None
        if result.exit_status != 0 or not status:
            status, error = None, f"curl exited {result.exit_status}"
        else:
            error = ""
        where = "from inside the server"
    else:
        answer = probe.get(path, port)
        status, body, error = answer.status, answer.body, answer.error
        where = "from the checker"
    expected = [f"HTTP {want} {where}"]
    actual = [f"HTTP {status}" if status is not None else f"no answer ({error})"]
    problems = []
    if status != want:
        problems.append(actual[0])
    if spec.body_contains is not None:
        expected.append(f"body contains {spec.body_contains!r}")
        found = status is not None and spec.body_contains in body
        actual.append("body contains it" if found else "body does not contain it")
        if not found and status is not None:
            problems.append(f"page lacks {spec.body_contains!r}")
    return Verdict(not problems, ", ".join(expected), ", ".join(actual), "; ".join(problems))
