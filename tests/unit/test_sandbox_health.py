from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from stemcell.sandbox.health import HealthChecker, TargetHealth, matches


@pytest.mark.parametrize(("spec", "status", "ok"), [
    ("200", 200, True), ("200", 302, False), ("200,302", 302, True),
    ("200-299", 204, True), ("200-299", 404, False), (None, 200, True),
])
def test_matcher(spec: str | None, status: int, ok: bool) -> None:
    assert matches({"HttpCode": spec} if spec else None, status) is ok


def _group(**over: Any) -> Any:
    values = {"healthy_threshold_count": "3", "unhealthy_threshold_count": "2",
              "matcher": {"HttpCode": "200"}, "health_check_path": "/health"}
    values.update(over)
    return SimpleNamespace(**values)


def _run(results: list[int | None]) -> list[str]:
    checker = HealthChecker.__new__(HealthChecker)
    group, health, states = _group(), TargetHealth(), []
    for status in results:
        def http_ok(path: str, status: int | None = status) -> tuple[int, str]:
            if status is None:
                raise TimeoutError("no answer")
            return status, ""
        checker._apply(group, health, checker._probe(http_ok, group))
        states.append(health.state)
    return states


def test_initial_until_a_check_passes_then_healthy() -> None:
    assert _run([None, 503, 200]) == ["initial", "initial", "healthy"]


def test_unhealthy_after_threshold_failures_and_back_after_threshold_passes() -> None:
    states = _run([200, 500, 500, 200, 200, 200])
    assert states == ["healthy", "healthy", "unhealthy", "unhealthy", "unhealthy", "healthy"]


def test_reasons_name_the_failure() -> None:
    checker = HealthChecker.__new__(HealthChecker)
    ok, reason, description = checker._probe(lambda p: (404, ""), _group())
    assert (ok, reason) == (False, "Target.ResponseCodeMismatch")
    assert "[404]" in description

    def boom(path: str) -> tuple[int, str]:
        raise ConnectionResetError

    assert checker._probe(boom, _group())[1] == "Target.Timeout"
