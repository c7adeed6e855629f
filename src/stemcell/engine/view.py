"""The view model: a pure reducer from events to what every pane shows.

The TUI's panes, replay (interactive and ``--headless``) and the tests all fold
the same event stream through :class:`ViewModel`, so a replayed run shows exactly
what the live run showed. Nothing here knows about Textual; panes read the model
and the ``changed`` set tells them which of them need redrawing after a batch.
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

# Timing marks in the order an instance passes them, and the phase each one ends.
MARKS = (
    "run_instances_sent",
    "run_instances_returned",
    "running",
    "tcp_refused",
    "ssh_accepting",
    "cloud_init_done",
    "http_healthy",
    "lb_healthy",
)
PHASE_ENDING_AT = {
    "run_instances_returned": "api",
    "running": "pending",
    "tcp_refused": "network",
    "ssh_accepting": "sshd",
    "cloud_init_done": "cloud-init",
    "http_healthy": "app",
}
PHASES = ("api", "pending", "network", "sshd", "cloud-init", "app")

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
    marks: dict[str, float] = field(default_factory=dict)

    def phases(self) -> dict[str, float]:
        """Seconds spent in each phase, between consecutive marks that were seen.

        A missing mark (SSH may already answer on the first probe, so no refusal
        is ever seen) folds its phase into the next one instead of inventing it.
        """
        out: dict[str, float] = {}
        previous: float | None = self.marks.get("run_instances_sent")
        for mark in MARKS[1:]:
            if mark not in PHASE_ENDING_AT:
                continue
            at = self.marks.get(mark)
            if at is None or previous is None:
                continue
            out[PHASE_ENDING_AT[mark]] = max(0.0, at - previous)
            previous = at
        return out


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


@dataclass
class BootBar:
    """One bar of the comparison: a role under one setup, averaged over its instances."""

    role: str
    setup: str
    phases: dict[str, float]
    instances: int
    complete: bool  # every instance reached http_healthy

    @property
    def total(self) -> float:
        return sum(self.phases.values())


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
        self.cost_detail = ""
        self.log: deque[str] = deque(maxlen=LOG_LINES)
        self.comparison: dict[str, Any] = {}
        self.cleanup = ""  # "" | running | done
        self.cleanup_reason = ""
        self.cleanup_left = 0
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
        self.cleanup, self.cleanup_reason = "running", e.reason
        self.changed.add("run")

    def _cleanup_finished(self, e: CleanupFinished) -> None:
        self.cleanup, self.cleanup_left = "done", e.left
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
        self.cost_usd, self.cost_detail = e.usd, e.detail
        self.changed.add("api")

    def _log(self, e: Log) -> None:
        pass  # shown through describe()

    def _comparison(self, e: Comparison) -> None:
        self.comparison = dict(e.data)
        self.changed.add("timing")

    # --- derived views -------------------------------------------------------------
    def step_elapsed(self, step: StepView) -> float:
        if step.status == "running":
            return max(0.0, self.now - step.started)
        return step.seconds

    def uptime(self, inst: InstanceView) -> float | None:
        start = inst.marks.get("running") or inst.launched_at
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

    def boot_bars(self) -> list[BootBar]:
        """Setup #1 vs #2 per role: from the compare step once it has spoken, else live marks."""
        measured = self._bars_from_comparison()
        return measured if measured else self._bars_from_marks()

    def _bars_from_comparison(self) -> list[BootBar]:
        """The compare step's per-phase medians (it corrects for clock skew and log times)."""
        roles = self.comparison.get("roles")
        if not isinstance(roles, list):
            return []
        bars: list[BootBar] = []
        try:
            for entry in roles:
                for setup, data in sorted(entry.get("setups", {}).items()):
                    phases: dict[str, float] = {}
                    for key, stats in (data.get("phases") or {}).items():
                        name = key.replace("_", "-")
                        if isinstance(stats, dict) and name in PHASES:
                            phases[name] = float(stats.get("median") or 0.0)
                    bars.append(BootBar(str(entry["role"]), str(setup),
                                        {p: phases[p] for p in PHASES if p in phases},
                                        int(data.get("n", 1)), not data.get("not_ready")))
        except (AttributeError, KeyError, TypeError, ValueError):
            return []  # a shape we do not know: the live marks still tell the story
        roles_seen = sorted({b.role for b in bars}, key=_role_order)
        return sorted(bars, key=lambda b: (roles_seen.index(b.role), b.setup))

    def conclusion(self) -> list[str]:
        text = self.comparison.get("conclusion") or self.comparison.get("summary")
        if isinstance(text, str):
            return [text] if text else []
        if isinstance(text, list):
            return [str(t) for t in text if t]
        return []

    def _bars_from_marks(self) -> list[BootBar]:
        """Mean phase seconds over each role's instances, from the marks seen so far."""
        groups: dict[tuple[str, str], list[InstanceView]] = {}
        for inst in self.instances.values():
            if inst.setup in ("1", "2") and inst.role:
                groups.setdefault((inst.role, inst.setup), []).append(inst)
        bars: list[BootBar] = []
        for (role, setup), members in groups.items():
            sums: dict[str, float] = {}
            for inst in members:
                for phase, seconds in inst.phases().items():
                    sums[phase] = sums.get(phase, 0.0) + seconds
            phases = {p: sums[p] / len(members) for p in PHASES if p in sums}
            complete = all("http_healthy" in i.marks for i in members)
            bars.append(BootBar(role, setup, phases, len(members), complete))
        roles = sorted({b.role for b in bars}, key=_role_order)
        return sorted(bars, key=lambda b: (roles.index(b.role), b.setup))

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

