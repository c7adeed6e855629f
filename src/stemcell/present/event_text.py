"""Every event kind in words, once: the event log, replay's story and the headless printer.

``headline`` is an event's one line (None: the event has no line of its own,
e.g. SSH output, which panes count or stream instead); ``details`` are the
further lines a fuller view prints under it (a task's commands, each check, the
rest of a multi-line message). Both are :class:`Span` tuples: text with a role
(``ok``, ``bad``, ``warn``, ``dim``, ``id``, ``strong``) that ``plain`` drops and
``markup`` turns into Rich markup, with the text escaped. So the UIs differ in
styling only.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.markup import escape

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


@dataclass(frozen=True)
class Span:
    text: str
    role: str = ""  # "" | ok | bad | warn | dim | id | strong


Phrase = tuple[Span, ...]

# Rich styles for the roles (the printer's look; the TUI's log pane is plain text).
STYLES = {"ok": "green", "bad": "red", "warn": "yellow", "dim": "dim", "id": "cyan",
          "strong": "bold"}
STATUS_ROLE = {"done": "ok", "succeeded": "ok", "skipped": "warn", "interrupted": "warn",
               "failed": "bad"}
CHECK_MARK = {"passed": Span("✓", "ok"), "failed": Span("✗", "bad"),
              "waiting": Span("…", "dim")}
LEVEL_ROLE = {"warning": "warn", "error": "bad", "debug": "dim"}
WHO = {"student": "by you", "stemcell": "by stemcell"}  # StepFinished.by, in words


def plain(phrase: Phrase) -> str:
    return "".join(span.text for span in phrase)


def markup(phrase: Phrase) -> str:
    out = []
    for span in phrase:
        text = escape(span.text)
        style = STYLES.get(span.role)
        out.append(f"[{style}]{text}[/]" if style and text else text)
    return "".join(out)


def fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def who(role: str, setup: str) -> str:
    """An instance's role and setup as the event log names them ("" when unknown)."""
    if not role:
        return ""
    return role if setup in ("", "builder") else f"{role} #{setup}"


def _t(*parts: str | Span) -> Phrase:
    return tuple(p if isinstance(p, Span) else Span(p) for p in parts if p)


