"""Replay: a recorded run in the same panes as a live one, with play/pause, speed and seeking."""

from __future__ import annotations

import time

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Footer, Static

from stemcell.content.models import Lab, Profile
from stemcell.engine.replay import Player, Recording
from stemcell.present.event_text import fmt_seconds
from stemcell.present.view import ViewModel
from stemcell.tui.screens.panes import PanesScreen
from stemcell.tui.widgets.lab_view import LabView
from stemcell.tui.widgets.seek_bar import SeekBar

SPEEDS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
FRAME = 1 / 20


class ReplayScreen(PanesScreen):
    BINDINGS = [
        Binding("space", "play_pause", "Play/pause"),
        Binding("plus,equals_sign", "faster", "Faster"),
        Binding("minus", "slower", "Slower"),
        Binding("right_square_bracket", "next_step", "Next step"),
        Binding("left_square_bracket", "previous_step", "Prev step"),
        Binding("right", "seek_by(30)", "Seek +30s", show=False),
        Binding("left", "seek_by(-30)", "Seek -30s", show=False),
        Binding("home", "seek_to(0)", show=False),
        Binding("end", "seek_to(1)", show=False),
    ]

    def __init__(self, recording: Recording, lab: Lab | None, profile: Profile | None, *,
                 speed: float = 10.0, autoplay: bool = True) -> None:
        super().__init__()
        self.recording = recording
        self.lab = lab
        self.profile = profile
        self.player = Player(recording.events)
        self.model = ViewModel()
        self.speed = max(1.0, min(100.0, speed))
        self._clock: Timer | None = None  # runs only while playing
        self._playing = autoplay
        self.at = 0.0
        self._last = time.monotonic()

    @property
    def playing(self) -> bool:
        return self._playing

    @playing.setter
    def playing(self, value: bool) -> None:
        """Play or pause: the frame timer runs only while the replay plays."""
        self._playing = value
        self._last = time.monotonic()
        if self._clock is not None:
            if value:
                self._clock.resume()
            else:
                self._clock.pause()

    def compose(self) -> ComposeResult:
        yield Static(id="status-bar")
        yield SeekBar(id="seek")
        yield LabView(self.model, self.lab, self.profile, id="lab-view")
        yield Footer()

    def on_mount(self) -> None:
        duration = self.player.duration or 1.0
        ticks = [self.player.offsets[b] / duration for b in self.player.boundaries]
        self.query_one(SeekBar).set(0.0, ticks)
        for note in self.recording.notes:
            self.notify(note, severity="warning", timeout=6)
        self._clock = self.set_interval(FRAME, self._frame, pause=not self._playing)
        self._status()

    def _frame(self) -> None:
        now = time.monotonic()
        elapsed, self._last = now - self._last, now
        if not self.playing:
            return
        # Pace by the wall time that really passed, so a slow frame does not slow the run.
        self.at = min(self.player.duration, self.at + min(elapsed, 0.5) * self.speed)
        self.view.feed(self.player.advance_to(self.at))
        if self.player.finished:
            self.playing = False
        self._status()

    def _status(self) -> None:
        done, total = self.player.current_step_number()
        label = "SIMULATED" if self.recording.simulated else "AWS"
        state = "▶ playing" if self.playing else ("■ end" if self.player.finished else "‖ paused")
        self.query_one("#status-bar", Static).update(
            f"[b]Replay[/b] · {label} · {state} {self.speed:g}x · "
            f"{fmt_seconds(self.player.position)}/{fmt_seconds(self.player.duration)} · "
            f"step {done}/{total}")
        duration = self.player.duration or 1.0
        self.query_one(SeekBar).set(self.player.position / duration)

    # --- seeking ----------------------------------------------------------------------
    def jump_index(self, index: int) -> None:
        reset, events = self.player.seek_index(index)
        if reset:
            self.model = ViewModel()
            self.model.apply_all(events)
            self.view.reset(self.model)
        else:
            self.view.feed(events)
        self.at = self.player.position
        self._status()

    def seek(self, offset: float) -> None:
        offset = max(0.0, min(self.player.duration, offset))
        import bisect

        # At 0 nothing has happened yet; anywhere else, what happened by then.
        index = 0 if offset <= 0 else bisect.bisect_right(self.player.offsets, offset)
        self.jump_index(index)
        self.at = offset

    def play_to_end(self) -> None:
        """Apply every event at once (tests, screenshots)."""
        self.playing = False
        self.jump_index(len(self.player.events))

    @on(SeekBar.Seek)
    def _clicked(self, message: SeekBar.Seek) -> None:
        self.seek(message.fraction * self.player.duration)

    def action_play_pause(self) -> None:
        if self.player.finished and not self.playing:
            self.jump_index(0)
        self.playing = not self.playing
        self._status()

    def action_faster(self) -> None:
        self.speed = next((s for s in SPEEDS if s > self.speed), SPEEDS[-1])
        self._status()

    def action_slower(self) -> None:
        self.speed = next((s for s in reversed(SPEEDS) if s < self.speed), SPEEDS[0])
        self._status()

    def action_next_step(self) -> None:
        self.jump_index(self.player.next_boundary())

    def action_previous_step(self) -> None:
        self.jump_index(self.player.previous_boundary())

    def action_seek_by(self, seconds: float) -> None:
        self.seek(self.player.position + seconds)

    def action_seek_to(self, fraction: float) -> None:
        self.seek(fraction * self.player.duration)

