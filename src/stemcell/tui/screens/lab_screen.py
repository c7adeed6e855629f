"""The lab screen: steps, explanation and live panes for one run.

The run itself lives in ``LiveRun`` and executes in thread workers; events reach
this screen through the feed, which rings once per batch (``EventsQueued``), and
the screen redraws only what changed. Scripted event
lists (tests, snapshots) go through exactly the same path.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from stemcell.engine.context import RunConfig
from stemcell.engine.errors import StemcellError
from stemcell.engine.events import Event
from stemcell.engine.statuses import ENDED, RunStatus, StepStatus
from stemcell.present.view import ViewModel
from stemcell.tui.app import stemcell_app
from stemcell.tui.feed import EventFeed
from stemcell.tui.live import LiveRun, Prepare
from stemcell.tui.messages import EventsQueued, Paused, RunDone, RunProblem, RunReady
from stemcell.tui.screens.modals import QuitWithResources, SkipReason
from stemcell.tui.screens.panes import PanesScreen
from stemcell.tui.widgets.lab_view import LabView

if TYPE_CHECKING:  # content models only for hints: pydantic + YAML cost ~0.3 s to import
    from stemcell.content.models import Lab, Profile

FRAME = 1 / 20
FOLD_BUDGET = 0.02  # seconds of folding per frame: the rest waits for the next frame
CHUNK = 500


class LabScreen(PanesScreen):
    BINDINGS = [
        Binding("r", "run", "Run/continue"),
        Binding("n", "step_mode", "Step mode"),
        Binding("s", "skip", "Skip"),
        Binding("t", "retry", "Retry"),
        Binding("x", "stop", "Stop"),
        Binding("c", "cleanup", "Clean up"),
        Binding("k", "check", "Check servers", show=False),
        Binding("m", "show_me", "Show me", show=False),
        Binding("slash", "search", "Search", show=False),
    ]

    def __init__(self, config: RunConfig, lab: Lab | None, profile: Profile | None, *,
                 resume: str | None = None, events: list[Event] | None = None,
                 prepare: Prepare | None = None) -> None:
        super().__init__()
        self.config = config
        self.lab = lab
        self.profile = profile
        self.model = ViewModel()
        if lab is not None:
            self.model.declare_steps([{"id": s.id, "title": s.title, "kind": s.kind}
                                      for s in lab.steps])
        self.model.simulated = config.backend != "aws"
        self.model.backend = config.backend
        self.feed = EventFeed(on_ready=self._events_waiting)
        self._clock: Timer | None = None  # the running bars' clock, only while a run runs
        self.scripted = events
        self.live: LiveRun | None = None
        if events is None:
            self.live = LiveRun(config, self.feed, resume=resume, prepare=prepare,
                                on_pause=self._paused_from_thread)
        self.ready = False
        self.problem = ""
        self.note = "connecting to the sandbox…" if config.backend != "aws" else \
            "checking AWS credentials…"

    # --- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="status-bar")
        yield Static(id="problem", classes="hidden")
        yield LabView(self.model, self.lab, self.profile, id="lab-view")
        yield Footer()

    def on_mount(self) -> None:
        if self.live is not None:
            stemcell_app(self).live_runs.append(self.live)
        if self.scripted is not None:
            self.feed_events(self.scripted)
            self.ready = True
            self.note = ""
        else:
            self._set_up()
            self._clock = self.set_interval(1.0, self._tick, pause=True)
        self._status()

    def _events_waiting(self) -> None:
        """The feed's bell (any thread): one message, coalesced with one still queued."""
        self.post_message(EventsQueued())

    @on(EventsQueued)
    def _events_queued(self) -> None:
        self._drain()
        if len(self.feed):  # a burst: the rest on the next frame, so frames keep coming
            self.set_timer(FRAME, self._drain_more)

    def _drain_more(self) -> None:
        self._events_queued()

    def feed_events(self, events: list[Event]) -> None:
        """Show a list of events at once (a scripted or recorded run cut at some point)."""
        self.model.apply_all(events)
        self.view.draw()
        self._status()

    def _drain(self) -> None:
        """Fold what arrived, within a time budget per frame, then redraw once."""
        started = time.perf_counter()
        folded = False
        while time.perf_counter() - started < FOLD_BUDGET:
            batch = self.feed.drain(CHUNK)
            if not batch:
                break
            self.model.apply_all(batch)
            folded = True
        if folded:
            self.view.draw()
            self._status()

    def _tick(self) -> None:
        if self.live is not None and self.live.running and self.live.session is not None:
            self.view.tick(self.live.session.ctx.clock.now())
        elif self._clock is not None:
            self._clock.pause()  # the run ended: nothing moves until the next one

    def _status(self) -> None:
        m = self.model
        lab = self.lab.title.split(":")[0] if self.lab else self.config.lab
        where = "sandbox" if self.config.backend != "aws" else f"AWS {self.config.region}"
        done = sum(1 for s in m.steps.values() if s.status in ("done", "skipped"))
        state = m.status if m.status != "idle" else ("ready" if self.ready else "starting")
        if m.cleanup == "running":
            state = "cleaning up"
        if self.live is not None and self.live.paused_after:
            state = "paused: r continues, s skips the next step"
        elif self.live is not None and self.live.step_mode and m.status == "running":
            state += " · step mode"
        note = f" · {self.note}" if self.note else ""
        mode = " · hands-on" if self.config.hands_on else ""
        self.query_one("#status-bar", Static).update(
            f"[b]{lab}[/b] · {self.config.profile} · {where}{mode} · {done}/{len(m.steps)} · "
            f"[b]{state}[/b]{note}")

    # --- workers ----------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="setup")
    def _set_up(self) -> None:
        assert self.live is not None
        try:
            self.live.prepare()
            self.app.call_from_thread(self._prepared)
            self.live.warm_up()
            note = "" if self.config.backend == "aws" else \
                f"speed {self.live.prepared.ctx.clock.speed:g}x"
            if self.live.resume:
                gone = self.live.reconcile()
                note = f"{gone} resource(s) deleted outside stemcell: shown as gone" if gone \
                    else "resumed: every resource is still there"
            self.post_message(RunReady(note))
        except StemcellError as exc:
            self.post_message(RunProblem("Could not start the lab", exc.message, exc.hint))
        except Exception as exc:  # a bug: say so, keep the app alive
            self.post_message(RunProblem("Could not start the lab", f"{type(exc).__name__}: "
                                         f"{exc}", "This looks like a bug in stemcell."))

    def _prepared(self) -> None:
        assert self.live is not None and self.live.session is not None
        ctx = self.live.session.ctx
        self.model.run_id = ctx.run_id
        if self.live.resume:
            with ctx.store.lock:
                for step_id, record in ctx.state.steps.items():
                    if step_id in self.model.steps and record.status != StepStatus.PENDING:
                        step = self.model.steps[step_id]
                        # A step "running" in the state is one a crash interrupted.
                        status = (StepStatus.INTERRUPTED if record.status == StepStatus.RUNNING
                                  else record.status)
                        step.status, step.seconds, step.error = (status, record.seconds,
                                                                 record.error)
                self.model.seed_resources(list(ctx.state.resources),
                                          dict(ctx.state.timings.get("instances", {})))
            self.model.changed.add("steps")
            self.view.draw()

    @work(thread=True, exclusive=True, group="run")
    def _run(self) -> None:
        assert self.live is not None
        try:
            status = self.live.run()
            self.post_message(RunDone(status))
        except StemcellError as exc:
            self.post_message(RunProblem("The run stopped", exc.message, exc.hint))
        except Exception as exc:
            self.post_message(RunProblem("The run stopped", f"{type(exc).__name__}: {exc}",
                                         "This looks like a bug in stemcell; the run folder "
                                         "has the recording."))

    def _paused_from_thread(self, step_id: str) -> None:
        self.post_message(Paused(step_id))

    # --- messages ---------------------------------------------------------------------
    @on(RunReady)
    def _ready(self, message: RunReady) -> None:
        self.ready = True
        self.note = message.note
        self._clear_problem()
        self._status()
        self.notify("Ready: press r to run the lab (n first for step by step).", timeout=4)
        if self.config.hands_on and self.live is not None and self.live.session is not None:
            where = getattr(self.live.session, "where_to_type", None)
            if where is not None:
                self.notify(f"Hands-on: {where()}.", timeout=12)

    @on(RunDone)
    def _done(self, message: RunDone) -> None:
        self._drain()
        self._status()
        if message.status == RunStatus.SUCCEEDED:
            self.notify("Lab finished. See the Boot times tab.", title="Done", timeout=6)
            self.view.show_tab("tab-boot")
        elif message.status == RunStatus.FAILED:
            self.notify("A step failed: its explanation says what to do next. "
                        "Press t to retry.", severity="error", timeout=8)
            failed = next((s for s in self.model.steps.values() if s.status == "failed"), None)
            if failed is not None:
                self.view.follow_current = True
                self.model.current_step = failed.id
                self.view.show_tab("tab-step")
                self.view.draw_all()
        else:
            self.notify(f"Run {message.status}; everything it created was cleaned up.",
                        severity="warning")

    @on(RunProblem)
    def _problem(self, message: RunProblem) -> None:
        self.problem = message.message
        text = f"[b]{message.what}:[/b] {message.message}"
        if message.hint:
            text += f"\n[b]What to do:[/b] {message.hint}"
        widget = self.query_one("#problem", Static)
        widget.update(text)
        widget.remove_class("hidden")
        self.note = ""
        self._status()

    def _clear_problem(self) -> None:
        self.problem = ""
        self.query_one("#problem", Static).add_class("hidden")

    @on(Paused)
    def _on_paused(self, message: Paused) -> None:
        self._drain()
        self._status()
        nxt = self._next_pending()
        if nxt:
            self.view.point_at(nxt)
        self.notify("Paused: read the next step, then r to run it or s to skip it.",
                    timeout=4)

    # --- actions ----------------------------------------------------------------------
    def _can_run(self) -> bool:
        if self.live is None:
            self.notify("This is a recorded run: nothing to run.", severity="warning")
            return False
        if not self.ready:
            self.notify("Still connecting to the backend…" if not self.problem else
                        "Fix the problem shown above first.", severity="warning")
            return False
        return True

    def action_run(self) -> None:
        if not self._can_run():
            return
        assert self.live is not None
        if self.live.running:
            if self.live.paused_after:
                self.live.cont()
                self.view.follow_run()
                self._status()
            else:
                self.notify("The lab is already running.")
            return
        if self.model.status in ENDED:
            self.action_retry()
            return
        self._clear_problem()
        self.view.follow_current = True
        self.live.running = True
        if self._clock is not None:
            self._clock.resume()
        self._run()
        self._status()

    def action_step_mode(self) -> None:
        if self.live is None:
            return
        self.live.step_mode = not self.live.step_mode
        self.notify("Step by step: the lab pauses after each step." if self.live.step_mode
                    else "Step mode off: the lab runs to the end.")
        if not self.live.step_mode and self.live.paused_after:
            self.live.cont()
            self.view.follow_run()  # the pane follows the run again, not the step it showed
        self._status()

    def _next_pending(self) -> str:
        for step in self.model.steps.values():
            if step.status == "pending":
                return step.id
        return ""

    def action_skip(self) -> None:
        if not self._can_run():
            return
        assert self.live is not None
        if self.live.running and not self.live.paused_after:
            self.notify("Skip works before a step starts: turn on step mode (n) to pause "
                        "between steps.", severity="warning")
            return
        step_id = self._next_pending()
        if not step_id:
            self.notify("No step left to skip.")
            return
        step = self.model.steps[step_id]

        def chosen(reason: str | None) -> None:
            if reason and self.live is not None:
                self.live.skip(step_id, reason)
                self._drain()

        self.app.push_screen(SkipReason(step.title), chosen)

    def action_retry(self) -> None:
        if not self._can_run():
            return
        assert self.live is not None
        if self.live.running:
            self.notify("The lab is still running.")
            return
        if self.model.status not in ENDED:
            self.notify("Nothing to retry yet: press r to run the lab.")
            return
        # A failed run was cleaned up (every resource deleted), so its "done" steps
        # own nothing any more: retrying means a fresh run of the same lab.
        old = self.live
        self.config.yes = self.config.yes or self.config.backend == "aws"
        self.app.switch_screen(LabScreen(self.config, self.lab, self.profile,
                                         prepare=old._prepare))
        old.close()

    def action_stop(self) -> None:
        if self.live is None or not self.live.running:
            self.notify("Nothing is running.")
            return
        self.notify(self.live.cancel() or "Stopping…", severity="warning")

    def action_cleanup(self) -> None:
        from stemcell.tui.screens.cleanup_screen import CleanupScreen

        if self.live is None or self.live.session is None:
            self.notify("Nothing to clean up from a recording.", severity="warning")
            return
        if self.live.running:
            self.notify("Stop the run first (x): stopping cleans up on its own.",
                        severity="warning")
            return
        self.app.push_screen(CleanupScreen(self.live, self.feed))

    def action_check(self) -> None:
        from stemcell.tui.screens.check_screen import CheckScreen

        if self.live is None or self.live.session is None or not self.ready:
            self.notify("Checks need a live run.", severity="warning")
            return
        desk = getattr(self.live.session, "desk", None)
        if desk is not None and desk.waiting_on:
            # Hands-on: the waiting step's checks run again now, not at the next tick.
            desk.recheck()
            self.notify(f"Checking {desk.waiting_on} again now.", timeout=3)
            return
        # The highlighted step's checks when it has any ("check this step"), else all.
        step = self.view.query_one("#steps").selected_step  # type: ignore[attr-defined]
        lab = self.live.session.ctx.lab
        with_checks = {s.id for s in lab.steps if s.checks}
        self.app.push_screen(CheckScreen(self.live.session.ctx,
                                         step if step in with_checks else None))

    def action_show_me(self) -> None:
        """Hands-on: stemcell does the step that waits for the student (the guided run)."""
        if self.live is None or self.live.session is None or not self.config.hands_on:
            self.notify("Show me is for hands-on runs: in guided mode stemcell does every "
                        "step already.", severity="warning")
            return
        refusal = self.live.session.show_me()
        if refusal:
            self.notify(f"Show me: {refusal}", severity="warning")
        else:
            self.notify("Show me: stemcell does this step for you; watch the SSH and "
                        "Events tabs.", timeout=5)

    def action_search(self) -> None:
        self.view.show_tab("tab-ssh")
        self.view.ssh.query_one("#ssh-search", Input).focus()

    @on(Input.Submitted, "#ssh-search")
    def _search(self, event: Input.Submitted) -> None:
        self.view.ssh.query_text = event.value.strip()
        self.view.ssh.rebuild(self.model)

    def key_escape(self) -> None:
        search = self.view.ssh.query_one("#ssh-search", Input)
        if search.has_focus or self.view.ssh.query_text:
            search.value = ""
            self.view.ssh.query_text = ""
            self.view.ssh.rebuild(self.model)
            self.view.query_one("#steps").focus()

    # --- quitting and palette helpers ---------------------------------------------------
    def live_count(self) -> int:
        if self.live is None:
            return 0
        return len(self.live.live_resources())

    def request_quit(self) -> None:
        count = self.live_count()
        running = self.live is not None and self.live.running
        if not count and not running:
            self._exit()
            return

        def chosen(choice: str | None) -> None:
            if choice == "keep":
                run_id = self.model.run_id
                stemcell_app(self).leave(f"Kept {count} resource(s). Clean up later with: "
                                         f"stemcell cleanup --run {run_id}")
            elif choice == "cleanup" and running:
                assert self.live is not None
                self.live.cancel()
                self.notify("Stopping and cleaning up; the app quits when done.")
                self._quit_when_done()
            elif choice == "cleanup":
                from stemcell.tui.screens.cleanup_screen import CleanupScreen

                assert self.live is not None
                self.app.push_screen(CleanupScreen(self.live, self.feed, quit_after=True))

        run_id = self.model.run_id or "?"
        self.app.push_screen(QuitWithResources(count or len(self.model.live_resources()),
                                               run_id, running), chosen)

    @work(thread=True, group="quit")
    def _quit_when_done(self) -> None:
        import time

        while self.live is not None and self.live.running:
            time.sleep(0.1)
        self.app.call_from_thread(self._exit)

    def _exit(self) -> None:
        if self.live is not None:
            self.live.close()
        self.app.exit()

    def student_commands(self) -> list[str]:
        """Hands-on: the commands of the step waiting for the student (palette: copy)."""
        step = self.model.steps.get(self.model.current_step)
        return list(step.commands) if step is not None and step.status == "running" else []

    def ssh_commands(self) -> list[tuple[str, str]]:
        """(label, command) to reach each running instance over SSH."""
        if self.live is None or self.live.session is None:
            return []
        from stemcell.remote.reach import known_hosts
        from stemcell.remote.ssh_command import ssh_command

        ctx = self.live.session.ctx
        key = ctx.get("key_path") or str(ctx.folder.key)
        out = []
        for inst in self.model.instances.values():
            if inst.state != "running" or not inst.address:
                continue
            host, port = inst.address, 22
            if ctx.dialer is not None:
                from stemcell.remote.dialer import Target

                try:
                    host, port = ctx.dialer.ssh_address(Target(inst.instance_id, inst.address))
                except Exception:
                    continue
            out.append((f"{inst.instance_id} ({self.model.instance_label(inst.instance_id)})",
                        # The run pins host keys under the instance id (public IPs are
                        # reused): HostKeyAlias makes OpenSSH look the key up by it.
                        ssh_command(host, port, key, known_hosts(ctx),
                                    host_key_alias=inst.instance_id)))
        return out

    def run_folder(self) -> str:
        if self.live is not None and self.live.session is not None:
            return str(self.live.session.ctx.folder)
        return ""

    def open_run_folder(self) -> None:
        folder = self.run_folder()
        if not folder:
            self.notify("No run folder yet.", severity="warning")
            return
        try:
            open_folder(folder)
            self.notify(f"Opened {folder}")
        except OSError:
            self.app.copy_to_clipboard(folder)
            self.notify(f"No file manager here; path copied: {folder}")


def open_folder(folder: str) -> None:
    """Show ``folder`` in the desktop's file manager: each platform has its own opener."""
    if sys.platform == "win32":
        os.startfile(folder)  # type: ignore[attr-defined]  # Windows only
    elif sys.platform == "darwin":
        subprocess.Popen(["open", folder], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    else:  # Linux and the BSDs: the freedesktop.org opener
        subprocess.Popen(["xdg-open", folder], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
