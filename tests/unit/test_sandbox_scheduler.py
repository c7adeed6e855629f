from __future__ import annotations

import threading

from stemcell.engine.clock import ModelClock
from stemcell.sandbox.scheduler import Scheduler


def test_actions_run_in_modeled_order_when_due() -> None:
    clock = ModelClock.starting_now(1000.0)
    scheduler = Scheduler(clock)
    done = threading.Event()
    order: list[str] = []
    scheduler.after(30, lambda: order.append("b"))
    scheduler.after(10, lambda: order.append("a"))
    scheduler.after(50, lambda: (order.append("c"), done.set()))
    scheduler.after(10_000, lambda: order.append("never in this test"))
    assert done.wait(5)
    assert order == ["a", "b", "c"]
    assert scheduler.pending() == 1
    scheduler.close()


def test_run_due_applies_overdue_changes_in_the_callers_thread() -> None:
    clock = ModelClock.starting_now(1.0)
    scheduler = Scheduler(clock)
    seen: list[str] = []
    job = scheduler.at(clock.now() - 1, lambda: seen.append(threading.current_thread().name))
    assert job.due < clock.now()
    scheduler.run_due()
    # Either the caller ran it or the scheduler thread beat it to it; never twice.
    assert len(seen) == 1
    scheduler.close()


def test_a_failing_action_does_not_stop_the_others() -> None:
    clock = ModelClock.starting_now(1000.0)
    scheduler = Scheduler(clock)
    done = threading.Event()

    def boom() -> None:
        raise RuntimeError("broken")

    scheduler.after(1, boom)
    scheduler.after(2, done.set)
    assert done.wait(5)
    scheduler.close()
