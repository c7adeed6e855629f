"""The selected step explained: Markdown from the lab, what it does, its AWS calls, hints.

While the image bakes the step also teaches: the stem cell idea, what the image
holds (from the profile, with download sizes) and why setup #2 boots faster,
next to a live view of the bake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from stemcell.present.event_text import fmt_seconds
from stemcell.present.view import StepView, ViewModel
from stemcell.tui.widgets.bake import BakeProgress
from stemcell.tui.widgets.student_task import WHO, student_markdown

if TYPE_CHECKING:  # content models only for hints: pydantic + YAML cost ~0.3 s to import
    from stemcell.content.models import Lab, Profile, StepSpec

BAKE_KINDS = ("create_image", "stop_builder")


class Explanation(VerticalScroll):
    def __init__(self, lab: Lab | None, profile: Profile | None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lab = lab
        self.profile = profile
        self._drawn = ""

    def compose(self) -> ComposeResult:
        yield BakeProgress(id="bake")
        yield Markdown(id="explain-md")

    def sync(self, model: ViewModel, step_id: str | None) -> None:
        step = model.steps.get(step_id or "")
        spec = self._spec(step_id)
        kind = spec.kind if spec is not None else (step.kind if step else "")
        bake = self.query_one(BakeProgress)
        bake.display = kind in BAKE_KINDS
        if bake.display:
            bake.sync(model)
        text = explain_markdown(model, step, spec, self.profile)
        if text != self._drawn:
            self._drawn = text
            self.query_one("#explain-md", Markdown).update(text)

    def _spec(self, step_id: str | None) -> StepSpec | None:
        if self.lab is None or not step_id:
            return None
        try:
            return self.lab.step(step_id)
        except KeyError:
            return None

    @property
    def markdown_text(self) -> str:
        return self._drawn


def explain_markdown(model: ViewModel, step: StepView | None, spec: StepSpec | None,
                     profile: Profile | None) -> str:
    if step is None and spec is None:
        return "# Waiting for the lab\n\nThe steps appear here as soon as the lab is loaded."
    title = spec.title if spec is not None else (step.title if step else "")
    number = list(model.steps).index(step.id) + 1 if step and step.id in model.steps else 0
    parts = [f"## {number}. {title}" if number else f"## {title}"]
    if step is not None:
        parts.append(_status_line(model, step))
    if step is not None and step.status == "failed":
        parts.append(f"> **Failed:** {step.error or 'see the event log'}\n>\n"
                     f"> **What to do next:** {step.hint or _default_next(model)}")
    elif step is not None and step.status == "skipped" and step.error:
        parts.append(f"> Skipped: {step.error}")
    task = student_markdown(step) if step is not None else ""
    if task:
        parts.append(task)
    if spec is not None:
        if spec.explain:
            parts.append(spec.explain.strip())
        if spec.does:
            parts.append("### What this step does\n\n" + "\n".join(f"- {d}" for d in spec.does))
        if spec.api_calls:
            parts.append("### AWS calls it makes\n\n" +
                         ", ".join(f"`{c}`" for c in spec.api_calls))
        if spec.kind == "create_image":
            parts.append(bake_lesson(profile))
        if spec.hints:
            parts.append("### Hints\n\n" + "\n".join(f"- {h}" for h in spec.hints))
    return "\n\n".join(parts) + "\n"


def _status_line(model: ViewModel, step: StepView) -> str:
    elapsed = model.step_elapsed(step)
    clock = f" · {fmt_seconds(elapsed)}" if step.status != "pending" and elapsed else ""
    sim = " (simulated time)" if model.simulated and clock else ""
    who = f" · {WHO.get(step.by, step.by)}" if step.by and step.status == "done" else ""
    return f"*Status: {step.status}{clock}{sim}{who}*"


def _default_next(model: ViewModel) -> str:
    return ("Read the error and the event log (tab Events), fix the cause, then press "
            "**t** to retry; the steps already done are not repeated.")


def bake_lesson(profile: Profile | None) -> str:
    lines = ["### While the image bakes",
             "The builder's disk is being turned into an **EBS snapshot**; the AMI is a "
             "record pointing at that snapshot. Every server launched from it starts with "
             "this disk: that is the *stem cell*, general enough to become any role."]
    if profile is not None:
        total = sum(p.download_kb for p in profile.packages)
        lines.append(f"**What your image contains** ({profile.title}, on top of Ubuntu):")
        lines.append("| package | download | why |\n|---|---:|---|\n" + "\n".join(
            f"| `{p.name}` | {p.download_kb} kB | {p.why.split('.')[0]} |"
            for p in profile.packages))
        lines.append(
            f"**Why setup #2 boots faster:** a server from the plain Ubuntu image (setup #1) "
            f"must run `apt-get update` and download about {total:,} kB of packages, then "
            "install and configure them, before it can serve a single request. A server "
            "from your image only fetches its role's small code bundle from S3 and starts. "
            "The comparison tab shows the difference phase by phase.")
    return "\n\n".join(lines)
