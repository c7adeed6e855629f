"""What a step gets to work with: config, clock, cloud, dialer, ledger, events.

The context is the only way a step touches the world, which is what lets the
same steps run on AWS and in the sandbox (a different ``cloud`` endpoint,
``dialer`` and ``clock``) and lets tests hand in fakes.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from stemcell.engine.clock import Clock, WallClock
from stemcell.engine.errors import Interrupted, StemcellError
from stemcell.engine.events import (
    ApiCall,
    Event,
    EventBus,
    Log,
    ResourceCreated,
    ResourceDeleted,
    TimingMark,
)
from stemcell.engine.state import Resource, RunState, StateStore

if TYPE_CHECKING:
    from stemcell.content.models import Lab, Profile


class Deleter(Protocol):
    """Deletes one resource by type and id (the cloud layer provides it)."""

    def delete(self, resource: Resource, ctx: Context) -> None: ...


# A second Stop (or Ctrl-C) during cleanup only counts if it comes this soon after
# the first one made during cleanup: one stray press must not abandon the waits.
STOP_CONFIRM_SECONDS = 3.0


class Workers:
    """Background threads steps start (the boot watchers): the runner owns them.

    It stops them all when cleanup starts (nothing keeps knocking on servers being
    terminated) and joins them when the run ends.
    """

    def __init__(self) -> None:
        self._items: list[tuple[str, threading.Event, threading.Thread]] = []
        self._lock = threading.Lock()

    def add(self, name: str, stop: threading.Event, thread: threading.Thread) -> None:
        with self._lock:
            self._items = [i for i in self._items if i[2].is_alive() or not i[2].ident]
            self._items.append((name, stop, thread))

    def stop_all(self) -> None:
        with self._lock:
            items = list(self._items)
        for _, stop, _ in items:
            stop.set()

    def join(self, timeout: float) -> list[str]:
        """Wait up to ``timeout`` wall seconds in all; return the names still running."""
        deadline = time.monotonic() + timeout
        with self._lock:
            items = list(self._items)
        for _, _, thread in items:
            if thread.ident and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        return [name for name, _, thread in items if thread.is_alive()]


class PauseGate:
    """Step mode: the runner holds between steps until the student continues.

    The runner asks ``hold(step_id, cancel)`` after each step it finished; the UI
    turns step mode on and off and calls ``cont()``; a Stop opens the gate.
    """

    def __init__(self) -> None:
        self.step_mode = False
        self.paused_after = ""
        self.on_pause: Callable[[str], None] | None = None
        self._gate = threading.Event()

    def hold(self, step_id: str, cancel: threading.Event) -> None:
        if not self.step_mode:
            return
        self._gate.clear()
        self.paused_after = step_id
        if self.on_pause is not None:
            self.on_pause(step_id)
        try:
            while not self._gate.wait(0.2):
                if cancel.is_set():
                    return
        finally:
            self.paused_after = ""

    def cont(self) -> None:
        self.paused_after = ""
        self._gate.set()


@dataclass
class RunConfig:
    lab: str = "lab1-stem-cell"
    profile: str = "apache-python"
    backend: str = "sandbox"  # sandbox | aws
    region: str = ""  # "": the AWS session's region (profile, AWS_REGION); set on open
    aws_profile: str | None = None
    speed: float | None = None
    keep: bool = False
    yes: bool = False
    ssh_cidr: str | None = None
    allow_ssh_from_anywhere: bool = False
    instance_type: str | None = None
    repeat: int = 1
    ta_keys: list[str] = field(default_factory=list)
    course_account: str | None = None
    hands_on: bool = False  # the student does each step; stemcell recognises and checks
    faults: str = ""  # sandbox only: a --faults spec (sandbox/faults.py)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Context:
    run_id: str
    run_dir: Path
    config: RunConfig
    lab: Lab
    profile: Profile
    profile_dir: Path
    store: StateStore
    bus: EventBus = field(default_factory=EventBus)
    clock: Clock = field(default_factory=WallClock)
    cancel: threading.Event = field(default_factory=threading.Event)
    cloud: Any = None  # stemcell.cloud.ec2.Ec2 - typed there, to keep layers clean
    dialer: Any = None  # stemcell.remote.dialer.Dialer
    deleter: Deleter | None = None
    current_step: str = ""
    # Set by the backend: better words for an exception a step did not catch.
    explain_error: Callable[[BaseException], StemcellError | None] | None = None
    # Cleanup has its own cancel: Stop during the run sets ``cancel``; during cleanup
    # only a confirmed second press (``request_stop``) sets ``cleanup_cancel``.
    cleanup_cancel: threading.Event = field(default_factory=threading.Event)
    cleaning_up: bool = False
    pause: PauseGate = field(default_factory=PauseGate)
    workers: Workers = field(default_factory=Workers)
    _stop_armed: float = 0.0

    @property
    def state(self) -> RunState:
        return self.store.state

    @property
    def simulated(self) -> bool:
        return self.clock.simulated

    # --- events ------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        if not event.t:
            event.t = self.clock.now()
        self.bus.emit(event)

    def log(self, message: str, level: str = "info") -> None:
        self.emit(Log(message=message, level=level, step_id=self.current_step))

    def count_api_call(self, service: str, operation: str) -> None:
        key = f"{service}.{operation}"
        with self.store.lock:
            self.state.api_calls[key] = self.state.api_calls.get(key, 0) + 1
            total = sum(self.state.api_calls.values())
        self.emit(ApiCall(service=service, operation=operation, total=total))

    # --- timing marks --------------------------------------------------------------
    def track_instance(self, instance_id: str, role: str, setup: str, image_id: str) -> None:
        """Start the timeline of an instance (``state.timings["instances"][id]``)."""
        with self.store.lock:
            instances = self.state.timings.setdefault("instances", {})
            instances.setdefault(
                instance_id,
                {"role": role, "setup": setup, "image_id": image_id, "marks": {}},
            )
            self.store.save()

    def mark(self, instance_id: str, mark: str, at: float | None = None) -> None:
        """Record a timing mark (first occurrence wins) and emit it."""
        when = self.clock.now() if at is None else at
        with self.store.lock:
            entry = self.state.timings.setdefault("instances", {}).setdefault(
                instance_id, {"role": "", "setup": "", "image_id": "", "marks": {}}
            )
            if mark in entry["marks"]:
                return
            entry["marks"][mark] = when
            self.store.save()
        self.emit(TimingMark(instance_id=instance_id, mark=mark, at=when,
                             role=entry.get("role", ""), setup=entry.get("setup", "")))

    # --- the bag: values steps hand to later steps, persisted for resume -----------
    def put(self, key: str, value: Any) -> None:
        with self.store.lock:
            self.state.bag[key] = value
            self.store.save()

    def get(self, key: str, default: Any = None) -> Any:
        return self.state.bag.get(key, default)

    def need(self, key: str) -> Any:
        if key not in self.state.bag:
            from stemcell.engine.errors import StepFailed

            raise StepFailed(
                f"this step needs {key!r}, which an earlier step should have produced",
                hint="Run the lab's steps in order (or resume the run that produced it).",
            )
        return self.state.bag[key]

    # --- the ledger ----------------------------------------------------------------
    def record_resource(
        self, rtype: str, rid: str, name: str = "", *, made_by: str = "stemcell", **extra: Any
    ) -> Resource:
        """Record a resource the moment its id exists, before any wait on it.

        ``made_by="student"``: a resource the student made by hand, adopted by a
        hands-on step; cleanup and the comparison treat it as the run's own.
        """
        resource = Resource(
            rtype=rtype,
            rid=rid,
            step_id=self.current_step,
            name=name,
            created=self.clock.now(),
            extra=extra,
            made_by=made_by,
        )
        with self.store.lock:
            self.state.resources.append(resource)
            self.store.save()
        self.emit(ResourceCreated(rtype=rtype, rid=rid, step_id=self.current_step, name=name,
                                  made_by=made_by))
        return resource

    def mark_resource(self, rtype: str, rid: str, state: str, error: str = "") -> None:
        """``failed``: a deletion failed - the resource stays live (counted, retried)."""
        with self.store.lock:
            resource = self.state.find(rtype, rid)
            if resource is not None:
                if state == "failed":
                    resource.state = "live"
                    resource.extra["delete_error"] = error
                else:
                    resource.state = state
                    resource.extra.pop("delete_error", None)
            self.store.save()
        if state in ("deleted", "gone"):
            self.emit(ResourceDeleted(rtype=rtype, rid=rid, error=error))

    def delete_resources(self, step_id: str) -> None:
        """Delete this step's live resources, newest first; log failures, go on."""
        if self.deleter is None:
            return
        mine = [r for r in self.state.live_resources() if r.step_id == step_id]
        # Newest first: the ledger's order reversed (creation times can be equal).
        for resource in reversed(mine):
            try:
                self.deleter.delete(resource, self)
            except Exception as exc:
                self.mark_resource(resource.rtype, resource.rid, "failed", str(exc))
                self.log(f"could not delete {resource.rtype} {resource.rid}: {exc}", "error")

    # --- stopping -----------------------------------------------------------------
    def request_stop(self) -> str:
        """A Stop press or Ctrl-C; returns what to tell the student.

        During the run: cancel it (cleanup follows). During cleanup: the first press
        is only shown; a second within ``STOP_CONFIRM_SECONDS`` abandons the rest of
        the cleanup, which ``stemcell cleanup --run`` then finishes.
        """
        if not self.cleaning_up:
            self.cancel.set()
            return "Stopping: cleaning up what the run created…"
        now = time.monotonic()
        if self._stop_armed and now - self._stop_armed <= STOP_CONFIRM_SECONDS:
            self.cleanup_cancel.set()
            return ("Leaving the rest of the cleanup: remove it with "
                    f"`stemcell cleanup --run {self.run_id}`")
        self._stop_armed = now
        return (f"already cleaning up — press again within {STOP_CONFIRM_SECONDS:g} s to "
                "leave the rest for `stemcell cleanup`")

    @contextmanager
    def cleaning(self) -> Iterator[None]:
        """A cleanup (the runner's, or one the student starts later): waits inside it
        listen to a fresh ``cleanup_cancel``, not to the run's (maybe set) cancel."""
        self.cleanup_cancel = threading.Event()
        self._stop_armed = 0.0
        self.cleaning_up = True
        try:
            yield
        finally:
            self.cleaning_up = False

    @property
    def waits_on(self) -> threading.Event:
        """The event that interrupts waits now: the run's, or cleanup's own."""
        return self.cleanup_cancel if self.cleaning_up else self.cancel

    # --- waiting ------------------------------------------------------------------
    def check_cancel(self) -> None:
        if self.waits_on.is_set():
            raise Interrupted()

    def sleep(self, seconds: float) -> None:
        """Sleep modeled seconds; raise Interrupted as soon as the run is cancelled."""
        if not self.clock.sleep(seconds, self.waits_on):
            raise Interrupted()

    def wait_for(
        self,
        what: str,
        probe: Callable[[], Any],
        timeout: float,
        first: float = 2.0,
        longest: float = 15.0,
        factor: float = 1.5,
    ) -> Any:
        """Poll ``probe`` (modeled seconds) with backoff until it returns a truthy value."""
        from stemcell.engine.errors import StepFailed

        deadline = self.clock.now() + timeout
        delay = first
        while True:
            self.check_cancel()
            result = probe()
            if result:
                return result
            if self.clock.now() >= deadline:
                raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what}")
            self.sleep(min(delay, max(0.05, deadline - self.clock.now())))
            delay = min(longest, delay * factor)


def new_run_id() -> str:
    """Sortable by start time, unique enough to tag a run's resources with."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{secrets.token_hex(3)}"
