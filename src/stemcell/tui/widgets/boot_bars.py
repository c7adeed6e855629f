"""Boot-time comparison: one bar per role and setup, split into phases, filled as marks arrive."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from stemcell.present.event_text import fmt_seconds
from stemcell.present.view import ViewModel
from stemcell.timing.phases import PHASES

# By phase key (timing.phases): the bars' colours.
PHASE_COLOURS = {
    "api": "grey50", "pending": "#5f87d7", "network": "#00afaf", "sshd": "#87af5f",
    "cloud_init": "#ffaf00", "app": "#d75f87",
}


class BootBars(Widget):
    """Drawn at render time so the bars always fit the pane's current width."""

    DEFAULT_CSS = "BootBars { height: auto; }"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model: ViewModel | None = None

    def sync(self, model: ViewModel) -> None:
        self.model = model
        self.refresh(layout=True)

    def render(self) -> Text:
        if self.model is None:
            return Text("")
        return render_bars(self.model, max(30, self.size.width))

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        if self.model is None:
            return 1
        return len(render_bars(self.model, max(30, width)).wrap(self.app.console, width))


def render_bars(model: ViewModel, width: int) -> Text:
    bars = model.boot_bars()
    kind = "simulated" if model.simulated else "measured on AWS"
    out = Text()
    out.append(f"Boot to healthy: setup #1 (install at boot) vs #2 (baked image), {kind}\n",
               style="bold")
    if not bars:
        out.append("\nNo role servers yet: bars fill in as the instances of setups #1 and #2 "
                   "pass each mark.\n", style="dim")
        return out
    label_w = 16
    bar_w = max(10, width - label_w - 9)
    longest = max(b.total for b in bars) or 1.0
    last_role = ""
    for bar in bars:
        if bar.role != last_role and last_role:
            out.append("\n")
        last_role = bar.role
        out.append(f"{bar.role[:11]:<11} #{bar.setup}  ", style="bold")
        used = 0
        for phase in PHASES:
            seconds = bar.phases.get(phase.key)
            if not seconds:
                continue
            cells = max(1, round(seconds / longest * bar_w))
            cells = min(cells, bar_w - used)
            if cells <= 0:
                continue
            used += cells
            out.append("█" * cells, style=PHASE_COLOURS[phase.key])
        out.append(" " * (bar_w - used))
        mark = "" if bar.complete else "…"
        out.append(f" {fmt_seconds(bar.total):>6}{mark}\n")
    out.append("\n")
    for phase in PHASES:
        out.append("■ ", style=PHASE_COLOURS[phase.key])
        out.append(f"{phase.name}  ", style="dim")
    out.append("\n")
    # The compare step's own conclusion wins; until it arrives, the bars' ratio.
    conclusion = model.conclusion()
    if conclusion:
        out.append(conclusion[0] + "\n", style="bold")
        for line in conclusion[1:]:
            out.append(line + "\n")
    else:
        ratio = _ratio(model)
        if ratio:
            out.append(ratio + "\n", style="bold")
    return out


def _ratio(model: ViewModel) -> str:
    """Setup #1 ready time over setup #2's, over every role that finished both."""
    totals: dict[str, dict[str, float]] = {}
    for bar in model.boot_bars():
        if bar.complete:
            totals.setdefault(bar.role, {})[bar.setup] = bar.total
    both = [(t["1"], t["2"]) for t in totals.values() if "1" in t and "2" in t and t["2"] > 0]
    if not both:
        return ""
    one = sum(a for a, _ in both) / len(both)
    two = sum(b for _, b in both) / len(both)
    if one >= two:
        return f"So far, baked servers were ready {one / two:.1f}x sooner on average " \
               f"({fmt_seconds(two)} vs {fmt_seconds(one)})."
    return f"So far, baked servers were slower on average ({fmt_seconds(two)} vs " \
           f"{fmt_seconds(one)}): look at the phases to see where the time went."
