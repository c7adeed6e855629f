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
from types import FrameType
from typing import Any

from stemcell.engine import run_lock
from stemcell.engine.context import Context
from stemcell.engine.errors import Interrupted, SkipStep, StateError, StemcellError
from stemcell.engine.events import (
    EARLIER_NOTE,
    CleanupFinished,
    CleanupStarted,
    Log,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
    StudentCheck,
    StudentTask,
)
from stemcell.engine.redact import redact_value
from stemcell.engine.state import StepRecord
from stemcell.engine.statuses import STARTED, Actor, RunStatus, StepStatus
from stemcell.engine.step import Step
from stemcell.engine.student_desk import HandsOnTask, StudentDesk

# Waiting for the student: ask "done yet?" with the same backoff as the instance
# poller (cloud.poller.Backoff), in modeled seconds; wake within a modeled second.
STUDENT_POLL_FIRST, STUDENT_POLL_FACTOR, STUDENT_POLL_LONGEST = 1.0, 1.5, 5.0
STUDENT_WAKE_SLICE = 1.0


class Runner:
    def __init__(self, ctx: Context, steps: Sequence[Step],
                 desk: StudentDesk | None = None) -> None:
        self.ctx = ctx
        self.steps = list(steps)
        self.desk = desk  # hands-on mode: the student does the steps that have a task
        self._by = Actor.GUIDED  # who does the current step (StepFinished.by)

    # --- public ---------------------------------------------------------------------
    def run(self) -> RunStatus:
        """Run (or resume) the lab; return succeeded | failed | interrupted.

        The run's lock (``engine/run_lock.py``) is held throughout: ``runs`` tells a
        live run from one whose process died, ``cleanup --all`` leaves it alone.
        """
        with run_lock.hold(self.ctx.folder) as mine:
            if not mine:
                raise StateError(f"run {self.ctx.run_id} is being run by another process",
                                 hint="Wait for it to finish, or stop it there.")
            # The engine's thread is an actor: its host work is counted as such, and
            # its waits (clock sleeps, a guest's command) release it (engine/clock.py).
            with self.ctx.clock.busy():
                return self._run()

    def _run(self) -> RunStatus:
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
        self._set_status(RunStatus.RUNNING, "")
        status, reason = RunStatus.SUCCEEDED, ""
        cleaned = False
        for step in self.steps:
            record = state.steps.get(step.spec.id)
            if record and record.status in (StepStatus.DONE, StepStatus.SKIPPED) \
                    and not record.cleaned:
                # Announced, not run: no pause after it either (step mode holds only
                # after a step this session ran).
                ctx.emit(StepFinished(step_id=step.spec.id, status=record.status,
                                      seconds=record.seconds, error=EARLIER_NOTE,
                                      earlier=True))
                continue
            if ctx.cancel.is_set():
                status, reason = RunStatus.INTERRUPTED, "interrupted before " + step.spec.id
                break
            if step.spec.kind == "cleanup":
                self._start(step)
                if ctx.config.keep:
                    self._finish(step, StepStatus.SKIPPED, "kept (--keep): clean up later with "
                                 f"`stemcell cleanup --run {ctx.run_id}`")
                else:
                    self._cleanup("the lab is finished", exclude=step)
                    cleaned = True
                    left = ctx.state.live_resources()
                    self._finish(step, StepStatus.DONE if not left else StepStatus.FAILED,
                                 "" if not left else self._left_behind(left),
                                 by=Actor.GUIDED if self.desk is None else Actor.STEMCELL)
                continue
            outcome, why, hint = self._run_step(step)
            if outcome is StepStatus.INTERRUPTED:
                status, reason = RunStatus.INTERRUPTED, f"interrupted during {step.spec.id}"
                break
            if outcome is StepStatus.FAILED:
                status, reason = RunStatus.FAILED, f"{step.spec.id}: {why}"
                if hint:
                    reason += f" (hint: {hint})"
                break
            if outcome is StepStatus.DONE and step is not self.steps[-1]:
                with ctx.clock.idle():  # the student's pause is not host work
                    ctx.pause.hold(step.spec.id, ctx.cancel)
        if status is not RunStatus.SUCCEEDED and not cleaned:
            self._cleanup(reason)
        elif status is RunStatus.SUCCEEDED and not cleaned and not ctx.config.keep:
            self._cleanup("the lab is finished")
        ctx.workers.stop_all()
        with ctx.clock.idle():  # waiting on the watchers, not working
            still = ctx.workers.join(10.0)
        if still:
            ctx.log(f"background work still running at the end: {', '.join(still)}", "debug")
        left = ctx.state.live_resources()
        if left and not ctx.config.keep:
            # Say exactly what is left and how to remove it: never "nothing left".
            note = self._left_behind(left)
            ctx.log(note, "error")
            if status is RunStatus.SUCCEEDED:
                status, reason = RunStatus.FAILED, note
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
            ctx.state.steps[step.spec.id] = StepRecord(status=StepStatus.RUNNING,
                                                       started=ctx.clock.now())
            ctx.store.save()
        ctx.emit(StepStarted(step_id=step.spec.id, title=step.spec.title,
                             step_kind=step.spec.kind))

    def _finish(self, step: Step, status: StepStatus, error: str = "", hint: str = "",
                by: Actor = Actor.GUIDED) -> None:
        ctx = self.ctx
        with ctx.store.lock:
            record = ctx.state.steps.setdefault(step.spec.id, StepRecord())
            record.status = status
            record.finished = ctx.clock.now()
            record.seconds = round(max(0.0, record.finished - record.started), 3)
            record.error = error
            record.by = by
            ctx.store.save()
        ctx.emit(StepFinished(step_id=step.spec.id, status=status, seconds=record.seconds,
                              error=error, hint=hint, by=by))

    def _run_step(self, step: Step) -> tuple[StepStatus, str, str]:
        self._start(step)
        task = self.desk.task_for(step.spec.id) if self.desk is not None else None
        self._by = Actor.GUIDED if self.desk is None else Actor.STEMCELL
        try:
            if task is not None:
                self._await_student(step, task)
            else:
                step.run(self.ctx)
        except SkipStep as exc:
            self._finish(step, StepStatus.SKIPPED, exc.message, exc.hint, by=self._by)
            return StepStatus.SKIPPED, exc.message, exc.hint
        except Interrupted:
            self._finish(step, StepStatus.INTERRUPTED, "interrupted", by=self._by)
            return StepStatus.INTERRUPTED, "interrupted", ""
        except StemcellError as exc:
            self._finish(step, StepStatus.FAILED, exc.message, exc.hint, by=self._by)
            return StepStatus.FAILED, exc.message, exc.hint
        except Exception as exc:  # a bug or an unexpected cloud error: still clean up
            self.ctx.emit(Log(message=traceback.format_exc(), level="debug",
                              step_id=step.spec.id))
            # The backend may know better words for it (expired credentials, say).
            known = self.ctx.explain_error(exc) if self.ctx.explain_error else None
            if known is not None:
                self._finish(step, StepStatus.FAILED, known.message, known.hint, by=self._by)
                return StepStatus.FAILED, known.message, known.hint
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            self._finish(step, StepStatus.FAILED, detail, by=self._by)
            return StepStatus.FAILED, detail, ""
        self._finish(step, StepStatus.DONE, by=self._by)
        return StepStatus.DONE, "", ""

    # --- hands-on: waiting for the student (like pause, a runner feature) -------------
    def _await_student(self, step: Step, task: HandsOnTask) -> None:
        """Show the task, then ask it "done yet?" each tick; ``self._by`` says who did it.

        The wait ends when the task verifies the student's work ("student"), when
        the student asks stemcell to do it ("show me": the guided ``run``,
        "stemcell"), or with Interrupted when the run is cancelled. A failing
        check keeps the step open; ``desk.recheck()`` asks again at once.
        """
        ctx, desk = self.ctx, self.desk
        assert desk is not None
        step_id = step.spec.id
        brief = task.brief(ctx)
        ctx.emit(StudentTask(step_id=step_id, goal=brief.goal, commands=list(brief.commands),
                             console=brief.console, notes=list(brief.notes)))
        self._by = Actor.STUDENT
        desk.waiting_on = step_id
        delay, last = STUDENT_POLL_FIRST, None
        try:
            while True:
                ctx.check_cancel()
                desk.wake.clear()
                if desk.take_show_me(step_id):
                    ctx.log("show me: stemcell does this step for you")
                    self._by = Actor.STEMCELL
                    step.run(ctx)
                    return
                progress = task.poll(ctx)
                if progress.view() != last:
                    last = progress.view()
                    ctx.emit(StudentCheck(step_id=step_id, found=progress.found,
                                          results=[c.to_dict() for c in progress.lines]))
                if progress.done:
                    return
                self._nap(delay, desk)
                delay = min(STUDENT_POLL_LONGEST, delay * STUDENT_POLL_FACTOR)
        finally:
            desk.waiting_on = ""

    def _nap(self, seconds: float, desk: StudentDesk) -> None:
        """Sleep modeled ``seconds``; wake early on show me / re-check, stop on cancel."""
        ctx = self.ctx
        end = ctx.clock.now() + seconds
        while (left := end - ctx.clock.now()) > 0:
            ctx.check_cancel()
            if not ctx.clock.sleep(min(left, STUDENT_WAKE_SLICE), desk.wake):
                return

    # --- cleanup --------------------------------------------------------------------
    def _cleanup(self, reason: str, exclude: Step | None = None) -> None:
        ctx = self.ctx
        started = [
            s for s in self.steps
            if s is not exclude and ctx.state.steps.get(s.spec.id, StepRecord()).status in STARTED
        ]
        ctx.emit(CleanupStarted(reason=reason))
        ctx.workers.stop_all()  # the boot watchers: nothing knocks on servers going away
        told = False  # the backend's advice on a failure is given once per cleanup
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
                    told = self._say_how_to_recover(exc, told)
                with ctx.store.lock:
                    ctx.state.steps[step.spec.id].cleaned = True
                    ctx.store.save()
            # Anything still live (a step that forgot, a resource of a removed step).
            def recover(exc: Exception) -> None:
                nonlocal told
                told = self._say_how_to_recover(exc, told)

            ctx.delete_resources(on_error=recover)
            sweep = getattr(ctx.deleter, "sweep", None)
            if sweep is not None and not ctx.cleanup_cancel.is_set():
                try:
                    for found in sweep(ctx):
                        ctx.log(f"found {found.rtype} {found.rid} by the run's tag, "
                                "outside the ledger; deleted it", "warning")
                except Exception as exc:
                    ctx.log(f"the sweep by the run's tag failed: {exc}", "error")
        ctx.emit(CleanupFinished(left=len(ctx.state.live_resources())))

    def _say_how_to_recover(self, exc: Exception, told: bool) -> bool:
        """Once per cleanup: the backend's words for a failure (expired credentials: how
        to log in again and finish the cleanup)."""
        if told or self.ctx.explain_error is None:
            return told
        known = self.ctx.explain_error(exc)
        if known is None or not known.hint:
            return told
        self.ctx.log(f"{known.message}: {known.hint}", "error")
        return True

    def _left_behind(self, left: list[Any]) -> str:
        what = ", ".join(f"{r.rtype} {r.rid}"
                         + (f" ({r.extra['delete_error']})" if r.extra.get("delete_error")
                            else "") for r in left)
        return (f"{len(left)} resource(s) left behind: {what}; remove them with "
                f"`stemcell cleanup --run {self.ctx.run_id}`")

    def _set_status(self, status: RunStatus, reason: str) -> None:
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
    """The machine-readable run summary (``stemcell run --json``), redacted: the run's
    reason may quote a failing step's error."""
    state = ctx.state
    return redact_value({
        "run_id": state.run_id,
        "status": state.status,
        "reason": state.reason,
        "lab": ctx.config.lab,
        "profile": ctx.config.profile,
        "backend": ctx.config.backend,
        "region": ctx.config.region,
        "simulated": ctx.simulated,
        "hands_on": ctx.config.hands_on,
        "steps": [
            {"id": s.id, "status": state.steps.get(s.id, StepRecord()).status,
             "seconds": state.steps.get(s.id, StepRecord()).seconds,
             "by": state.steps.get(s.id, StepRecord()).by}
            for s in ctx.lab.steps
        ],
        "resources": [
            {"type": r.rtype, "id": r.rid, "name": r.name, "state": r.state, "step": r.step_id,
             "made_by": r.made_by}
            for r in state.resources
        ],
        "timings": state.timings,
        "api_calls": {"total": sum(state.api_calls.values()), "by_operation": state.api_calls},
        "host_keys": _host_keys(state.bag),
        "run_dir": str(ctx.folder),
        "finished_at": time.time(),
    })


def _host_keys(bag: dict[str, Any]) -> dict[str, int]:
    """How the run's instances' SSH host keys were trusted (remote.reach fills the bag):
    verified against the console, or pinned on first use because it never showed them."""
    seen = bag.get("host_keys")
    values = list(seen.values()) if isinstance(seen, dict) else []
    return {"verified": values.count("verified"),
            "pinned_on_first_use": values.count("pinned")}
