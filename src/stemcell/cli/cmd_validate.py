"""``stemcell validate PATH...``: exit 0 when valid, else one line per problem, exit 2."""

from __future__ import annotations

from pathlib import Path

import click

from stemcell.content import validate_paths


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check lab and profile files; print file:line:col: message per problem."""
    problems = validate_paths(list(paths))
    for problem in problems:
        click.echo(str(problem))
    if problems:
        raise SystemExit(2)
    click.echo(f"ok: {len(paths)} path(s) valid")
