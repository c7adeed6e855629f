"""What a check run produces: per-check results grouped per host, and a report.

Results are plain dataclasses so every reporter (text, JSON, JUnit, HTML) and
the TUI read the same thing. ``passed`` follows check50: True, False, or None
when the check could not be judged (skipped, host unreachable, error).
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from enum import Enum, StrEnum
from typing import Any, TypeVar

from stemcell.engine.redact import redact
from stemcell.engine.sanitise import sanitise

T = TypeVar("T")


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    # A prerequisite failed or the check does not apply (no credentials, no AMI).
    SKIPPED = "skipped"
    # The host could not be reached, so the check could not be run at all.
    UNREACHABLE = "unreachable"
    # The check itself could not finish (a command timed out, the channel died).
    ERROR = "error"


@dataclass(frozen=True)
class Exchange:
    """One thing a check asked and what came back, recorded verbatim."""

    command: str
    exit_status: int | None
    stdout: str = ""
    stderr: str = ""
    # Where it ran: "guest" (over SSH), "checker" (HTTP from here), "cloud" (EC2 API).
    where: str = "guest"

    def log_lines(self) -> list[str]:
        lines = [f"$ {self.command}" if self.where == "guest" else f"[{self.where}] {self.command}"]
        lines.extend(_clip(self.stdout).splitlines())
        lines.extend(f"stderr: {line}" for line in _clip(self.stderr).splitlines())
        if self.exit_status is not None:
            lines.append(f"exit status {self.exit_status}")
        return lines


@dataclass(frozen=True)
class Cause:
    """Why a check did not pass, in check50's terms."""

    rationale: str
    help: str = ""
    expected: str = ""
    actual: str = ""


@dataclass
class CheckResult:
    check_id: str
    kind: str
    description: str
    status: Status
    step_id: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    cause: Cause | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool | None:
        if self.status is Status.PASSED:
            return True
        if self.status is Status.FAILED:
            return False
        return None

    @property
    def log(self) -> list[str]:
        lines: list[str] = []
        for exchange in self.exchanges:
            lines.extend(exchange.log_lines())
        return lines

    def to_dict(self) -> dict[str, Any]:
        """check50's JSON shape, plus the status, step and raw exchanges."""
        return {
            "name": self.check_id,
            "description": self.description,
            "passed": self.passed,
            "status": self.status.value,
            "kind": self.kind,
            "step": self.step_id,
            "log": self.log,
            "cause": asdict(self.cause) if self.cause else None,
            "exchanges": [asdict(e) for e in self.exchanges],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class HostReport:
    """Every check for one host (one roster row)."""

    name: str  # the student, or the host when there is no roster
    host: str
    address: str = ""  # what was actually dialled (host:port)
    results: list[CheckResult] = field(default_factory=list)
    reachable: bool = True
    error: str = ""  # why the host could not be reached
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def ok(self) -> bool:
        return (
            self.reachable
            and all(r.status in (Status.PASSED, Status.SKIPPED) for r in self.results)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "address": self.address,
            "reachable": self.reachable,
            "error": self.error,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "summary": {s.value: self.count(s) for s in Status},
            "results": [r.to_dict() for r in self.results],
        }


@dataclass
class Report:
    hosts: list[HostReport] = field(default_factory=list)
    lab: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.hosts) and all(h.ok for h in self.hosts)

    def count(self, status: Status) -> int:
        return sum(h.count(status) for h in self.hosts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "stemcell-checks",
            "version": 1,
            "lab": self.lab,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "summary": {s.value: self.count(s) for s in Status},
            "hosts": [h.to_dict() for h in self.hosts],
        }


_MAX_OUTPUT = 4000


def _clip(text: str) -> str:
    # A check that cats a large file must not blow up the report.
    if len(text) <= _MAX_OUTPUT:
        return text
    return text[:_MAX_OUTPUT] + f"\n... ({len(text) - _MAX_OUTPUT} more characters)"


def clean(value: T) -> T:
    """A copy of a result (or any part of a report) with every string made safe.

    Everything in a report may come from a student: roster names and hosts, command
    output, HTTP bodies, tag values, error texts. Each string is sanitised (no
    terminal control sequences, see ``engine.sanitise``) and redacted, so every
    reporter (text, JSON, JUnit, HTML) and the TUI get the same safe text.
    """
    cleaned: T = _clean(value)
    return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, Enum):
        return value
    if isinstance(value, str):
        return redact(sanitise(value))
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _clean(getattr(value, f.name))
                   for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value
