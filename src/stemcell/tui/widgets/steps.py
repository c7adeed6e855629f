"""The step list: status icon, title and elapsed time per step; pick one to read it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from stemcell.engine.view import StepView, ViewModel, fmt_seconds

ICONS = {"pending": "○", "running": "▶", "done": "✔", "failed": "✖", "skipped": "↷",
         "interrupted": "■"}
STYLES = {"pending": "dim", "running": "bold #ffb000", "done": "green", "failed": "bold red",
          "skipped": "yellow", "interrupted": "yellow"}
WIDTH = 29


class StepsList(OptionList):
    """One option per step; the prompt is redrawn only when it changes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._drawn: dict[str, str] = {}

    def sync(self, model: ViewModel) -> None:
        for number, step in enumerate(model.steps.values(), start=1):
            prompt = self._prompt(number, step, model)
            if step.id not in self._drawn:
                self.add_option(Option(prompt, id=step.id))
            elif self._drawn[step.id] != prompt.plain + step.status:
                self.replace_option_prompt(step.id, prompt)
            self._drawn[step.id] = prompt.plain + step.status

    @staticmethod
    def _prompt(number: int, step: StepView, model: ViewModel) -> Text:
        icon = ICONS.get(step.status, "?")
        elapsed = model.step_elapsed(step)
        clock = fmt_seconds(elapsed) if step.status != "pending" and elapsed else ""
        title = step.title if len(step.title) <= WIDTH - 12 else step.title[:WIDTH - 13] + "…"
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{icon} ", style=STYLES.get(step.status, ""))
        text.append(f"{number:>2} {title:<{WIDTH - 12}} ", style="bold" if
                    step.status == "running" else "")
        text.append(f"{clock:>6}", style="dim")
        return text

    @property
    def selected_step(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None
