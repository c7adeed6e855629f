"""A recording told as text (``stemcell replay --headless``): the story, then the figures.

Each event's line is ``event_text.describe`` (the event log's wording); the
figures are the view model's, so the text says what the app would show.
"""

from __future__ import annotations

from collections import Counter

from stemcell.engine.events import ApiCall, RunFinished, SshOutput, StepFinished, StepStarted
from stemcell.engine.replay import Recording
from stemcell.present.event_text import WHO, describe, fmt_seconds
from stemcell.present.view import ViewModel
from stemcell.timing.phases import PHASES


def story(recording: Recording) -> list[str]:
    """The run told as text: what happened, step by step, then the figures."""
    events = recording.events
    model = ViewModel()
    lines: list[str] = []
    head = recording.header
    label = "SIMULATED sandbox run" if recording.simulated else "run on real AWS"
    lines.append(f"Recording {recording.path.name} (format v{head.get('version')}): {label}")
    for note in recording.notes:
        lines.append(f"note: {note}")
    ssh: Counter[str] = Counter()
    api: Counter[str] = Counter()

    def flush_counts() -> None:
        for iid, count in ssh.items():
            lines.append(f"{'':>8}   ({count} line(s) of SSH output from {iid})")
        if api:
            top = ", ".join(f"{op} x{n}" for op, n in api.most_common(4))
            lines.append(f"{'':>8}   ({sum(api.values())} API call(s): {top})")
        ssh.clear()
        api.clear()

    for event in events:
        model.apply(event)
        if isinstance(event, SshOutput):
            ssh[event.instance_id] += 1
            continue
        if isinstance(event, ApiCall):
            api[f"{event.service}.{event.operation}"] += 1
            continue
        if isinstance(event, (StepStarted, StepFinished, RunFinished)):
            flush_counts()
        line = describe(event, model.started_at)
        if line is not None:
            lines.append(line)
    flush_counts()
    lines.extend(summary_lines(model))
    return lines


def summary_lines(model: ViewModel) -> list[str]:
    out = ["", f"Summary: run {model.run_id or '?'} {model.status}"
           + (f" ({model.reason})" if model.reason else "")]
    for step in model.steps.values():
        extra = f"  {step.error}" if step.error else ""
        # Hands-on runs: who did the step; a student's time is how long they took.
        who = f"  ({WHO.get(step.by, step.by)})" if step.by and step.status == "done" else ""
        out.append(f"  {step.status:<11} {fmt_seconds(step.seconds):>8}  {step.title}{who}"
                   f"{extra}")
    bars = model.boot_bars()
    if bars:
        kind = "simulated" if model.simulated else "measured"
        out.append(f"Boot to healthy, setup #1 (install at boot) vs #2 (baked image), {kind}:")
        for bar in bars:
            parts = ", ".join(f"{p.name} {fmt_seconds(bar.phases[p.key])}"
                              for p in PHASES if p.key in bar.phases)
            state = "" if bar.complete else " (incomplete)"
            out.append(f"  {bar.role:<11} #{bar.setup} {fmt_seconds(bar.total):>8}{state}  "
                       f"{parts}")
    out.extend(f"  {line}" for line in model.conclusion())
    out.append(f"API calls: {model.api_total}"
               + (f", estimated cost ${model.cost_usd:.2f}" if model.cost_usd else ""))
    live = model.live_resources()
    out.append(f"Resources left: {len(live)}"
               + ("" if not live else " (" + ", ".join(f"{r.rtype} {r.rid}" for r in live) + ")"))
    return out
