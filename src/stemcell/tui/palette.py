"""Command palette: run, retry, skip, clean up, copy an SSH command, open the run folder."""

from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider


class LabCommands(Provider):
    async def search(self, query: str) -> Hits:
        from stemcell.tui.screens.lab_screen import LabScreen

        screen = self.screen
        if not isinstance(screen, LabScreen):
            return
        matcher = self.matcher(query)
        commands: list[tuple[str, object, str]] = [
            ("Run the lab / continue", screen.action_run, "runs every step in a worker"),
            ("Retry the lab", screen.action_retry, "a fresh run of the same lab"),
            ("Skip the next step", screen.action_skip, "with a reason, recorded"),
            ("Toggle step-by-step mode", screen.action_step_mode, "pause after each step"),
            ("Stop the run", screen.action_stop, "cleans up what it created"),
            ("Clean up resources", screen.action_cleanup, "this run's, or every leftover"),
            ("Check my servers", screen.action_check, "the lab's checks, as a TA runs them"),
            ("Show me: let stemcell do this step", screen.action_show_me,
             "hands-on: stemcell does the step that waits for you (m)"),
            ("Open the run folder", screen.open_run_folder, screen.run_folder() or "no run yet"),
        ]
        for n, command in enumerate(screen.student_commands(), start=1):
            commands.append((f"Copy command {n} of this step",
                             partial(self._copy, command), command))
        for label, command in screen.ssh_commands():
            commands.append((f"Copy SSH command for {label}",
                             partial(self._copy, command), command))
        for name, action, help_text in commands:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), action, help=help_text)  # type: ignore[arg-type]

    def _copy(self, command: str) -> None:
        self.app.copy_to_clipboard(command)
        self.app.notify(f"Copied: {command}", timeout=6)
