"""One lab run, assembled: content + state + backend + steps + recorder.

The CLI's ``stemcell run`` and the TUI both go through ``prepare``; they differ
only in how they show the events. Opening the backend (which may start the
sandbox: ~1 s for moto's first call) is deferred to ``open()``/``run()`` so a UI
can draw its first frame before paying for it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stemcell import paths
from stemcell.content import Lab, Profile, load_lab, load_profile
from stemcell.content.loader import ContentError
from stemcell.content.names import UnknownContent, content_path
from stemcell.engine.context import Context, RunConfig, new_run_id
from stemcell.engine.errors import ConfigError, StateError
from stemcell.engine.events import EventBus
from stemcell.engine.recorder import Recorder
from stemcell.engine.run_folder import STATE_NAME, RunFolder
from stemcell.engine.runner import Runner, summary
from stemcell.engine.state import RunState, StateStore, load_state
from stemcell.engine.statuses import RunStatus
from stemcell.engine.step import Step
from stemcell.engine.student_desk import StudentDesk

if TYPE_CHECKING:
    from stemcell.cloud.backend import Backend



def _find(kind: str, name: str) -> Path:
    try:
        return content_path(kind, name)
    except UnknownContent as exc:
        raise ConfigError(str(exc)) from None


def load_content(config: RunConfig) -> tuple[Lab, Path, Profile, Path]:
    lab_path = _find("lab", config.lab)
    profile_path = _find("profile", config.profile)
    try:
        lab = load_lab(lab_path)
        profile = load_profile(profile_path)
    except ContentError as exc:
        raise ConfigError(str(exc)) from None
    return lab, lab_path, profile, profile_path


@dataclass
class LabSession:
    ctx: Context
    steps: list[Step]
    recorder: Recorder
    backend: Backend | None = None
    resumed: bool = False
    desk: StudentDesk | None = None  # hands-on mode: the steps the student does
    _open_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def bus(self) -> EventBus:
        return self.ctx.bus

    @property
    def run_id(self) -> str:
        return self.ctx.run_id

    def open(self) -> None:
        """Connect the backend (may start the sandbox); idempotent, thread-safe."""
        with self._open_lock:
            if self.backend is not None:
                return
            from stemcell.cloud.backend import open_backend

            self.backend = open_backend(self.ctx.config)
            self.backend.attach(self.ctx)

    def run(self) -> RunStatus:
        """Run (or resume) the lab to the end; blocking. Returns the final status."""
        self.open()
        try:
            return Runner(self.ctx, self.steps, self.desk).run()
        finally:
            self.recorder.flush()

    def cancel(self) -> str:
        """A Stop press: see ``Context.request_stop``; returns what to show."""
        message = self.ctx.request_stop()
        if self.desk is not None:  # a run waiting for the student stops waiting too
            self.desk.wake.set()
        return message

    def where_to_type(self) -> str:
        """Hands-on: how the student's shell reaches this run's cloud, in one sentence."""
        handle = self.backend.sandbox if self.backend is not None else None
        if handle is None:
            return "use your usual AWS CLI profile and region in the shell you type in"
        if handle.background:
            return 'in the shell you type in, first run: eval "$(stemcell sandbox env)"'
        return ("this sandbox runs inside the app: for your shell, quit and start "
                "`stemcell sandbox start` first, then `eval \"$(stemcell sandbox env)\"`"
                f" (endpoint {handle.endpoint_url})")

    def show_me(self) -> str:
        """Hands-on: let stemcell do the step waiting for the student; '' or why not."""
        if self.desk is None:
            return "show me is for hands-on runs"
        return self.desk.show_me()

    def summary(self) -> dict[str, Any]:
        return summary(self.ctx)

    def close(self) -> None:
        self.recorder.close()
        if self.backend is not None:
            self.backend.close()
            self.backend = None


def prepare(
    config: RunConfig,
    *,
    resume: str | None = None,
    bus: EventBus | None = None,
) -> LabSession:
    """Assemble a run. ``resume`` is a run id (or run folder) to continue."""
    from stemcell.steps import build_steps

    resumed = False
    if resume:
        folder = RunFolder(paths.resolve_run(resume))
        state = load_state(folder.state)
        if state.status is RunStatus.SUCCEEDED:
            raise ConfigError(
                f"run {state.run_id} already finished; start a new run instead",
                hint=f"Leftovers of a --keep run: `stemcell cleanup --run {state.run_id}`.",
            )
        config = RunConfig.from_dict(state.config)
        store = StateStore(folder.state, state)
        run_id = state.run_id
        resumed = True
    else:
        run_id = new_run_id()
        folder = paths.run_folder(run_id).create()  # 0700: keys live here
        store = StateStore(folder.state, RunState(run_id=run_id))
    lab, lab_path, profile, profile_path = load_content(config)
    config.lab, config.profile = lab.id, profile.id
    store.state.config = config.to_dict() | {
        "lab_path": str(lab_path),
        "profile_path": str(profile_path),
    }
    store.save()
    ctx = Context(
        run_id=run_id,
        run_dir=folder.path,
        config=config,
        lab=lab,
        profile=profile,
        profile_dir=profile_path.parent,
        store=store,
        bus=bus or EventBus(),
    )
    # A resumed run appends a new recording segment instead of overwriting the first.
    recorder = Recorder(
        folder.next_recording(resumed),
        header={"run_id": run_id, "lab": lab.id, "profile": profile.id,
                "backend": config.backend, "simulated": config.backend == "sandbox"},
    )
    ctx.bus.subscribe(recorder)
    return LabSession(ctx=ctx, steps=build_steps(lab), recorder=recorder, resumed=resumed,
                      desk=student_desk(config, lab))


def autopilot_refusal(config: RunConfig, lab: Lab) -> str:
    """Why the course does not allow this run (guided mode where only hands-on is), or ''."""
    if config.hands_on or lab.autopilot.allows(config.backend):
        return ""
    where = "on AWS" if config.backend == "aws" else "in the sandbox"
    return (f"the course allows only hands-on mode {where} for {lab.id} "
            "(autopilot in the lab file): run it with --hands-on")


def student_desk(config: RunConfig, lab: Lab) -> StudentDesk | None:
    """Hands-on mode: every step the student acts on gets its task."""
    if not config.hands_on:
        return None
    from stemcell.handson import build_tasks

    allowed = lab.autopilot.allows(config.backend)
    return StudentDesk(build_tasks(lab), show_me_allowed=allowed,
                       why_not="" if allowed else "the course asks you to do this step "
                       "yourself here (autopilot is off in the lab file)")


def list_runs() -> list[dict[str, Any]]:
    """Past runs, newest first: lab, profile, backend, when, status, live resources."""
    runs = []
    for state_path in paths.runs_dir().glob(f"*/{STATE_NAME}"):
        try:
            state = load_state(state_path)
        except StateError as exc:
            runs.append({"run_id": state_path.parent.name, "status": "unreadable",
                         "error": exc.message, "run_dir": str(state_path.parent),
                         "created": state_path.stat().st_mtime})
            continue
        runs.append(
            {
                "run_id": state.run_id,
                "lab": state.config.get("lab", ""),
                "profile": state.config.get("profile", ""),
                "backend": state.config.get("backend", ""),
                "created": state.created,
                "status": state.status,
                "reason": state.reason,
                "live_resources": len(state.live_resources()),
                "run_dir": str(state_path.parent),
            }
        )
    return sorted(runs, key=lambda r: float(r.get("created", 0)), reverse=True)


def dump_summary(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