WHO = {"student": "by you", "stemcell": "by stemcell"}


def fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def describe(event: Event, origin: float = 0.0) -> str | None:
    """One line for the event log and the story, or None for high-rate noise."""
    if isinstance(event, SshOutput):  # the hot path during a burst: no line of its own
        return None
    text = _describe(event)
    if text is None:
        return None
    stamp = f"+{fmt_seconds(max(0.0, event.t - origin))}" if origin and event.t else ""
    return f"{stamp:>8} {text}" if stamp else f"{'':>8} {text}"


def _describe(e: Event) -> str | None:
    if isinstance(e, RunStarted):
        kind = "simulated sandbox" if e.simulated else f"AWS {e.region}"
        return f"run {e.run_id}: {e.lab} with {e.profile} ({kind})"
    if isinstance(e, RunFinished):
        return f"run {e.status}" + (f": {e.reason}" if e.reason else "")
    if isinstance(e, StepStarted):
        return f"step {e.step_id} started: {e.title}"
    if isinstance(e, StepFinished):
        text = f"step {e.step_id} {e.status} ({fmt_seconds(e.seconds)})"
        if e.by and e.status == "done":
            text += f" {WHO.get(e.by, e.by)}"
        if e.error:
            text += f": {e.error}"
        if e.hint:
            text += f" (hint: {e.hint})"
        return text
    if isinstance(e, CleanupStarted):
        return f"cleanup started: {e.reason}"
    if isinstance(e, CleanupFinished):
        return "cleanup finished" + (f", {e.left} resource(s) left" if e.left else "")
    if isinstance(e, ResourceCreated):
        return f"created {e.rtype} {e.rid}" + (f" ({e.name})" if e.name else "")
    if isinstance(e, ResourceDeleted):
        if e.error:
            return f"could not delete {e.rtype} {e.rid}: {e.error}"
        return f"deleted {e.rtype} {e.rid}"
    if isinstance(e, InstanceState):
        who = "" if not e.role else (f" [{e.role}]" if e.setup in ("", "builder")
                                     else f" [{e.role} #{e.setup}]")
        return f"instance {e.instance_id}{who} {e.state}"
    if isinstance(e, ImageState):
        extra = f" {e.phase}" if e.phase and e.phase != e.state else ""
        return f"image {e.image_id or '(not created yet)'} {e.state}{extra} {e.progress:.0%}"
    if isinstance(e, TimingMark):
        return f"mark {e.instance_id} {e.mark}"
    if isinstance(e, ApiCall):
        return f"api {e.service}.{e.operation} (#{e.total})" if e.total else \
            f"api {e.service}.{e.operation}"
    if isinstance(e, CostEstimate):
        detail = e.detail.splitlines()[0] if e.detail else ""
        return f"cost estimate ${e.usd:.2f}" + (f": {detail}" if detail else "")
    if isinstance(e, Log):
        if e.level == "debug":
            return None
        if not e.message:
            return None
        prefix = "" if e.level == "info" else f"{e.level}: "
        return prefix + e.message.splitlines()[0]
    if isinstance(e, Comparison):
        return "comparison ready"
    if isinstance(e, StudentTask):
        return f"your turn: {e.goal} ({len(e.commands)} command(s))"
    if isinstance(e, StudentCheck):
        failed = [r for r in e.results if r.get("status") == "failed"]
        if failed:
            return f"check {e.step_id}: {failed[0].get('description', '')}: " \
                   f"{failed[0].get('why', '')}"
        waiting = [r for r in e.results if r.get("status") == "waiting"]
        if waiting:
            return f"waiting for you: {waiting[0].get('description', '')}"
        return f"check {e.step_id}: all passed"
    return None