def headline(e: Event) -> Phrase | None:
    """The event's one line, or None when it has no line of its own."""
    if isinstance(e, SshOutput):
        return None
    if isinstance(e, RunStarted):
        kind = "simulated sandbox" if e.simulated else f"AWS {e.region}"
        return _t("run ", Span(e.run_id, "id"), f": {e.lab} with {e.profile} ({kind})")
    if isinstance(e, RunFinished):
        return _t(Span(f"run {e.status}", STATUS_ROLE.get(e.status, "strong")),
                  f": {e.reason}" if e.reason else "")
    if isinstance(e, StepStarted):
        return _t(f"step {e.step_id} started: ", Span(e.title, "strong"))
    if isinstance(e, StepFinished):
        by = f" {WHO.get(e.by, e.by)}" if e.by and e.status == "done" else ""
        return _t(f"step {e.step_id} ", Span(e.status, STATUS_ROLE.get(e.status, "")),
                  f" ({fmt_seconds(e.seconds)}){by}",
                  Span(f": {e.error}", "bad") if e.error else "",
                  Span(f" (hint: {e.hint})", "warn") if e.hint else "")
    if isinstance(e, CleanupStarted):
        return _t(Span("cleaning up", "strong"), f": {e.reason}")
    if isinstance(e, CleanupFinished):
        if e.left:
            return _t("cleanup finished: ",
                      Span(f"{e.left} resource(s) could not be deleted", "bad"))
        return _t("cleanup finished: ", Span("nothing left behind", "ok"))
    if isinstance(e, ResourceCreated):
        return _t("created ", f"{e.rtype} ", Span(e.rid, "id"),
                  f" ({e.name})" if e.name else "")
    if isinstance(e, ResourceDeleted):
        if e.error:
            return _t(Span(f"could not delete {e.rtype} {e.rid}: {e.error}", "bad"))
        return _t(f"deleted {e.rtype} ", Span(e.rid, "id"))
    if isinstance(e, InstanceState):
        name = who(e.role, e.setup)
        return _t(f"instance {e.instance_id}", f" [{name}]" if name else "", f" {e.state}")
    if isinstance(e, ImageState):
        extra = f" {e.phase}" if e.phase and e.phase != e.state else ""
        return _t(f"image {e.image_id or '(not created yet)'} {e.state}{extra} "
                  f"{e.progress:.0%}")
    if isinstance(e, TimingMark):
        return _t(Span(f"mark {e.instance_id} {e.mark}", "dim"))
    if isinstance(e, ApiCall):
        return _t(f"api {e.service}.{e.operation}" + (f" (#{e.total})" if e.total else ""))
    if isinstance(e, CostEstimate):
        detail = e.detail.splitlines()[0] if e.detail else ""
        return _t("cost estimate ", Span(f"${e.usd:.2f}", "strong"),
                  f": {detail}" if detail else "")
    if isinstance(e, Log):
        if not e.message:
            return None
        role = LEVEL_ROLE.get(e.level, "")
        prefix = "" if e.level == "info" else f"{e.level}: "
        return _t(Span(prefix + e.message.splitlines()[0], role))
    if isinstance(e, Comparison):
        return _t("comparison ready")
    if isinstance(e, StudentTask):
        return _t(Span("your turn: ", "strong"), f"{e.goal} ({len(e.commands)} command(s))")
    if isinstance(e, StudentCheck):
        failed = [r for r in e.results if r.get("status") == "failed"]
        if failed:
            return _t(f"check {e.step_id}: ", Span(f"{failed[0].get('description', '')}: "
                                                   f"{failed[0].get('why', '')}", "bad"))
        waiting = [r for r in e.results if r.get("status") == "waiting"]
        if waiting:
            return _t(f"waiting for you: {waiting[0].get('description', '')}")
        return _t(f"check {e.step_id}: ", Span("all passed", "ok"))
    return None


def details(e: Event) -> list[Phrase]:
    """The lines under the headline in a fuller view (the headless printer)."""
    if isinstance(e, StudentTask):
        lines = [_t(f"$ {command}") for command in e.commands]
        if e.console:
            lines.append(_t(Span(f"console: {e.console}", "dim")))
        lines += [_t(Span(f"note: {note}", "dim")) for note in e.notes]
        lines.append(_t(Span("stemcell watches your account and checks each tick.", "dim")))
        return lines
    if isinstance(e, StudentCheck):
        lines = [_t(Span(f"found: {e.found}", "dim"))] if e.found else []
        for result in e.results:
            status = result.get("status", "")
            why = result.get("why", "")
            lines.append(_t(CHECK_MARK.get(status, Span("?")),
                            f" {result.get('description', '')}",
                            f": {why}" if why and status != "passed" else ""))
            if result.get("hint") and status == "failed":
                lines.append(_t("  ", Span("hint:", "warn"), f" {result['hint']}"))
        return lines
    if isinstance(e, CleanupFinished) and e.left:
        return [_t("see ", Span("stemcell cleanup --all --dry-run", "strong"))]
    if isinstance(e, Log):
        role = LEVEL_ROLE.get(e.level, "")
        return [_t(Span(line, role)) for line in e.message.splitlines()[1:]]
    if isinstance(e, CostEstimate):
        return [_t(Span(line, "dim")) for line in e.detail.splitlines()[1:]]
    return []


def describe(event: Event, origin: float = 0.0) -> str | None:
    """The event log's and the story's line: the headline, stamped with the run's time.

    Debug messages stay out of the log (the printer shows them with --verbose).
    """
    if isinstance(event, Log) and event.level == "debug":
        return None
    phrase = headline(event)
    if phrase is None:
        return None
    text = plain(phrase)
    stamp = f"+{fmt_seconds(max(0.0, event.t - origin))}" if origin and event.t else ""
    return f"{stamp:>8} {text}" if stamp else f"{'':>8} {text}"
