"""The sandbox's modeled clock: runs at --speed while the world waits, stands still
during host work, never passes a waiter's deadline before the waiter is awake."""

from __future__ import annotations

import threading
import time

import pytest

from stemcell.engine import clock as clock_mod
from stemcell.engine.clock import ModelClock, WallClock


def test_idle_clock_runs_at_speed() -> None:
    c = ModelClock(100.0)
    t0, w0 = c.now(), time.time()
    time.sleep(0.05)
    elapsed = c.now() - t0
    assert elapsed == pytest.approx((time.time() - w0) * 100, rel=0.2)


def test_host_work_does_not_advance_modeled_time() -> None:
    c = ModelClock(1000.0)
    with c.busy():
        t0 = c.now()
        time.sleep(0.1)  # 100 modeled seconds if it were billed at speed
        assert c.now() == t0
    assert c.rate == 1000.0


def test_a_thread_outside_busy_does_not_count() -> None:
    c = ModelClock(1000.0)
    t0 = c.now()
    time.sleep(0.02)
    assert c.now() - t0 > 5  # nobody works: time runs


def test_sleep_releases_the_sleepers_share_and_takes_it_back() -> None:
    c = ModelClock(1000.0)
    with c.busy():
        t0 = c.now()
        assert c.sleep(2.0)
        after = c.now()
        # Awake and at work again: still at the deadline, not past it.
        assert after == pytest.approx(t0 + 2.0, abs=1e-6)
        time.sleep(0.02)
        assert c.now() == after
        assert c.busy_count == 1
    assert c.busy_count == 0


def test_one_busy_thread_stops_every_sleeper() -> None:
    c = ModelClock(1000.0)
    woke = threading.Event()

    def sleeper() -> None:
        c.sleep(1.0)
        woke.set()

    with c.busy():
        threading.Thread(target=sleeper, daemon=True).start()
        assert not woke.wait(0.1)  # 100 modeled seconds at speed; none passes while we work
    assert woke.wait(2.0)


def test_deadline_caps_the_clock_until_the_waiter_is_awake() -> None:
    c = ModelClock(1000.0)
    token = c.cap(c.now() + 0.5)
    time.sleep(0.05)  # would be 50 modeled seconds
    capped = c.now()
    time.sleep(0.02)
    assert c.now() == capped
    c.uncap(token)
    time.sleep(0.02)
    assert c.now() > capped + 5  # runs again, from where it stood (no jump)


def test_sleepers_wake_in_deadline_order_at_their_deadlines() -> None:
    c = ModelClock(2000.0)
    seen: list[tuple[str, float]] = []
    lock = threading.Lock()

    def sleeper(name: str, seconds: float) -> None:
        with c.busy():
            c.sleep_until(t0 + seconds)
            with lock:
                seen.append((name, c.now()))
            time.sleep(0.01)  # host work after waking: the clock waits for it

    threads = [threading.Thread(target=sleeper, args=(n, s)) for n, s in
               (("late", 30.0), ("early", 10.0), ("mid", 20.0))]
    with c.busy():  # nothing passes while they start
        t0 = c.now()
        for t in threads:
            t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(5)
    assert [n for n, _ in seen] == ["early", "mid", "late"]
    for (_, at), want in zip(seen, (10.0, 20.0, 30.0), strict=True):
        # Each woke exactly at its deadline, whatever the threads' wake-up latency.
        assert at - t0 == pytest.approx(want, abs=0.05)


def test_cancel_ends_a_sleep() -> None:
    c = ModelClock(1.0)
    cancel = threading.Event()
    threading.Timer(0.05, cancel.set).start()
    w0 = time.monotonic()
    assert c.sleep(3600, cancel) is False
    assert time.monotonic() - w0 < 1.0


def test_a_hold_crosses_threads() -> None:
    c = ModelClock(1000.0)
    hold = c.hold()
    t0 = c.now()
    done = threading.Thread(target=hold.release)
    time.sleep(0.02)
    assert c.now() == t0
    done.start()
    done.join()
    hold.release()  # idempotent
    assert c.busy_count == 0


def test_idle_inside_busy_lets_time_run() -> None:
    c = ModelClock(1000.0)
    with c.busy():
        t0 = c.now()
        with c.idle():
            time.sleep(0.02)
        t1 = c.now()
        assert t1 - t0 > 5
        time.sleep(0.02)
        assert c.now() == t1


def test_lent_sleep_passes_at_speed_while_its_caller_holds() -> None:
    c = ModelClock(1000.0)
    caller = c.hold()  # a run waiting on an API answer
    w0 = time.monotonic()
    t0 = c.now()
    assert c.sleep_until(t0 + 1.5, lend=True)
    assert time.monotonic() - w0 < 0.5  # 1.5 ms at speed, not stuck
    assert c.now() == pytest.approx(t0 + 1.5, abs=1e-6)
    caller.release()


def test_valve_lets_time_pass_when_work_never_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock_mod, "VALVE", 0.05)
    c = ModelClock(1000.0)
    with c.busy():
        t0 = c.now()
        time.sleep(0.15)
        # 0.1 s past the valve, at wall speed (not at 1000x)
        assert 0.05 < c.now() - t0 < 0.5
    assert c.valve_trips == 1
    assert 0.05 < c.valve_seconds < 0.5


def test_wall_clock_has_the_same_vocabulary() -> None:
    w = WallClock()
    with w.busy(), w.idle(), w.waiting(w.now() + 1):
        w.hold().release()
    assert w.sleep(0.0)
