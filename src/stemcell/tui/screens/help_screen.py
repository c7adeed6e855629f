"""The help screen (`?`): keys, panes and what the lab is about."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Markdown

HELP = """\
## Keys

| key | does |
|---|---|
| **r** | run the lab / continue after a pause |
| **n** | step by step: pause after each step (toggle) |
| **s** | skip the next step, with a reason |
| **t** | retry: run the lab again after a failure |
| **x** | stop the run (everything created is cleaned up) |
| **c** | clean-up screen: this run's resources or every tagged leftover |
| **k** | check my servers: the lab's checks against this run's live servers |
| **m** | hands-on: show me, stemcell does the step that waits for you (**k** re-checks it) |
| **1**–**5** | tabs: step, instances, SSH, boot times, events |
| **z** | hide or show the step list (more room on narrow terminals) |
| **o** / **f** / **/** | SSH pane: next instance, follow or pause, search |
| **ctrl+p** | command palette: copy an SSH command, open the run folder, ... |
| **?** | this help · **q** quit (asks when resources are alive) |

Replay: **space** play/pause, **+**/**-** speed, **]**/**[** next/previous step,
**←**/**→** seek, click the seek bar.

## Panes

- **Step**: what the selected step does, the AWS calls it makes, hints; while the
  image bakes, what the image contains and why servers from it boot faster.
- **Instances**: every server of the run, coloured by state; uptime in modeled time.
- **SSH**: the output of commands run over SSH; bounded to the last lines.
- **Boot times**: setup #1 (install at boot) vs #2 (baked image), phase by phase.
- **Events**: every event, API call counts and the running cost.

In the sandbox every figure is **simulated**: time runs faster than the wall clock
and nothing is billed. On AWS nothing launches before you confirm the estimated cost.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog help"):
            yield Label("stemcell help", classes="dialog-title")
            yield Markdown(HELP)

    def action_close(self) -> None:
        self.dismiss(None)
