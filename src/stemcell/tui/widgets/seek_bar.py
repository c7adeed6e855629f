"""The replay's seek bar: where we are in the run, with step boundaries; click to seek."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget


class SeekBar(Widget, can_focus=True):
    class Seek(Message):
        def __init__(self, fraction: float) -> None:
            super().__init__()
            self.fraction = fraction

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.fraction = 0.0
        self.ticks: list[float] = []  # step starts, as fractions of the run

    def set(self, fraction: float, ticks: list[float] | None = None) -> None:
        self.fraction = max(0.0, min(1.0, fraction))
        if ticks is not None:
            self.ticks = ticks
        self.refresh()

    def render(self) -> Text:
        width = max(1, self.size.width)
        filled = round(self.fraction * width)
        tick_cells = {min(width - 1, int(t * width)) for t in self.ticks}
        text = Text(no_wrap=True)
        for cell in range(width):
            char = "┃" if cell in tick_cells else ("━" if cell < filled else "─")
            text.append(char, style="bold #ffb000" if cell < filled else "dim")
        return text

    def on_click(self, event: events.Click) -> None:
        width = max(1, self.size.width)
        self.post_message(self.Seek(event.x / width))
