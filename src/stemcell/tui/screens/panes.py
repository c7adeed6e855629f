"""What the lab screen and the replay screen share: the live panes and their keys.

Both show a run through the same ``LabView`` fed by a ``ViewModel``; only where
the events come from differs (a live run, or a recording).
"""

from __future__ import annotations

from textual.binding import Binding
from textual.screen import Screen

from stemcell.present.view import ViewModel
from stemcell.tui.widgets.lab_view import TABS, LabView


class PanesScreen(Screen[None]):
    BINDINGS = [
        Binding("z", "zoom", "Zoom", show=False),
        Binding("f", "follow", "Follow", show=False),
        Binding("o", "next_instance", "SSH: next", show=False),
        *[Binding(str(n), f"tab('{tab}')", show=False) for n, tab in enumerate(TABS, 1)],
    ]

    model: ViewModel

    @property
    def view(self) -> LabView:
        return self.query_one(LabView)

    def action_zoom(self) -> None:
        self.view.toggle_steps()

    def action_follow(self) -> None:
        self.view.ssh.set_follow(not self.view.ssh.follow, self.model)

    def action_next_instance(self) -> None:
        self.view.show_tab("tab-ssh")
        self.view.ssh.cycle_instance(self.model)

    def action_tab(self, tab: str) -> None:
        self.view.show_tab(tab)
