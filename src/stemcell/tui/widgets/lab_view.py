"""The lab's panes side by side: steps on the left, tabs on the right.

Used as is by the live lab screen and by replay, which is what makes a replay
show exactly what the live run showed: both feed events into a ViewModel and
call :meth:`LabView.draw` with what changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import OptionList, TabbedContent, TabPane

from stemcell.engine.events import Event
from stemcell.present.view import ViewModel
from stemcell.tui.widgets.boot_bars import BootBars
from stemcell.tui.widgets.event_log import EventLogPane
from stemcell.tui.widgets.explanation import Explanation
from stemcell.tui.widgets.instances import InstancesTable
from stemcell.tui.widgets.ssh_log import SshPane
from stemcell.tui.widgets.steps import StepsList

if TYPE_CHECKING:  # content models only for hints: pydantic + YAML cost ~0.3 s to import
    from stemcell.content.models import Lab, Profile

TABS = ("tab-step", "tab-instances", "tab-ssh", "tab-boot", "tab-events")


class LabView(Horizontal):
    def __init__(self, model: ViewModel, lab: Lab | None, profile: Profile | None,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.model = model
        self.lab = lab
        self.profile = profile
        self.follow_current = True  # the explanation follows the running step
        self._moving = False

    def compose(self) -> ComposeResult:
        yield StepsList(id="steps")
        with TabbedContent(id="tabs"):
            with TabPane("Step", id="tab-step"):
                yield Explanation(self.lab, self.profile, id="explain")
            with TabPane("Instances", id="tab-instances"):
                yield InstancesTable(id="instances")
            with TabPane("SSH", id="tab-ssh"):
                yield SshPane(id="ssh")
            with TabPane("Boot times", id="tab-boot"), VerticalScroll():
                yield BootBars(id="bars")
            with TabPane("Events", id="tab-events"):
                yield EventLogPane(id="events")

    def on_mount(self) -> None:
        self.draw_all()

    # --- drawing --------------------------------------------------------------------
    def feed(self, events: list[Event]) -> None:
        self.model.apply_all(events)
        self.draw()

    def draw(self) -> None:
        changed, ssh, log = self.model.take_changes()
        if not changed:
            return
        if "steps" in changed or "current" in changed:
            self.query_one(StepsList).sync(self.model)
            self._follow()
        if changed & {"steps", "current", "bake", "run"}:
            self._sync_explanation()
        if "instances" in changed or "timing" in changed:
            self.query_one(InstancesTable).sync(self.model)
        if "ssh" in changed:
            self.query_one(SshPane).append(self.model, ssh)
        if "timing" in changed:
            self.query_one(BootBars).sync(self.model)
        if "log" in changed or "api" in changed:
            events = self.query_one(EventLogPane)
            events.append(self.model, log)
            events.sync_counts(self.model)

    def draw_all(self) -> None:
        """Redraw every pane from the model (first frame, replay seeks)."""
        self.model.take_changes()
        self.query_one(StepsList).sync(self.model)
        self._follow()
        self._sync_explanation()
        self.query_one(InstancesTable).sync(self.model)
        self.query_one(SshPane).rebuild(self.model)
        self.query_one(BootBars).sync(self.model)
        self.query_one(EventLogPane).rebuild(self.model)

    def tick(self, now: float) -> None:
        """Advance clocks shown (running step, uptimes) between events of a live run."""
        self.model.now = max(self.model.now, now)
        self.query_one(StepsList).sync(self.model)
        self.query_one(InstancesTable).sync(self.model)

    def reset(self, model: ViewModel) -> None:
        """Start over from a fresh model (replay seeking backwards)."""
        self.model = model
        self.query_one(StepsList).clear_options()
        self.query_one(StepsList)._drawn.clear()
        table = self.query_one(InstancesTable)
        table.clear()
        table._cells.clear()
        self.draw_all()

    # --- following the running step ---------------------------------------------------
    def _follow(self) -> None:
        if not self.follow_current or not self.model.current_step:
            return
        steps = self.query_one(StepsList)
        index = list(self.model.steps).index(self.model.current_step)
        if steps.highlighted != index:
            self._moving = True
            steps.highlighted = index

    def point_at(self, step_id: str) -> None:
        """Highlight ``step_id`` for the student to read, and stop following the run."""
        self.follow_current = False
        steps = self.query_one(StepsList)
        index = list(self.model.steps).index(step_id)
        if steps.highlighted != index:
            self._moving = True  # our move: the highlight event must not re-decide following
            steps.highlighted = index

    def follow_run(self) -> None:
        """Follow the running step again (the run continues, or step mode ended)."""
        self.follow_current = True
        self._follow()
        self._sync_explanation()

    def _sync_explanation(self) -> None:
        steps = self.query_one(StepsList)
        step_id = steps.selected_step or self.model.current_step or next(iter(self.model.steps),
                                                                          None)
        self.query_one(Explanation).sync(self.model, step_id)

    @on(OptionList.OptionHighlighted, "#steps")
    def _picked(self, event: OptionList.OptionHighlighted) -> None:
        if self._moving:
            self._moving = False
        else:
            self.follow_current = event.option.id in (self.model.current_step, None)
        self._sync_explanation()

    @on(OptionList.OptionSelected, "#steps")
    def _opened(self, event: OptionList.OptionSelected) -> None:
        self.show_tab("tab-step")

    def toggle_steps(self) -> None:
        """Hide the step list to give a narrow terminal's width to the panes (z)."""
        steps = self.query_one(StepsList)
        steps.display = not steps.display
        self.query_one(BootBars).refresh(layout=True)

    def show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    @property
    def ssh(self) -> SshPane:
        return self.query_one(SshPane)
