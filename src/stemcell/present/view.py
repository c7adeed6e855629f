"""The view model: a pure reducer from events to what every pane shows.

The TUI's panes, replay (interactive and ``--headless``) and the tests all fold
the same event stream through :class:`ViewModel`, so a replayed run shows exactly
what the live run showed. Nothing here knows about Textual; panes read the model
and the ``changed`` set tells them which of them need redrawing after a batch.
The live bars are ``timing.phases.role_timeline`` of the marks seen so far (the
function the report's phases come from), the comparison is a
``timing.comparison.ComparisonResult``, and log lines are ``event_text.describe``.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from stemcell.engine.events import (
    ApiCall,
    CleanupFinished,
    CleanupStarted,
    Comparison,
    CostEstimate,
    Event,
    ImageState,
    InstanceState,
    Log,
    ResourceCreated,
    ResourceDeleted,
    RunFinished,
    RunStarted,
    SshOutput,
    StepFinished,
    StepStarted,
    StudentCheck,
    StudentTask,
    TimingMark,
)
from stemcell.engine.redact import StreamRedactor
from stemcell.engine.statuses import ResourceStatus
from stemcell.present.event_text import describe
from stemcell.timing.comparison import ComparisonResult
from stemcell.timing.marks import RUNNING
from stemcell.timing.phases import PHASE_KEYS, RoleTimeline, role_timeline

SSH_LINES_PER_INSTANCE = 2000
LOG_LINES = 1000


@dataclass
class StepView:
    id: str
    title: str
    kind: str = ""
    status: str = "pending"  # pending | running | done | failed | skipped | interrupted
    started: float = 0.0
    seconds: float = 0.0
    error: str = ""
    hint: str = ""
    by: str = ""  # hands-on runs: "student" | "stemcell"
    # Hands-on: the student's task and what stemcell sees of it so far.
    goal: str = ""
    commands: list[str] = field(default_factory=list)
    console: str = ""
    notes: list[str] = field(default_factory=list)
    found: str = ""
    checks: list[dict[str, str]] = field(default_factory=list)


@dataclass
class InstanceView:
    instance_id: str
    role: str = ""
    setup: str = ""
    image_id: str = ""
    state: str = ""
    address: str = ""
    launched_at: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)  # phases: timing.phases.timeline


@dataclass
class ImageView:
    image_id: str
    state: str = "pending"
    phase: str = ""
    progress: float = 0.0


@dataclass
class ResourceView:
    rtype: str
    rid: str
    name: str = ""
    step_id: str = ""
    state: str = "live"  # live | deleted | gone | failed
    error: str = ""


class ViewModel:
    def __init__(self) -> None:
        self.run_id = ""
        self.lab = ""
        self.profile = ""
        self.backend = ""
        self.region = ""
        self.simulated = True
        self.status = "idle"  # idle | running | succeeded | failed | interrupted
        self.reason = ""
        self.started_at = 0.0
        self.now = 0.0
        self.steps: dict[str, StepView] = {}
        self.current_step = ""
        self.instances: dict[str, InstanceView] = {}
        self.images: dict[str, ImageView] = {}
        self.resources: dict[tuple[str, str], ResourceView] = {}
        self.ssh: dict[str, deque[str]] = {}
        self.ssh_total = 0
        self.ssh_all: deque[tuple[str, str]] = deque(maxlen=SSH_LINES_PER_INSTANCE)
        self.api_counts: Counter[str] = Counter()
        self.api_total = 0
        self.cost_usd = 0.0
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.comparison: ComparisonResult | None = None
        self.cleanup = ""  # "" | running | done
        self.events = 0
        # Filled by apply(), emptied by whoever draws (the SSH and log panes).
        self.new_ssh: list[tuple[str, str]] = []
        self.new_log: list[str] = []
        self.changed: set[str] = set()
        self._redactor = StreamRedactor()

    # --- folding ------------------------------------------------------------------
    def apply_all(self, events: list[Event]) -> set[str]:
        for event in events:
            self.apply(event)
        return self.changed

    def apply(self, event: Event) -> None:
        # The view model holds only what may be shown: redacted and sanitised copies
        # (a live run's events, or a recording someone else made).
        event = self._redactor.event(event)
        self.events += 1
        if event.t:
            self.now = max(self.now, event.t)
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        line = describe(event, self.started_at)
        if line is not None:
            self.log.append(line)
            self.new_log.append(line)
            self.changed.add("log")

    def take_changes(self) -> tuple[set[str], list[tuple[str, str]], list[str]]:
        """What changed since the last call, and the SSH and log lines to append."""
        changed, ssh, log = self.changed, self.new_ssh, self.new_log
        self.changed, self.new_ssh, self.new_log = set(), [], []
        return changed, ssh, log

    def seed_resources(self, resources: list[Any], instances: dict[str, dict[str, Any]]) -> None:
        """A resumed run: what the run's state says it owns, before the cloud is asked."""
        for r in resources:
            self.resources[(r.rtype, r.rid)] = ResourceView(r.rtype, r.rid, r.name, r.step_id,
                                                           r.state)
            if r.rtype == "instance":
                info = instances.get(r.rid, {})
                inst = self.instances.setdefault(r.rid, InstanceView(r.rid))
                inst.role, inst.setup = info.get("role", ""), info.get("setup", "")
                inst.image_id = info.get("image_id", "")
                inst.marks.update(info.get("marks", {}))
                inst.state = "?" if r.state == "live" else r.state
        self.changed.update({"resources", "instances", "timing"})

    def declare_steps(self, steps: list[dict[str, str]]) -> None:
        """Show the lab's steps as pending before the run has started."""
        for spec in steps:
            if spec["id"] not in self.steps:
                self.steps[spec["id"]] = StepView(spec["id"], spec["title"], spec.get("kind", ""))
        self.changed.add("steps")

    def _run_started(self, e: RunStarted) -> None:
        self.run_id, self.lab, self.profile = e.run_id, e.lab, e.profile
        self.backend, self.region, self.simulated = e.backend, e.region, e.simulated
        self.status, self.reason = "running", ""
        if not self.started_at:
            self.started_at = e.t
        self.declare_steps(e.steps)
        self.changed.update({"run", "steps"})

    def _run_finished(self, e: RunFinished) -> None:
        self.status, self.reason = e.status, e.reason
        self.changed.add("run")

    def _step_started(self, e: StepStarted) -> None:
        step = self.steps.setdefault(e.step_id, StepView(e.step_id, e.title, e.step_kind))
        step.status, step.started, step.error, step.hint = "running", e.t, "", ""
        self.current_step = e.step_id
        self.changed.update({"steps", "current"})

    def _step_finished(self, e: StepFinished) -> None:
        step = self.steps.setdefault(e.step_id, StepView(e.step_id, e.step_id))
        # A step skipped with a reason keeps the student's reason over the
        # runner's re-announcement of it in a resumed session (``earlier``).
        keep_reason = e.earlier and step.status == "skipped" and bool(step.error)
        step.status, step.seconds = e.status, e.seconds
        step.by = e.by or step.by
        if not keep_reason:
            step.error, step.hint = e.error, e.hint
        self.changed.update({"steps", "current"})

    def _student_task(self, e: StudentTask) -> None:
        step = self.steps.setdefault(e.step_id, StepView(e.step_id, e.step_id))
        step.goal, step.commands, step.console = e.goal, list(e.commands), e.console
        step.notes, step.found, step.checks = list(e.notes), "", []
        self.changed.update({"steps", "current", "student"})

    def _student_check(self, e: StudentCheck) -> None:
        step = self.steps.setdefault(e.step_id, StepView(e.step_id, e.step_id))
        step.found, step.checks = e.found, [dict(r) for r in e.results]
        self.changed.update({"current", "student"})

    def _cleanup_started(self, e: CleanupStarted) -> None:
        self.cleanup = "running"
        self.changed.add("run")

    def _cleanup_finished(self, e: CleanupFinished) -> None:
        self.cleanup = "done"
        self.changed.add("run")

    def _resource_created(self, e: ResourceCreated) -> None:
        self.resources[(e.rtype, e.rid)] = ResourceView(e.rtype, e.rid, e.name, e.step_id)
        self.changed.add("resources")

    def _resource_deleted(self, e: ResourceDeleted) -> None:
        res = self.resources.setdefault((e.rtype, e.rid), ResourceView(e.rtype, e.rid))
        # GONE: deleted outside stemcell (a resumed run's reconcile) or found gone.
        gone = e.state == ResourceStatus.GONE
        res.state = "gone" if gone else ("failed" if e.error else "deleted")
        res.error = e.error
        if e.rtype == "instance" and e.rid in self.instances and res.state != "failed":
            inst = self.instances[e.rid]
            if inst.state not in ("terminated", "gone"):
                inst.state = "gone" if gone else "terminated"
                self.changed.add("instances")
        self.changed.add("resources")

    def _instance_state(self, e: InstanceState) -> None:
        inst = self.instances.setdefault(e.instance_id, InstanceView(e.instance_id))
        inst.state = e.state
        for name in ("role", "setup", "image_id", "address", "launched_at"):
            value = getattr(e, name)
            if value:
                setattr(inst, name, value)
        self.changed.add("instances")

    def _image_state(self, e: ImageState) -> None:
        img = self.images.setdefault(e.image_id, ImageView(e.image_id))
        img.state = e.state
        if e.phase:
            img.phase = e.phase
        img.progress = max(0.0, min(1.0, e.progress)) if e.state != "available" else 1.0
        self.changed.add("bake")

    def _ssh_output(self, e: SshOutput) -> None:
        buf = self.ssh.get(e.instance_id)
        if buf is None:
            buf = self.ssh[e.instance_id] = deque(maxlen=SSH_LINES_PER_INSTANCE)
        buf.append(e.line)
        self.ssh_all.append((e.instance_id, e.line))
        self.ssh_total += 1
        self.new_ssh.append((e.instance_id, e.line))
        self.changed.add("ssh")

    def _timing_mark(self, e: TimingMark) -> None:
        inst = self.instances.setdefault(e.instance_id, InstanceView(e.instance_id))
        # The engine emits a mark once, and again only to correct it (the guest's own
        # account tightens a late observation: steps/step_measure_boots.py): the latest wins.
        inst.marks[e.mark] = e.at
        if e.role and not inst.role:
            inst.role = e.role
        if e.setup and not inst.setup:
            inst.setup = e.setup
        self.changed.update({"timing", "instances"})

    def _api_call(self, e: ApiCall) -> None:
        self.api_counts[f"{e.service}.{e.operation}"] += 1
        self.api_total = max(self.api_total + 1, e.total)
        self.changed.add("api")

    def _cost(self, e: CostEstimate) -> None:
        self.cost_usd = e.usd
        self.changed.add("api")

    def _log(self, e: Log) -> None:
        pass  # shown through describe()

    def _comparison(self, e: Comparison) -> None:
        try:
            self.comparison = ComparisonResult.from_dict(e.data)
        except (AttributeError, KeyError, TypeError, ValueError):
            # A recording from a stemcell whose comparison we cannot read (a newer
            # version): the live marks still tell the story.
            self.comparison = None
        self.changed.add("timing")

    # --- derived views -------------------------------------------------------------
    def step_elapsed(self, step: StepView) -> float:
        if step.status == "running":
            return max(0.0, self.now - step.started)
        return step.seconds

    def uptime(self, inst: InstanceView) -> float | None:
        start = inst.marks.get(RUNNING) or inst.launched_at
        if not start or inst.state in ("terminated", "stopped", "gone", "shutting-down"):
            return None
        return max(0.0, self.now - start)

    def instance_label(self, instance_id: str) -> str:
        inst = self.instances.get(instance_id)
        if inst is None or not inst.role:
            return instance_id[-8:]
        return inst.role if inst.setup in ("builder", "") else f"{inst.role}#{inst.setup}"

    def live_resources(self) -> list[ResourceView]:
        return [r for r in self.resources.values() if r.state == "live"]

    def baking_image(self) -> ImageView | None:
        """The most recent image (the lab bakes one)."""
        return list(self.images.values())[-1] if self.images else None

    def boot_bars(self) -> list[RoleTimeline]:
        """Setup #1 vs #2 per role: from the compare step once it has spoken, else live marks."""
        measured = self._bars_from_comparison()
        return measured if measured else self._bars_from_marks()

    def _bars_from_comparison(self) -> list[RoleTimeline]:
        """The compare step's per-phase medians (it corrects for clock skew and log times)."""
        if self.comparison is None:
            return []
        bars: list[RoleTimeline] = []
        for row in self.comparison.roles:
            for setup, block in sorted(row.setups.items()):
                phases = {k: block.median(k) or 0.0 for k in PHASE_KEYS
                          if block.phases.get(k) is not None}
                bars.append(RoleTimeline(row.role, setup, phases, block.n,
                                         not block.not_ready))
        return _in_role_order(bars)

    def conclusion(self) -> list[str]:
        return [] if self.comparison is None else list(self.comparison.conclusion)

    def _bars_from_marks(self) -> list[RoleTimeline]:
        """Each role's timeline over its instances, from the marks seen so far."""
        groups: dict[tuple[str, str], list[InstanceView]] = {}
        for inst in self.instances.values():
            if inst.setup in ("1", "2") and inst.role:
                groups.setdefault((inst.role, inst.setup), []).append(inst)
        return _in_role_order([role_timeline(role, setup, [i.marks for i in members])
                               for (role, setup), members in groups.items()])

    def snapshot(self) -> dict[str, Any]:
        """Everything the panes show, as plain data (replay tests compare these)."""
        return {
            "run": [self.run_id, self.lab, self.profile, self.backend, self.status],
            "steps": [[s.id, s.status, round(s.seconds, 1), s.error] for s in self.steps.values()],
            "instances": [
                [i.instance_id, i.role, i.setup, i.image_id, i.state, i.address]
                for i in self.instances.values()
            ],
            "ssh": {k: list(v) for k, v in self.ssh.items()},
            "bars": [[b.role, b.setup, {k: round(v, 1) for k, v in b.phases.items()}]
                     for b in self.boot_bars()],
            "api": [self.api_total, dict(self.api_counts), round(self.cost_usd, 4)],
            "resources": [[r.rtype, r.rid, r.state] for r in self.resources.values()],
            "images": [[i.image_id, i.state, i.phase] for i in self.images.values()],
        }


def _role_order(role: str) -> tuple[int, str]:
    order = {"web": 0, "app-api": 1, "app-worker": 2}
    return (order.get(role, 9), role)


def _in_role_order(bars: list[RoleTimeline]) -> list[RoleTimeline]:
    return sorted(bars, key=lambda b: (_role_order(b.role), b.setup))


_HANDLERS: dict[type[Event], Any] = {
    RunStarted: ViewModel._run_started,
    RunFinished: ViewModel._run_finished,
    StepStarted: ViewModel._step_started,
    StepFinished: ViewModel._step_finished,
    CleanupStarted: ViewModel._cleanup_started,
    CleanupFinished: ViewModel._cleanup_finished,
    ResourceCreated: ViewModel._resource_created,
    ResourceDeleted: ViewModel._resource_deleted,
    InstanceState: ViewModel._instance_state,
    ImageState: ViewModel._image_state,
    SshOutput: ViewModel._ssh_output,
    TimingMark: ViewModel._timing_mark,
    ApiCall: ViewModel._api_call,
    CostEstimate: ViewModel._cost,
    Log: ViewModel._log,
    Comparison: ViewModel._comparison,
    StudentTask: ViewModel._student_task,
    StudentCheck: ViewModel._student_check,
}
