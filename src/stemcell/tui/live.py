"""One lab run driven from the app: prepare, warm up and run, each in a thread worker.

The engine is blocking (boto3, paramiko), so the screen calls these methods from
``@work(thread=True)`` workers; events travel to the UI through an ``EventFeed``.
Step-by-step mode is the runner's (``ctx.pause``): it holds between steps until
the student continues, skips the next step or stops. Stop is ``ctx.request_stop``:
during cleanup a single press is only shown, never cancelling cleanup's waits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from stemcell.engine.context import RunConfig
from stemcell.engine.errors import StemcellError
from stemcell.engine.events import Event, InstanceState, StepFinished
from stemcell.engine.state import Resource, StepRecord
from stemcell.engine.statuses import ResourceStatus, StepStatus
from stemcell.tui.feed import EventFeed

if TYPE_CHECKING:
    from stemcell.session import LabSession

# Shown beside a resource found gone (ResourceDeleted.state says so, for code).
GONE = "gone: deleted outside stemcell"
# The types cloud.leftovers.find lists; others (listeners) cannot be checked this way.
FINDABLE = ("load_balancer", "target_group", "instance", "image", "snapshot",
            "security_group", "key_pair", "bucket")
Prepare = Callable[..., "LabSession"]


class LiveRun:
    def __init__(self, config: RunConfig, feed: EventFeed, *, resume: str | None = None,
                 prepare: Prepare | None = None,
                 on_pause: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.feed = feed
        self.resume = resume
        self._prepare = prepare
        self.on_pause = on_pause
        self.session: LabSession | None = None
        self._step_mode = False  # until the session (and its ctx.pause) exists
        self.running = False
        self.status = ""
        self._closed = False

    @property
    def prepared(self) -> LabSession:
        """The session, for what runs only after ``prepare`` (warm up, run, skip)."""
        if self.session is None:
            raise StemcellError("the run is not prepared yet")
        return self.session

    @property
    def step_mode(self) -> bool:
        if self.session is None:
            return self._step_mode
        return bool(self.session.ctx.pause.step_mode)

    @step_mode.setter
    def step_mode(self, on: bool) -> None:
        self._step_mode = on
        if self.session is not None:
            self.session.ctx.pause.step_mode = on

    @property
    def paused_after(self) -> str:
        """The step after which the runner waits ("" when it does not)."""
        if self.session is None:
            return ""
        return str(self.session.ctx.pause.paused_after)

    # --- worker-thread calls ------------------------------------------------------------
    def prepare(self) -> None:
        if self._prepare is None:
            from stemcell.session import prepare as session_prepare

            self._prepare = session_prepare
        session = self._prepare(self.config, resume=self.resume)
        session.ctx.pause.step_mode = self._step_mode
        session.ctx.pause.on_pause = self.on_pause
        session.bus.subscribe(self._on_event)
        self.session = session

    def warm_up(self) -> None:
        """Connect the backend: starts the sandbox (about a second) or checks AWS credentials."""
        self.prepared.open()

    def reconcile(self) -> int:
        """A resumed run: check the ledger against the cloud; what is gone is shown as gone.

        Runs after ``warm_up``. Instances still there report their current state.
        Returns how many resources had disappeared.
        """
        from stemcell.cloud.leftovers import find

        ctx = self.prepared.ctx
        found = {(r.rtype, r.rid): r for r in find(ctx.cloud, ctx.run_id)}
        timings = ctx.state.timings.get("instances", {})
        gone = 0
        for res in list(ctx.state.live_resources()):
            hit = found.get((res.rtype, res.rid))
            if hit is None and res.rtype in FINDABLE:
                ctx.mark_resource(res.rtype, res.rid, ResourceStatus.GONE, GONE)
                gone += 1
            elif hit is not None and res.rtype == "instance":
                info = timings.get(res.rid, {})
                ctx.emit(InstanceState(instance_id=res.rid, state=str(hit.extra.get("state", "")),
                                       role=info.get("role", ""), setup=info.get("setup", ""),
                                       image_id=info.get("image_id", "")))
        return gone

    def run(self) -> str:
        self.running = True
        try:
            self.status = self.prepared.run()
        finally:
            self.running = False
        return self.status

    # --- UI-thread calls --------------------------------------------------------------
    def cont(self) -> None:
        if self.session is not None:
            self.session.ctx.pause.cont()

    def cancel(self) -> str:
        """Stop: returns what to tell the student (see ``Context.request_stop``)."""
        if self.session is None:
            return ""
        return str(self.session.cancel())

    def skip(self, step_id: str, reason: str) -> None:
        """Mark a step not yet run as skipped: the runner passes over it when it gets there."""
        ctx = self.prepared.ctx
        text = f"skipped by the student: {reason}" if reason else "skipped by the student"
        with ctx.store.lock:
            ctx.state.steps[step_id] = StepRecord(status=StepStatus.SKIPPED, error=text)
            ctx.store.save()
        ctx.emit(StepFinished(step_id=step_id, status=StepStatus.SKIPPED, error=text))

    def live_resources(self) -> list[Resource]:
        if self.session is None:
            return []
        return list(self.session.ctx.state.live_resources())

    def close(self) -> None:
        """Idempotent: the app closes every run on exit, some were closed before."""
        if self.session is not None and not self._closed:
            self._closed = True
            ctx = self.session.ctx
            # An app that ends mid-run without the quit dialog (a closed terminal, a
            # test) must not leave the engine thread held in step mode or in a
            # cleanup that nobody watches: what is left is listed by `stemcell runs`.
            ctx.pause.step_mode = False
            ctx.pause.cont()
            ctx.cancel.set()
            ctx.cleanup_cancel.set()
            self.session.close()

    # --- the bus subscriber (engine thread) ---------------------------------------------
    def _on_event(self, event: Event) -> None:
        self.feed.push(event)
