"""Cleanup owned by the engine: Stop twice, failed deletions stay live, pause, run lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from test_engine_runner import Creates, FakeCloud, make_ctx, spec

from stemcell.engine import run_lock
from stemcell.engine.context import STOP_CONFIRM_SECONDS, Context
from stemcell.engine.run_folder import RunFolder
from stemcell.engine.runner import Runner
from stemcell.engine.state import Resource, StepRecord


class SlowCleanup(FakeCloud):
    """Deleting waits (as terminating an instance does) on the context's clock."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()
        self.finished_waits = 0

    def delete(self, resource: Resource, ctx: Context) -> None:
        self.waiting.set()
        ctx.sleep(1_000)  # one wall second at speed 1000
        self.finished_waits += 1
        super().delete(resource, ctx)


def test_one_stop_during_cleanup_is_shown_and_does_not_cancel_its_waits(tmp_path: Path) -> None:
    cloud = SlowCleanup()
    ctx = make_ctx(tmp_path, [spec("a"), spec("b")])
    steps = [Creates(spec("a"), cloud, "r1"), Creates(spec("b"), cloud, "r2", then="wait")]
    result: dict[str, str] = {}
    worker = threading.Thread(target=lambda: result.update(s=Runner(ctx, steps).run()))
    ctx.deleter = cloud
    worker.start()
    deadline = time.monotonic() + 30
    while ctx.state.steps.get("b", StepRecord()).status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert ctx.request_stop().startswith("Stopping")
    assert cloud.waiting.wait(30)
    said = ctx.request_stop()  # the second press, during cleanup: only shown
    assert "already cleaning up" in said and "stemcell cleanup" in said
    worker.join(60)
    assert result["s"] == "interrupted"
    assert cloud.finished_waits == 2 and not cloud.alive and not ctx.cleanup_cancel.is_set()


def test_two_quick_presses_during_cleanup_leave_the_rest_and_say_so(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, [spec("a")])
    ctx.cleaning_up = True
    assert "already cleaning up" in ctx.request_stop()
    assert not ctx.cleanup_cancel.is_set()
    assert "stemcell cleanup --run r1" in ctx.request_stop()
    assert ctx.cleanup_cancel.is_set() and ctx.waits_on is ctx.cleanup_cancel
    ctx2 = make_ctx(tmp_path / "2", [spec("a")])
    ctx2.cleaning_up = True
    ctx2.request_stop()
    ctx2._stop_armed -= STOP_CONFIRM_SECONDS + 1  # the second press comes too late
    assert "already cleaning up" in ctx2.request_stop()
    assert not ctx2.cleanup_cancel.is_set()


class Refuses(FakeCloud):
    def delete(self, resource: Resource, ctx: Context) -> None:
        raise RuntimeError("DependencyViolation: still in use")


def test_a_failed_deletion_stays_live_and_the_run_says_what_is_left(tmp_path: Path) -> None:
    cloud = Refuses()
    ctx = make_ctx(tmp_path, [spec("a"), spec("b", "cleanup")])
    ctx.deleter = cloud
    status = Runner(ctx, [Creates(spec("a"), cloud, "sg-1"),
                          Creates(spec("b", "cleanup"), cloud)]).run()
    assert status == "failed"
    left = ctx.state.live_resources()
    assert [r.rid for r in left] == ["sg-1"]
    assert "DependencyViolation" in left[0].extra["delete_error"]
    assert "sg-1" in ctx.state.reason and "stemcell cleanup --run r1" in ctx.state.reason


def test_step_mode_is_the_runners_and_stop_opens_the_gate(tmp_path: Path) -> None:
    cloud = FakeCloud()
    ctx = make_ctx(tmp_path, [spec("a"), spec("b")])
    ctx.deleter = cloud
    ctx.pause.step_mode = True
    paused: list[str] = []
    ctx.pause.on_pause = paused.append
    result: dict[str, str] = {}
    worker = threading.Thread(target=lambda: result.update(s=Runner(
        ctx, [Creates(spec("a"), cloud, "r1"), Creates(spec("b"), cloud, "r2")]).run()))
    worker.start()
    deadline = time.monotonic() + 30
    while ctx.pause.paused_after != "a":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert "r2" not in cloud.alive  # held between the steps
    ctx.pause.cont()
    worker.join(30)
    assert paused == ["a"] and result["s"] == "succeeded"


def test_the_run_lock_is_held_while_running_and_released_after(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    assert not run_lock.is_held(folder)
    with run_lock.hold(folder) as mine:
        assert mine and run_lock.is_held(folder) and folder.lock.is_file()
        with run_lock.hold(folder) as again:
            assert not again  # one process per run
    assert not run_lock.is_held(folder)


class StartsAWatcher(Creates):
    def run(self, ctx: Context) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=lambda: stop.wait(60), daemon=True)
        ctx.workers.add("watcher", stop, thread)
        thread.start()
        self.thread = thread
        super().run(ctx)


def test_the_runner_stops_the_boot_watchers_when_cleanup_starts(tmp_path: Path) -> None:
    cloud = FakeCloud()
    ctx = make_ctx(tmp_path, [spec("a"), spec("b")])
    ctx.deleter = cloud
    watcher = StartsAWatcher(spec("a"), cloud, "r1")
    assert Runner(ctx, [watcher, Creates(spec("b"), cloud, then="fail")]).run() == "failed"
    assert not watcher.thread.is_alive()


def test_leaving_the_cleanup_stops_it_and_the_run_names_the_command(tmp_path: Path) -> None:
    cloud = SlowCleanup()
    ctx = make_ctx(tmp_path, [spec("a"), spec("b")])
    ctx.deleter = cloud
    steps = [Creates(spec("a"), cloud, "r1"), Creates(spec("b"), cloud, "r2", then="wait")]
    result: dict[str, str] = {}
    worker = threading.Thread(target=lambda: result.update(s=Runner(ctx, steps).run()))
    worker.start()
    deadline = time.monotonic() + 30
    while ctx.state.steps.get("b", StepRecord()).status != "running":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    ctx.request_stop()
    assert cloud.waiting.wait(30)
    ctx.request_stop()
    ctx.request_stop()  # the second press during cleanup, within 3 s: leave the rest
    worker.join(60)
    assert result["s"] == "interrupted"
    assert ctx.state.live_resources()  # left, and said so
    assert "stemcell cleanup --run r1" in ctx.state.reason
