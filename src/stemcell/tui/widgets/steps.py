"""The step list: status icon, title and elapsed time per step; pick one to read it."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from stemcell.present.event_text import fmt_seconds
from stemcell.present.view import StepView, ViewModel

ICONS = {"pending": "○", "running": "▶", "done": "✔", "failed": "✖", "skipped": "↷",
         "interrupted": "■"}
STYLES = {"pending": "dim", "running": "bold #ffb000", "done": "green", "failed": "bold red",
          "skipped": "yellow", "interrupted": "yellow"}
WIDTH = 29  # the prompt's width before the list has been laid out
FIXED = 12  # icon, number, spaces and the elapsed clock around the title


class StepsList(OptionList):
    """One option per step; the prompt is redrawn only when it changes.

    Titles take the width the list has (wider terminals show more of each title);
    a resize redraws the prompts.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._drawn: dict[str, str] = {}
        self._model: ViewModel | None = None

    def _width(self) -> int:
        width = self.scrollable_content_region.width
        return width if width > FIXED + 4 else WIDTH

    def sync(self, model: ViewModel) -> None:
        self._model = model
        width = self._width()
        for number, step in enumerate(model.steps.values(), start=1):
            prompt = self._prompt(number, step, model, width)
            if step.id not in self._drawn:
                self.add_option(Option(prompt, id=step.id))
            elif self._drawn[step.id] != prompt.plain + step.status:
                self.replace_option_prompt(step.id, prompt)
            self._drawn[step.id] = prompt.plain + step.status

    def on_resize(self) -> None:
        if self._model is not None:
            self.sync(self._model)

    @staticmethod
    def _prompt(number: int, step: StepView, model: ViewModel, width: int = WIDTH) -> Text:
        icon = ICONS.get(step.status, "?")
        elapsed = model.step_elapsed(step)
        clock = fmt_seconds(elapsed) if step.status != "pending" and elapsed else ""
        room = width - FIXED
        title = step.title if len(step.title) <= room else step.title[:room - 1] + "…"
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{icon} ", style=STYLES.get(step.status, ""))
        text.append(f"{number:>2} {title:<{room}} ", style="bold" if
                    step.status == "running" else "")
        text.append(f"{clock:>6}", style="dim")
        return text

    @property
    def selected_step(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None
