"""The surge model: closed-form fluid counts, their edge cases and conservation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stemcell.timing.surge import Scenario, compare_setups, simulate

BASE = Scenario(rate=600, capacity=100, fleet=4, added=4, timeout=10, latency_budget=1)


def test_hand_worked_short_boot() -> None:
    # Backlog age grows at 1 - 400/600 = 1/3 s per s: on time for 3 s, late for 2 s,
    # then shrinks at 800/600 - 1 = 1/3: late for 2 s more, on time for 3 s.
    res = simulate(BASE, 5.0)
    assert res.on_time == pytest.approx(400 * 3 + 800 * 3)
    assert res.late == pytest.approx(400 * 2 + 800 * 2)
    assert res.dropped == 0
    assert res.max_wait_s == pytest.approx(5 / 3)
    assert res.recovered_s == pytest.approx(10.0)


def test_long_boot_drops_the_excess_once_clients_give_up() -> None:
    res = simulate(BASE, 200.0)
    # The backlog reaches the 10 s timeout after 30 s; from then 200 req/s are dropped.
    assert res.dropped == pytest.approx(200 * (200 - 30))
    assert res.max_wait_s == pytest.approx(10.0)
    assert res.recovered_s == pytest.approx(200 + 10 / (800 / 600 - 1))


def test_no_surge_instances_means_no_recovery_and_a_shortfall() -> None:
    res = simulate(Scenario(rate=600, capacity=100, fleet=4, added=0, horizon=100), 30.0)
    assert res.recovered_s is None
    assert res.shortfall_rps == 200
    assert res.window_s == 100
    assert res.dropped == pytest.approx(200 * (100 - 30))


def test_instant_boot_costs_nothing_when_the_grown_fleet_suffices() -> None:
    res = simulate(BASE, 0.0)
    assert res.late == 0 and res.dropped == 0
    assert res.recovered_s == 0.0


def test_capacity_exceeding_demand_costs_nothing_however_slow_the_boot() -> None:
    res = simulate(Scenario(rate=300, capacity=100, fleet=4, added=4), 500.0)
    assert res.late == 0 and res.dropped == 0
    assert res.on_time == pytest.approx(res.arrived)


def test_no_demand() -> None:
    res = simulate(Scenario(rate=0), 100.0)
    assert res.arrived == 0 and res.affected == 0


def test_setups_are_counted_over_the_same_window() -> None:
    out = compare_setups(BASE, {"1": 200.0, "2": 30.0})
    assert out["1"].window_s == out["2"].window_s
    assert out["1"].arrived == out["2"].arrived
    assert out["1"].dropped > out["2"].dropped
    assert out["2"].dropped == pytest.approx(0.0, abs=1e-6)


def test_each_second_of_boot_under_overload_costs_the_excess() -> None:
    a, b = simulate(BASE, 100.0), simulate(BASE, 101.0)
    assert b.dropped - a.dropped == pytest.approx(600 - 400)


@pytest.mark.parametrize("bad", [Scenario(capacity=0), Scenario(fleet=-1),
                                 Scenario(latency_budget=20, timeout=10)])
def test_bad_scenarios_are_refused(bad: Scenario) -> None:
    with pytest.raises(ValueError):
        simulate(bad, 1.0)


def test_scenario_round_trips() -> None:
    assert Scenario.from_dict(BASE.to_dict() | {"extra": 1}) == BASE


@given(
    rate=st.floats(0, 5000), capacity=st.floats(1, 500), fleet=st.integers(0, 20),
    added=st.integers(0, 20), timeout=st.floats(0.1, 60), budget_share=st.floats(0, 1),
    ready=st.floats(0, 2000),
)
def test_every_request_is_accounted_for(rate: float, capacity: float, fleet: int, added: int,
                                        timeout: float, budget_share: float,
                                        ready: float) -> None:
    sc = Scenario(rate=rate, capacity=capacity, fleet=fleet, added=added, timeout=timeout,
                  latency_budget=timeout * budget_share, horizon=500)
    res = simulate(sc, ready)
    accounted = res.on_time + res.late + res.dropped
    assert accounted <= res.arrived * (1 + 1e-9) + 1e-6
    waiting = res.arrived - accounted
    # What is left waiting is at most one timeout's worth of arrivals.
    assert waiting <= rate * timeout * (1 + 1e-9) + 1e-6
    assert res.late >= -1e-9 and res.dropped >= -1e-9 and res.on_time >= -1e-9
    assert res.max_wait_s <= timeout + 1e-9
    if res.recovered_s is not None:
        assert math.isclose(waiting, 0.0, abs_tol=1e-6 * max(1.0, res.arrived))


@given(ready=st.floats(0, 600), extra=st.floats(0, 600), rate=st.floats(0, 3000),
       fleet=st.integers(0, 10), added=st.integers(0, 10))
def test_a_longer_boot_never_serves_more_on_time(ready: float, extra: float, rate: float,
                                                 fleet: int, added: int) -> None:
    sc = Scenario(rate=rate, capacity=100, fleet=fleet, added=added)
    out = compare_setups(sc, {"fast": ready, "slow": ready + extra})
    tol = 1e-6 * max(1.0, out["fast"].arrived)
    assert out["slow"].affected >= out["fast"].affected - tol
    assert out["slow"].on_time <= out["fast"].on_time + tol
