"""Phases from marks: ec2-boot-bench's four plus the lab's own, robust to late observations."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from stemcell.timing.marks import MARKS, offsets
from stemcell.timing.phases import PHASE_KEYS, timeline

FULL = {
    "run_instances_sent": 100.0,
    "run_instances_returned": 100.8,
    "running": 112.0,
    "tcp_refused": 118.0,
    "ssh_accepting": 125.0,
    "cloud_init_done": 160.0,
    "http_healthy": 161.5,
    "lb_healthy": 180.0,
}


def test_in_order_marks_give_the_plain_differences() -> None:
    tl = timeline(FULL)
    got = {p.key: p.seconds for p in tl.phases}
    want = {"api": 0.8, "pending": 11.2, "network": 6.0, "sshd": 7.0,
            "cloud_init": 35.0, "app": 1.5}
    assert got.keys() == want.keys()
    assert all(math.isclose(got[k] or 0.0, v) for k, v in want.items())
    assert tl.ready_s == 61.5
    assert tl.lb_s == 18.5
    assert [p.key for p in tl.phases] == list(PHASE_KEYS)


def test_a_late_running_poll_is_clamped_to_the_network_mark() -> None:
    marks = dict(FULL, running=119.0)  # the poll saw "running" after port 22 refused
    tl = timeline(marks)
    by = {p.key: p for p in tl.phases}
    assert by["pending"].end == 118.0
    assert by["network"].seconds == 0.0
    assert tl.ready_s == 61.5


def test_http_before_cloud_init_done_counts_cloud_init_up_to_http() -> None:
    tl = timeline(dict(FULL, cloud_init_done=170.0))
    by = {p.key: p for p in tl.phases}
    assert by["cloud_init"].end == 161.5
    assert by["app"].seconds == 0.0
    assert tl.ready_s == 61.5


def test_a_missing_mark_leaves_its_phase_empty_and_the_next_one_longer() -> None:
    marks = {k: v for k, v in FULL.items() if k != "tcp_refused"}
    by = {p.key: p for p in timeline(marks).phases}
    assert by["network"].seconds is None
    assert by["sshd"].seconds == 125.0 - 112.0


def test_not_healthy_yet_has_no_ready_time_but_a_total() -> None:
    marks = {k: FULL[k] for k in MARKS[:5]}
    tl = timeline(marks)
    assert tl.ready_s is None
    assert tl.total_s == 25.0
    assert [p.key for p in tl.phases][-1] == "sshd"


def test_without_the_launch_time_there_is_nothing() -> None:
    assert timeline({"running": 5.0}).phases == []
    assert offsets({"running": 5.0}) == {}


def test_offsets_are_relative_to_the_launch() -> None:
    assert offsets(FULL)["http_healthy"] == 61.5


times = st.floats(min_value=0, max_value=10_000, allow_nan=False, allow_infinity=False)


@given(st.dictionaries(st.sampled_from(MARKS[1:]), times), times)
def test_any_marks_give_non_negative_phases_summing_to_the_total(
    later: dict[str, float], start: float
) -> None:
    marks = {"run_instances_sent": start, **later}
    tl = timeline(marks)
    durations = [p.seconds for p in tl.phases if p.seconds is not None]
    assert all(d >= 0 for d in durations)
    assert math.isclose(sum(durations), tl.total_s, abs_tol=1e-6)
    if "http_healthy" in marks:
        assert tl.ready_s is not None
        assert math.isclose(tl.ready_s, max(0.0, marks["http_healthy"] - start), abs_tol=1e-6)


@given(
    st.lists(st.floats(min_value=0, max_value=100, allow_nan=False), min_size=6, max_size=6),
    st.lists(st.floats(min_value=0, max_value=30, allow_nan=False), min_size=6, max_size=6),
    st.sets(st.sampled_from(MARKS[1:])),
)
def test_boundaries_lie_between_the_true_event_and_its_observation(
    steps: list[float], lags: list[float], dropped: set[str]
) -> None:
    """Real states happen in order; we observe each one late by some lag (or never)."""
    true = {"run_instances_sent": 0.0}
    t = 0.0
    for name, step in zip(MARKS[1:], steps, strict=True):
        t += step
        true[name] = t
    observed = {"run_instances_sent": 0.0}
    for name, lag in zip(MARKS[1:], lags, strict=True):
        if name not in dropped:
            observed[name] = true[name] + lag
    tl = timeline(observed)
    for phase in tl.phases:
        mark = dict(zip(PHASE_KEYS, MARKS[1:], strict=True))[phase.key]
        if phase.seconds is not None:
            assert true[mark] - 1e-9 <= phase.end <= observed[mark] + 1e-9
