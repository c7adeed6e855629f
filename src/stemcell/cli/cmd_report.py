"""``stemcell report RUN [--format md|json|csv|html] [--output FILE]``: a run's boot times.

RUN is a run id, a run folder or a ``state.json`` path. The surge options re-run
the surge model with other assumptions; without them the report shows exactly
what the run stored (the same numbers as its summary).
"""

from __future__ import annotations

from pathlib import Path

import click

from stemcell import paths
from stemcell.engine.errors import ConfigError, StateError
from stemcell.engine.run_folder import RunFolder
from stemcell.engine.state import RunState, load_state
from stemcell.timing.comparison import ComparisonResult
from stemcell.timing.report import FORMATS, build, render
from stemcell.timing.surge import Scenario


def resolve(run: str) -> Path:
    """The state.json a RUN argument names, or a click error saying what was tried."""
    given = Path(run).expanduser()
    candidates = []
    if given.is_file():
        return given
    if given.is_dir():
        candidates.append(RunFolder(given).state)
    elif "/" not in run:
        try:  # a run id: validated, and its folder inside the runs folder
            candidates.append(paths.run_folder(run).state)
        except ConfigError as exc:
            raise click.UsageError(exc.message) from None
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates) or str(given)
    raise click.UsageError(f"no run state found for {run!r} (looked at {tried})")


def load(run: str) -> RunState:
    try:
        return load_state(resolve(run))
    except StateError as exc:
        raise click.UsageError(exc.message) from exc


@click.command()
@click.argument("run")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="md", show_default=True,
              help="Markdown, JSON, CSV (one number per row) or self-contained HTML.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE instead of standard output.")
@click.option("--rate", type=click.FloatRange(min=0), help="Surge: requests/s arriving.")
@click.option("--capacity", type=click.FloatRange(min=0, min_open=True),
              help="Surge: requests/s one instance serves.")
@click.option("--fleet", type=click.IntRange(min=0), help="Surge: instances already serving.")
@click.option("--add", "added", type=click.IntRange(min=0),
              help="Surge: instances launched when it starts.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Surge: seconds a client waits before giving up.")
def report(run: str, fmt: str, output: Path | None, rate: float | None,
           capacity: float | None, fleet: int | None, added: int | None,
           timeout: float | None) -> None:
    """Boot timelines, setup #1 vs #2, the surge model; simulated or measured."""
    state = load(run)
    if not state.timings.get("instances"):
        raise click.UsageError(
            f"run {state.run_id} has no boot timings yet (it stopped before launching roles)")
    try:
        stored = ComparisonResult.stored_in(state.timings)
    except ValueError as exc:
        raise click.UsageError(f"run {state.run_id}: {exc}") from None
    overrides = {k: v for k, v in {"rate": rate, "capacity": capacity, "fleet": fleet,
                                   "added": added, "timeout": timeout}.items() if v is not None}
    scenario = None
    if overrides:
        base = stored.surge.scenario if stored is not None and stored.surge else Scenario()
        scenario = Scenario.from_dict({**base.to_dict(), **overrides})
        if scenario.latency_budget > scenario.timeout:
            scenario = Scenario.from_dict({**scenario.to_dict(),
                                           "latency_budget": scenario.timeout})
        try:
            scenario.validate()
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    text = render(build(state, scenario), fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.UsageError(f"cannot write {output}: {exc.strerror}") from exc
    click.echo(f"wrote {output} ({fmt})", err=True)
