"""The start screen: lab, profile, backend (sandbox, or AWS with region and profile), past runs."""

from __future__ import annotations

import os
import re
import time
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Footer,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    Static,
)

from stemcell.engine.context import RunConfig
from stemcell.engine.errors import StemcellError
from stemcell.engine.statuses import RunStatus
from stemcell.tui.app import stemcell_app
from stemcell.tui.messages import RunsListed
from stemcell.tui.screens.modals import Confirm

if TYPE_CHECKING:  # DataTable (~40 ms to import) joins after the first frame
    from textual.widgets import DataTable

    from stemcell.content.models import Lab, Profile


class StartScreen(Screen[None]):
    BINDINGS = [
        Binding("ctrl+s", "start", "Start lab"),
        Binding("ctrl+r", "resume", "Resume run"),
        Binding("ctrl+o", "replay", "Replay run"),
    ]

    def __init__(self, config: RunConfig, runs: list[dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.config = config
        self._runs = runs
        self.complete = False  # the form and the (maybe still empty) runs list are mounted
        self.runs_listed = False  # the runs list is filled
        self.labs = _choices("lab")
        self.profiles = _choices("profile")

    def compose(self) -> ComposeResult:
        # The first frame holds what is needed to start at once (Enter: the default
        # lab in the sandbox); the form and the past runs join on the next refresh.
        with VerticalScroll(id="start"):
            yield Static("[b]stemcell[/b]: bake one image, launch every server from it, "
                         "measure why it is faster.", id="start-title")
            with Horizontal(classes="row", id="buttons"):
                yield Button("Start the lab", id="start-button", variant="primary")
                yield Button("Resume selected", id="resume-button")
                yield Button("Replay selected", id="replay-button")
        yield Footer()

    def _form(self) -> list[Horizontal]:
        aws = Horizontal(Label("Region", classes="field-label"),
                         # Prefilled from the environment (cheap, no boto3 on the first
                         # frame); empty: the backend takes the AWS profile's region.
                         Input(self.config.region or os.environ.get("AWS_REGION")
                               or os.environ.get("AWS_DEFAULT_REGION", ""),
                               placeholder="profile's", id="region", classes="short"),
                         Label(" AWS profile "),
                         Input(self.config.aws_profile or "", placeholder="default",
                               id="aws-profile", classes="short"),
                         classes="row aws-only", id="aws-row")
        aws.display = self.config.backend == "aws"
        return [
            Horizontal(Label("Lab", classes="field-label"),
                       Select([(t, i) for i, t in self.labs], value=self._lab_value(),
                              allow_blank=False, id="lab"), classes="row"),
            Horizontal(Label("Profile", classes="field-label"),
                       RadioSet(*[RadioButton(title, value=pid == self.config.profile,
                                              id=f"p-{pid}") for pid, title in self.profiles],
                                id="profile"), classes="row"),
            Horizontal(Label("Backend", classes="field-label"),
                       RadioSet(RadioButton("sandbox (offline, simulated, free)",
                                            value=self.config.backend != "aws", id="b-sandbox"),
                                RadioButton("AWS (real resources, costs money)",
                                            value=self.config.backend == "aws", id="b-aws"),
                                id="backend"), classes="row"),
            aws,
            Horizontal(Label("Mode", classes="field-label"),
                       RadioSet(RadioButton("guided: stemcell does it",
                                            value=not self.config.hands_on, id="m-guided"),
                                RadioButton("hands-on: you do it",
                                            value=self.config.hands_on, id="m-hands-on"),
                                id="mode"), classes="row"),
        ]

    def _lab_value(self) -> str:
        ids = [i for i, _ in self.labs]
        return self.config.lab if self.config.lab in ids else (ids[0] if ids else "")

    def on_mount(self) -> None:
        self.query_one("#start-button", Button).focus()
        self.call_after_refresh(self._complete)

    async def _complete(self) -> None:
        start = self.query_one("#start", VerticalScroll)
        await start.mount_all(self._form(), before="#buttons")
        from textual.widgets import DataTable

        table: DataTable[Text] = DataTable(id="runs", cursor_type="row")
        await start.mount_all([Label("Previous runs", classes="section"), table])
        if not self.is_attached:  # the app quit meanwhile
            return
        # Status and leftovers first: what a student needs at 80 columns. Cells are Text,
        # not markup strings: nothing in a run's state is read as markup (and parsing
        # markup would load rich's emoji table, ~0.1 s, before the first frame).
        for col in ("run", "status", "left", "profile", "backend", "when", "lab"):
            table.add_column(Text(col), key=col)
        self.complete = True
        if self._runs is not None:
            self._fill_runs(self._runs)
        else:  # reading every state.json (and importing the session) must not hold a frame
            self.call_after_refresh(self._list_runs)

    @work(thread=True, exclusive=True, group="runs")
    def _list_runs(self) -> None:
        from stemcell.session import list_runs

        self.post_message(RunsListed(list_runs()))

    @on(RunsListed)
    def _runs_listed(self, message: RunsListed) -> None:
        self._fill_runs(message.runs)

    def _fill_runs(self, runs: list[dict[str, Any]]) -> None:
        self._runs = runs
        if not self.is_attached:
            return
        table: DataTable[Text] = self.query_one("#runs")  # type: ignore[assignment]
        table.clear()
        for run in runs[:50]:
            created = float(run.get("created") or 0)
            when = time.strftime("%m-%d %H:%M", time.localtime(created)) if created else "?"
            cells = (run["run_id"], run.get("status", ""), str(run.get("live_resources", "?")),
                     run.get("profile", ""), run.get("backend", ""), when, run.get("lab", ""))
            table.add_row(*(Text(str(c)) for c in cells), key=run["run_id"])
        if not runs:
            table.add_row(Text("(no runs yet)"), *(Text("") for _ in range(6)), key="")
        self.runs_listed = True

    @on(RadioSet.Changed, "#backend")
    def _backend_changed(self) -> None:
        self._toggle_aws()

    def _toggle_aws(self) -> None:
        aws = self.query_one("#b-aws", RadioButton).value
        self.query_one("#aws-row").display = aws

    def read_config(self) -> RunConfig:
        config = RunConfig(**self.config.to_dict())
        if not self.complete:  # Enter on the very first frame: the defaults
            return config
        config.lab = str(self.query_one("#lab", Select).value)
        pressed = self.query_one("#profile", RadioSet).pressed_button
        if pressed is not None and pressed.id:
            config.profile = pressed.id.removeprefix("p-")
        config.backend = "aws" if self.query_one("#b-aws", RadioButton).value else "sandbox"
        config.region = self.query_one("#region", Input).value.strip()
        config.aws_profile = self.query_one("#aws-profile", Input).value.strip() or None
        config.hands_on = self.query_one("#m-hands-on", RadioButton).value
        return config

    @on(Button.Pressed, "#start-button")
    def action_start(self) -> None:
        self.query_one("#start-button", Button).loading = True
        self._load(self.read_config())

    @work(thread=True, exclusive=True)
    def _load(self, config: RunConfig) -> None:
        """Validate the lab and profile off the UI thread (YAML parsing takes a moment)."""
        from stemcell.session import load_content

        try:
            lab, _, profile, _ = load_content(config)
        except StemcellError as exc:
            self.app.call_from_thread(self._load_failed, f"{exc.message}\n{exc.hint}")
            return
        self.app.call_from_thread(self._loaded, config, lab, profile)

    def _load_failed(self, message: str) -> None:
        self.query_one("#start-button", Button).loading = False
        self.notify(message, severity="error", timeout=10)

    def _loaded(self, config: RunConfig, lab: Lab, profile: Profile) -> None:
        self.query_one("#start-button", Button).loading = False
        from stemcell.session import autopilot_refusal

        if autopilot_refusal(config, lab):
            # The course keeps the graded work the student's own here: hands-on only.
            config.hands_on = True
            if self.complete:
                self.query_one("#m-hands-on", RadioButton).value = True
            self.notify(f"{lab.title}: the course allows only hands-on mode on "
                        f"{'AWS' if config.backend == 'aws' else 'this backend'}; starting "
                        "in hands-on mode.", severity="warning", timeout=8)
        if config.backend != "aws":
            self.app.switch_screen(stemcell_app(self).lab_screen(config, lab, profile))
            return
        from stemcell.cloud.pricing import estimate

        try:
            quote = estimate(lab, profile, config)
        except StemcellError as exc:
            self.notify(f"{exc.message}\n{exc.hint}", severity="error", timeout=10)
            return
        body = (f"{quote.text()}\n\nThis lab creates: a key pair, a security group, a builder "
                f"instance, an AMI with its snapshot, an S3 bucket, "
                f"{sum(1 for s in lab.steps if s.kind == 'launch_roles') * 3} role instances "
                f"({profile.instance_type}) and a load balancer, in {config.region}. Everything "
                "is deleted at the end of the lab.")

        def chosen(yes: bool | None) -> None:
            if yes:
                config.yes = True  # confirmed here: the run must not ask again
                self.app.switch_screen(stemcell_app(self).lab_screen(config, lab, profile))

        self.app.push_screen(Confirm("Launch on your AWS account?", body,
                                     yes=f"Launch (~${quote.usd:.2f})", no="Cancel"), chosen)

    def _selected_run(self) -> str:
        if not self.complete:
            return ""
        table: DataTable[Text] = self.query_one("#runs")  # type: ignore[assignment]
        if not table.row_count:
            return ""
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key or "")

    @on(Button.Pressed, "#resume-button")
    def action_resume(self) -> None:
        run_id = self._selected_run()
        if not run_id:
            self.notify("Pick a run in the list first.", severity="warning")
            return
        from stemcell.engine.state import load_state
        from stemcell.paths import run_folder
        from stemcell.session import load_content

        try:
            state = load_state(run_folder(run_id).state)
            config = RunConfig.from_dict(state.config)
            lab, _, profile, _ = load_content(config)
        except StemcellError as exc:
            self.notify(f"{exc.message}\n{exc.hint}", severity="error", timeout=10)
            return
        if state.status is RunStatus.SUCCEEDED and not state.live_resources():
            self.notify("That run finished and cleaned up: replay it instead (ctrl+o).",
                        severity="warning")
            return
        self.app.switch_screen(stemcell_app(self).lab_screen(config, lab, profile,
                                                             resume=run_id))

    @on(Button.Pressed, "#replay-button")
    def action_replay(self) -> None:
        run_id = self._selected_run()
        if not run_id:
            self.notify("Pick a run in the list first.", severity="warning")
            return
        from stemcell.engine.replay import read_run
        from stemcell.paths import run_folder

        try:
            recording = read_run(run_folder(run_id))
        except StemcellError as exc:  # a bad recording, or a run id that is not one
            self.notify(exc.message, severity="error", timeout=8)
            return
        stemcell_app(self).open_replay(recording)


def _choices(kind: str) -> list[tuple[str, str]]:
    """(id, title) of the shipped labs or profiles, read from their top-level lines.

    Full validation parses the YAML node by node (about half a second for a lab),
    which must not delay the first frame; it happens when the student starts.
    """
    from stemcell.content.shipped import shipped_dir

    out = []
    for path in sorted(shipped_dir(f"{kind}s").glob("*.y*ml")):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        ident = _top_level(text, "id") or path.stem
        out.append((ident, _top_level(text, "title") or ident))
    return out


def _top_level(text: str, key: str) -> str:
    match = re.search(rf"^{key}:[ \t]*(.+?)[ \t]*$", text, re.M)
    if match is None:
        return ""
    value = match.group(1)
    if value[:1] in "\"'" and value[-1:] == value[:1]:
        value = value[1:-1]
    return value
