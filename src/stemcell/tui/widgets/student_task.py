"""Hands-on: the step's task for the student, as Markdown for the Step tab.

The goal, the exact commands (this run's values filled in), the console way,
and what stemcell sees so far: each check passed, failed (with its hint) or
still waiting. The same text shows in a live run and in its replay.
"""

from __future__ import annotations

import re

from stemcell.present.view import StepView

_MD_SPECIAL = re.compile(r"([\\`*_\[\]()<>#|!~])")


def plain(text: str) -> str:
    """Text from the cloud or a student's server shown as text, never as Markdown."""
    return _MD_SPECIAL.sub(r"\\\1", text)


MARK = {"passed": "✓", "failed": "✗", "waiting": "…"}
WHO = {"student": "by you", "stemcell": "shown by stemcell"}


def student_markdown(step: StepView) -> str:
    """'' for a step with no task (guided runs, steps stemcell does by itself)."""
    if not step.goal:
        return ""
    head = "### Your turn" if step.status == "running" else "### Your task"
    parts = [head, step.goal]
    if step.commands:
        parts.append("Type these in a shell set up with `eval \"$(stemcell sandbox env)\"` "
                     "(on AWS: your usual AWS CLI profile):")
        # A numbered list, not a code block: long commands wrap instead of hiding off
        # screen (the palette copies each one whole: "Copy command N").
        parts.append("\n".join(f"{n}. `{command}`"
                               for n, command in enumerate(step.commands, start=1)))
    if step.console:
        parts.append(f"*Console way:* {step.console}")
    parts += [f"*Note:* {note}" for note in step.notes]
    if step.found or step.checks:
        lines = ["**What stemcell sees**" + (f": {step.found}" if step.found else "")]
        for check in step.checks:
            status = check.get("status", "")
            text = f"- {MARK.get(status, '?')} {plain(check.get('description', ''))}"
            if status != "passed" and check.get("why"):
                text += f": {plain(check['why'])}"
            if status == "failed" and check.get("hint"):
                text += f"\n  - *hint:* {check['hint']}"  # the lab's own Markdown
            lines.append(text)
        parts.append("\n".join(lines))
    if step.status == "running":
        parts.append("stemcell checks your account on each tick (**k**: now). Stuck? "
                     "**m** (show me) lets stemcell do this step.")
    elif step.by and step.status == "done":
        parts.append(f"*Done {WHO.get(step.by, step.by)}.*")
    return "\n\n".join(parts)
