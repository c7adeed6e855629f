"""check50-like JSON: per check name, description, passed, log, cause."""

from __future__ import annotations

import json as _json

from stemcell.checks.model import Report


def render(report: Report) -> str:
    return _json.dumps(report.to_dict(), indent=2) + "\n"
