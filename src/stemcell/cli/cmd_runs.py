"""``stemcell runs``: past runs with their status and what they left running.

A run still marked ``running`` whose process no longer holds its lock
(``engine/run_lock.py``) died mid-run: it is shown ``interrupted``. A state
file that cannot be read is shown as its own error line; the others still list.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from stemcell.engine.run_folder import RunFolder
from stemcell.engine.run_lock import is_held
from stemcell.engine.statuses import RunStatus
from stemcell.paths import runs_dir
from stemcell.session import list_runs


def when(run: dict[str, Any]) -> str:
    try:
        created = float(run.get("created") or 0)
    except (TypeError, ValueError):
        created = 0.0
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(created)) if created else "?"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON list on stdout.")
def runs(as_json: bool) -> None:
    """List past runs: lab, profile, backend, when, status, leftover resources."""
    found = list_runs()
    for run in found:
        folder = RunFolder(Path(str(run.get("run_dir", ""))))
        run["recording"] = folder.recording.is_file()
        if run.get("status") == RunStatus.RUNNING and not is_held(folder):
            run["status"] = RunStatus.INTERRUPTED
            run["reason"] = "its process ended before the run finished"
    if as_json:
        click.echo(json.dumps(found, indent=2, default=str))
        return
    if not found:
        click.echo(f"no runs yet in {runs_dir()}")
        return
    click.echo(f"{'RUN':<24} {'LAB':<15} {'PROFILE':<14} {'BACKEND':<8} {'WHEN':<16} "
               f"{'STATUS':<11} LEFT")
    for r in found:
        left = r.get("live_resources", "?")
        click.echo(f"{r.get('run_id', '?')!s:<24} {r.get('lab', '')!s:<15} "
                   f"{r.get('profile', '')!s:<14} {r.get('backend', '')!s:<8} "
                   f"{when(r):<16} {r.get('status', '?')!s:<11} {left}")
        if r.get("error"):
            click.echo(f"  {r['error']}")
    if any(r.get("live_resources") for r in found):
        click.echo("")
        click.echo("Some runs still own resources: clean up with `stemcell cleanup --run RUN` "
                   "(or `stemcell cleanup --all` to find every tagged leftover).")
