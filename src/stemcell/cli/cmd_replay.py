"""``stemcell replay FILE``: review a recorded run in the app, or as text (--headless)."""

from __future__ import annotations

from pathlib import Path

import click

from stemcell import paths
from stemcell.engine.errors import ConfigError
from stemcell.engine.redact import redact
from stemcell.engine.replay import RecordingError, read_recording, read_run
from stemcell.engine.sanitise import sanitise
from stemcell.present.story import story


def resolve(target: str) -> Path:
    """A recording file, a run folder, or a run id from `stemcell runs`."""
    path = Path(target)
    if path.is_dir():
        return path / "recording.jsonl"
    if not path.exists() and "/" not in target:
        try:
            folder = paths.run_dir(target)  # a run id: validated, inside the runs folder
        except ConfigError as exc:
            raise click.UsageError(exc.message) from None
        if folder.is_dir():
            return folder / "recording.jsonl"
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
        recording = (read_run(path.parent) if path.name == "recording.jsonl"
                     and (path.parent / "state.json").exists() else read_recording(path))
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
