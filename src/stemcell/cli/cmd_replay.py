"""``stemcell replay FILE``: review a recorded run in the app, or as text (--headless)."""

from __future__ import annotations

from pathlib import Path

import click

from stemcell import paths
from stemcell.engine.errors import ConfigError
from stemcell.engine.redact import redact
from stemcell.engine.replay import RecordingError, read_recording, read_run
from stemcell.engine.run_folder import RECORDING_NAME, RunFolder
from stemcell.engine.sanitise import sanitise
from stemcell.present.story import story


def resolve(target: str) -> Path:
    """A recording file, a run folder, or a run id from `stemcell runs`."""
    path = Path(target)
    if path.is_dir():
        return RunFolder(path).recording
    if not path.exists() and "/" not in target:
        try:
            folder = paths.run_folder(target)  # a run id: validated, inside the runs folder
        except ConfigError as exc:
            raise click.UsageError(exc.message) from None
        if folder.path.is_dir():
            return folder.recording
    return path


@click.command()
@click.argument("target", metavar="FILE")
@click.option("--headless", is_flag=True, help="Print the run's story as text.")
@click.option("--speed", type=click.FloatRange(1, 100), default=10.0, show_default=True,
              help="Playback speed (modeled seconds per second).")
def replay(target: str, headless: bool, speed: float) -> None:
    """Replay a recorded run (FILE: recording.jsonl, a run folder or a run id)."""
    try:
        path = resolve(target)
        # A run folder (or id) replays every session of the run, resumed ones included.
        folder = RunFolder(path.parent)
        recording = (read_run(folder) if path.name == RECORDING_NAME
                     and folder.state.exists() else read_recording(path))
    except RecordingError as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(f"hint: {exc.hint}", err=True)
        raise SystemExit(2) from None
    if headless:
        # A recording may come from someone else: no terminal controls, no secrets.
        for line in story(recording):
            click.echo(redact(sanitise(line)))
        return
    from stemcell.tui.app import StemcellApp

    StemcellApp(recording=recording, replay_speed=speed).run()
