"""Runs a lab's steps in order and guarantees cleanup, newest first.

Semantics (tested in tests/unit/test_runner.py):
- steps run in order; a step already ``done`` in the state (a resumed run) is skipped;
- a ``cleanup`` step, when reached, cleans up every earlier step (unless --keep);
- on failure, interrupt (cancel event, SIGINT, SIGTERM) or an unexpected error, every
  step that started - in this process or in the run being resumed - is cleaned up,
  newest first, and the reason is recorded in the state and a RunFinished event;
- cleanup runs even when the run was cancelled: its waits listen to a separate
  ``ctx.cleanup_cancel``, set only by a confirmed second Stop (``ctx.request_stop``);
  each step's cleanup is isolated so one failure does not stop the others, and it
  ends with a sweep by the run's tag (a create retried after a lost answer leaves a
  resource the ledger never saw);
- a resource whose deletion failed stays live in the ledger; the run ends saying
  what is left and the command that removes it;
- step mode (``ctx.pause``) holds the runner after each step it finished.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from stemcell.engine import run_lock
from stemcell.engine.context import Context
from stemcell.engine.errors import Interrupted, SkipStep, StateError, StemcellError
from stemcell.engine.events import (
    CleanupFinished,
    CleanupStarted,
    Log,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from stemcell.engine.state import StepRecord
from stemcell.engine.step import Step

STARTED = ("running", "done", "failed", "interrupted")


class Runner:
    def __init__(self, ctx: Context, steps: Sequence[Step]) -> None:
        self.ctx = ctx
        self.steps = list(steps)

    # --- public ---------------------------------------------------------------------
    def run(self) -> str:
        """Run (or resume) the lab; return succeeded | failed | interrupted.

        The run's lock (``engine/run_lock.py``) is held throughout: ``runs`` tells a
        live run from one whose process died, ``cleanup --all`` leaves it alone.
        """
        with run_lock.hold(Path(self.ctx.run_dir)) as mine:
            if not mine:
                raise StateError(f"run {self.ctx.run_id} is being run by another process",
                                 hint="Wait for it to finish, or stop it there.")
            return self._run()

    def _run(self) -> str:
        ctx = self.ctx
        state = ctx.state
        ctx.emit(
            RunStarted(
                run_id=ctx.run_id,
                lab=ctx.config.lab,
                profile=ctx.config.profile,
                backend=ctx.config.backend,
                region=ctx.config.region,
                simulated=ctx.simulated,
                steps=[
                    {"id": s.spec.id, "title": s.spec.title, "kind": s.spec.kind}
                    for s in self.steps
                ],
            )
        )
        self._set_status("running", "")
        status, reason = "succeeded", ""
        cleaned = False
        for step in self.steps:
            record = state.steps.get(step.spec.id)
            if record and record.status in ("done", "skipped") and not record.cleaned:
                ctx.emit(StepFinished(step_id=step.spec.id, status=record.status,
                                      seconds=record.seconds, error="(done in an earlier session)"))
                continue
            if ctx.cancel.is_set():
                status, reason = "interrupted", "interrupted before " + step.spec.id
                break
            if step.spec.kind == "cleanup":
                self._start(step)
                if ctx.config.keep:
                    self._finish(step, "skipped", "kept (--keep): clean up later with "
                                 f"`stemcell cleanup --run {ctx.run_id}`")
                else:
                    self._cleanup("the lab is finished", exclude=step)
                    cleaned = True
                    left = ctx.state.live_resources()
                    self._finish(step, "done" if not left else "failed",
                                 "" if not left else self._left_behind(left))
                continue
            outcome, why, hint = self._run_step(step)
            if outcome == "interrupted":
                status, reason = "interrupted", f"interrupted during {step.spec.id}"
                break
            if outcome == "failed":
                status, reason = "failed", f"{step.spec.id}: {why}"
                if hint:
                    reason += f" (hint: {hint})"
                break
            if outcome == "done" and step is not self.steps[-1]:
                ctx.pause.hold(step.spec.id, ctx.cancel)
        if status != "succeeded" and not cleaned:
            self._cleanup(reason)
        elif status == "succeeded" and not cleaned and not ctx.config.keep:
            self._cleanup("the lab is finished")
        ctx.workers.stop_all()
        still = ctx.workers.join(10.0)
        if still:
            ctx.log(f"background work still running at the end: {', '.join(still)}", "debug")
        left = ctx.state.live_resources()
        if left and not ctx.config.keep:
            # Say exactly what is left and how to remove it: never "nothing left".
            note = self._left_behind(left)
            ctx.log(note, "error")
            if status == "succeeded":
                status, reason = "failed", note
            else:
                reason = f"{reason}; {note}"
        self._set_status(status, reason)
        ctx.emit(RunFinished(run_id=ctx.run_id, status=status, reason=reason))
        return status

    # --- steps ----------------------------------------------------------------------
    def _start(self, step: Step) -> None:
        ctx = self.ctx
        ctx.current_step = step.spec.id
        with ctx.store.lock:
            ctx.state.steps[step.spec.id] = StepRecord(status="running", started=ctx.clock.now())
            ctx.store.save()
        ctx.emit(StepStarted(step_id=step.spec.id, title=step.spec.title,
                             step_kind=step.spec.kind))

    def _finish(self, step: Step, status: str, error: str = "", hint: str = "") -> None:
        ctx = self.ctx
        with ctx.store.lock:
            record = ctx.state.steps.setdefault(step.spec.id, StepRecord())
            record.status = status
            record.finished = ctx.clock.now()
            record.seconds = round(max(0.0, record.finished - record.started), 3)
            record.error = error
            ctx.store.save()
        ctx.emit(StepFinished(step_id=step.spec.id, status=status, seconds=record.seconds,
                              error=error, hint=hint))

    def _run_step(self, step: Step) -> tuple[str, str, str]:
        self._start(step)
        try:
            step.run(self.ctx)
        except SkipStep as exc:
            self._finish(step, "skipped", exc.message, exc.hint)
            return "skipped", exc.message, exc.hint
        except Interrupted:
            self._finish(step, "interrupted", "interrupted")
            return "interrupted", "interrupted", ""
        except StemcellError as exc:
            self._finish(step, "failed", exc.message, exc.hint)
            return "failed", exc.message, exc.hint
        except Exception as exc:  # a bug or an unexpected cloud error: still clean up
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self.ctx.emit(Log(message=traceback.format_exc(), level="debug",
                              step_id=step.spec.id))
            self._finish(step, "failed", detail)
            return "failed", detail, ""
        self._finish(step, "done")
        return "done", "", ""

    # --- cleanup --------------------------------------------------------------------
    def _cleanup(self, reason: str, exclude: Step | None = None) -> None:
        ctx = self.ctx
        started = [
            s for s in self.steps
            if s is not exclude and ctx.state.steps.get(s.spec.id, StepRecord()).status in STARTED
        ]
        ctx.emit(CleanupStarted(reason=reason))
        ctx.workers.stop_all()  # the boot watchers: nothing knocks on servers going away
        # Cleanup must finish even though the run was cancelled: from here on waits
        # listen to ctx.cleanup_cancel, which only a confirmed second Stop sets.
        with ctx.cleaning():
            for step in reversed(started):
                if ctx.cleanup_cancel.is_set():
                    ctx.log("cleanup left to `stemcell cleanup --run "
                            f"{ctx.run_id}` at the student's request", "warning")
                    break
                ctx.current_step = step.spec.id
                try:
                    step.cleanup(ctx)
                except Exception as exc:
                    ctx.log(f"cleanup of {step.spec.id} failed: {exc}", "error")
                with ctx.store.lock:
                    ctx.state.steps[step.spec.id].cleaned = True
                    ctx.store.save()
            # Anything still live (a step that forgot, a resource of a removed step).
            for resource in sorted(ctx.state.live_resources(), key=lambda r: r.created,
                                   reverse=True):
                if ctx.deleter is None:
                    break
                if ctx.cleanup_cancel.is_set():
                    break
                try:
                    ctx.deleter.delete(resource, ctx)
                except Exception as exc:
                    ctx.mark_resource(resource.rtype, resource.rid, "failed", str(exc))
                    ctx.log(f"could not delete {resource.rtype} {resource.rid}: {exc}",
                            "error")
            sweep = getattr(ctx.deleter, "sweep", None)
            if sweep is not None and not ctx.cleanup_cancel.is_set():
                try:
                    for found in sweep(ctx):
                        ctx.log(f"found {found.rtype} {found.rid} by the run's tag, "
                                "outside the ledger; deleted it", "warning")
                except Exception as exc:
                    ctx.log(f"the sweep by the run's tag failed: {exc}", "error")
        ctx.emit(CleanupFinished(left=len(ctx.state.live_resources())))

    def _left_behind(self, left: list[Any]) -> str:
        what = ", ".join(f"{r.rtype} {r.rid}"
                         + (f" ({r.extra['delete_error']})" if r.extra.get("delete_error")
                            else "") for r in left)
        return (f"{len(left)} resource(s) left behind: {what}; remove them with "
                f"`stemcell cleanup --run {self.ctx.run_id}`")

    def _set_status(self, status: str, reason: str) -> None:
        with self.ctx.store.lock:
            self.ctx.state.status = status
            self.ctx.state.reason = reason
            self.ctx.store.save()


@contextmanager
def interrupt_on_signals(target: threading.Event | Context) -> Iterator[None]:
    """SIGINT and SIGTERM stop the run (so the runner cleans up) instead of killing us.

    Given a context, each signal is ``ctx.request_stop()``: a Ctrl-C during cleanup
    is shown, and only a second one within 3 s leaves the rest for ``stemcell
    cleanup``. Given an event, it is set. Only usable from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    seen = {"count": 0}

    def handler(signum: int, frame: FrameType | None) -> None:
        seen["count"] += 1
        if isinstance(target, threading.Event):
            target.set()
            return
        # No event from here: the bus, recorder and printer hold plain locks the
        # interrupted main thread may be holding. A raw write to stderr is safe.
        os.write(2, f"\n{target.request_stop()}\n".encode())

    previous: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def summary(ctx: Context) -> dict[str, Any]:
    """The machine-readable run summary (``stemcell run --json``)."""
    state = ctx.state
    return {
        "run_id": state.run_id,
        "status": state.status,
        "reason": state.reason,
        "lab": ctx.config.lab,
        "profile": ctx.config.profile,
        "backend": ctx.config.backend,
        "region": ctx.config.region,
        "simulated": ctx.simulated,
        "steps": [
            {"id": s.id, "status": state.steps.get(s.id, StepRecord()).status,
             "seconds": state.steps.get(s.id, StepRecord()).seconds}
            for s in ctx.lab.steps
        ],
        "resources": [
            {"type": r.rtype, "id": r.rid, "name": r.name, "state": r.state, "step": r.step_id}
            for r in state.resources
        ],
        "timings": state.timings,
        "api_calls": {"total": sum(state.api_calls.values()), "by_operation": state.api_calls},
        "run_dir": str(ctx.run_dir),
        "finished_at": time.time(),
    }
