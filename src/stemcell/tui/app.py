"""The stemcell app: start screen → lab screen (live) or replay screen (recorded)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App
from textual.binding import Binding
from textual.message_pump import MessagePump

from stemcell.engine.context import RunConfig
from stemcell.tui.palette import LabCommands

if TYPE_CHECKING:  # only for hints: what the first frame does not need stays unimported
    from stemcell.content.models import Lab, Profile  # pydantic + YAML: ~0.3 s
    from stemcell.engine.events import Event
    from stemcell.engine.replay import Recording
    from stemcell.tui.live import LiveRun
    from stemcell.tui.screens.lab_screen import LabScreen


class StemcellApp(App[None]):
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))  # absolute: subclasses live elsewhere
    TITLE = "stemcell"
    COMMANDS: ClassVar = App.COMMANDS | {LabCommands}
    # Screens get the class -wide from 110 columns (app.tcss widens the step list).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, config: RunConfig | None = None, *, recording: Recording | None = None,
                 replay_speed: float = 10.0, events: list[Event] | None = None,
                 runs: list[dict[str, Any]] | None = None, prepare: Any = None,
                 skip_start: bool = False, autoplay: bool = True) -> None:
        super().__init__()
        self.config = config or RunConfig()
        self.recording = recording
        self.replay_speed = replay_speed
        self.events = events
        self.runs = runs
        self.prepare = prepare  # stemcell.session.prepare unless a test hands in another
        self.skip_start = skip_start
        self.autoplay = autoplay
        self.live_runs: list[LiveRun] = []  # every LiveRun the app started, closed on exit
        self.farewell = ""  # printed after the app has left the screen

    def on_mount(self) -> None:
        from stemcell.tui.screens.start_screen import StartScreen

        if self.recording is not None:
            self.open_replay(self.recording, switch=False)
        elif self.events is not None or self.skip_start:
            lab, profile = self._content(self.config.lab, self.config.profile)
            self.push_screen(self.lab_screen(self.config, lab, profile, events=self.events))
        else:
            self.push_screen(StartScreen(self.config, self.runs))

    def lab_screen(self, config: RunConfig, lab: Lab | None, profile: Profile | None, *,
                   resume: str | None = None, events: list[Event] | None = None) -> LabScreen:
        from stemcell.tui.screens.lab_screen import LabScreen

        return LabScreen(config, lab, profile, resume=resume, events=events,
                         prepare=self.prepare)

    def open_replay(self, recording: Recording, switch: bool = True) -> None:
        from stemcell.tui.screens.replay_screen import ReplayScreen

        lab, profile = self._content(str(recording.header.get("lab", "")),
                                     str(recording.header.get("profile", "")))
        screen = ReplayScreen(recording, lab, profile, speed=self.replay_speed,
                              autoplay=self.autoplay)
        if switch:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    @staticmethod
    def _content(lab_name: str, profile_name: str) -> tuple[Lab | None, Profile | None]:
        """The lab and profile, if this stemcell ships them (a replay may come from elsewhere)."""
        from stemcell.session import load_content

        try:
            lab, _, profile, _ = load_content(RunConfig(lab=lab_name, profile=profile_name))
            return lab, profile
        except Exception:
            return None, None

    def leave(self, message: str) -> None:
        """Quit, then print ``message`` on the normal screen (what to do next)."""
        self.farewell = message
        self.exit(message=message)

    def on_unmount(self) -> None:
        # Whatever way the app ends, stop an in-process sandbox and flush recordings.
        for live in self.live_runs:
            try:
                live.close()
            except Exception as exc:  # closing must not turn an exit into a traceback
                self.log.error(f"closing a run failed: {exc}")

    def action_help(self) -> None:
        from stemcell.tui.screens.help_screen import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        from stemcell.tui.screens.lab_screen import LabScreen

        screen = self.screen
        if isinstance(screen, LabScreen):
            screen.request_quit()
            return
        for candidate in self.screen_stack:
            if isinstance(candidate, LabScreen):
                candidate.request_quit()
                return
        self.exit()


def stemcell_app(node: MessagePump) -> StemcellApp:
    """``node.app``, typed: screens and widgets call the app's own methods through this
    instead of ignoring the type checker (Textual types ``self.app`` as any ``App``)."""
    app = node.app
    if not isinstance(app, StemcellApp):  # a widget mounted in a foreign app: a bug
        raise TypeError(f"{type(node).__name__} runs inside {type(app).__name__}, "
                        "not the stemcell app")
    return app
