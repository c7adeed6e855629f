"""``stemcell cleanup``: delete what a run (or every run) left behind.

``--run ID`` uses the run's ledger and then the tags (something created after
the last save is still found); ``--all`` goes by the ``stemcell:run`` tag alone,
for when the state files are gone. ``--dry-run`` lists and deletes nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from stemcell import paths
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import ConfigError, StateError, StemcellError
from stemcell.engine.events import Event, ResourceDeleted
from stemcell.engine.state import Resource, RunState, StateStore


@click.command()
@click.option("--run", "run_id", default=None, metavar="ID", help="Clean up one run.")
@click.option("--all", "every", is_flag=True, help="Everything tagged by stemcell.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting.")
@click.option("--backend", type=click.Choice(["sandbox", "aws"]), default=None,
              help="Where to look (default: the run's backend, else sandbox).")
@click.option("--region", default=None, help="Region (default: the run's, else us-east-1).")
@click.option("--aws-profile", default=None, help="Named AWS profile (aws only).")
def cleanup(run_id: str | None, every: bool, dry_run: bool, yes: bool, backend: str | None,
            region: str | None, aws_profile: str | None) -> None:
    """Delete a run's resources, or every stemcell-tagged resource, newest first."""
    if bool(run_id) == every:
        raise click.UsageError("give either --run ID or --all")
    try:
        code = _cleanup(run_id, dry_run, yes, backend, region, aws_profile)
    except (ConfigError, StateError) as exc:
        click.echo(f"error: {exc.message}", err=True)
        if exc.hint:
            click.echo(exc.hint, err=True)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        click.echo("interrupted: some resources may remain; run the same command again",
                   err=True)
        raise SystemExit(130) from None
    raise SystemExit(code)


def _cleanup(run_id: str | None, dry_run: bool, yes: bool, backend: str | None,
             region: str | None, aws_profile: str | None) -> int:
    from stemcell.cloud import leftovers
    from stemcell.cloud.backend import open_backend

    store = _store(run_id)
    saved = RunConfig.from_dict(store.state.config) if run_id else RunConfig()
    config = RunConfig(backend=backend or saved.backend, region=region or saved.region,
                       aws_profile=aws_profile or saved.aws_profile)
    opened = open_backend(config)
    try:
        ctx = Context(run_id=store.state.run_id, run_dir=store.path.parent, config=config,
                      lab=None, profile=None, profile_dir=Path(), store=store)  # type: ignore[arg-type]
        opened.attach(ctx)
        if opened.note:
            click.echo(opened.note, err=True)
        handle = getattr(opened, "_handle", None)
        if config.backend == "sandbox" and handle is not None and not handle.background:
            # A sandbox started just now is empty: its resources died with its process.
            click.echo("no background sandbox is running; a run's sandbox resources end "
                       "with the process that ran it", err=True)
        doomed = _doomed(ctx, leftovers.find(opened.cloud, run_id), run_id)
        where = f"{config.backend} {config.region}"
        if not doomed:
            click.echo(f"nothing to clean up ({where})")
            return 0
        click.echo(f"{len(doomed)} resource(s) to delete ({where}):")
        for r in doomed:
            click.echo(f"  {r.rtype:<15} {r.rid}  {r.name}  run={r.extra.get('run', '?')}")
        if dry_run:
            click.echo("dry run: nothing deleted")
            return 0
        if not yes and not click.confirm("Delete them?", default=False):
            click.echo("nothing deleted")
            return 1
        return _delete(ctx, doomed)
    finally:
        opened.close()


def _store(run_id: str | None) -> StateStore:
    if run_id:
        path = paths.run_dir(run_id) / "state.json"
        if path.exists():
            return StateStore.load(path)
        click.echo(f"no state file for run {run_id}; looking by tag only", err=True)
        return StateStore(path, RunState(run_id=run_id))
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    # A record of what --all deleted, kept like a run's own state.
    return StateStore(paths.home() / "cleanups" / f"{stamp}.json",
                      RunState(run_id=f"cleanup-{stamp}"))


def _doomed(ctx: Context, tagged: list[Resource], run_id: str | None) -> list[Resource]:
    """Ledger entries (in deletion order) then tagged ones the ledger does not know."""
    from stemcell.cloud.leftovers import deletion_order

    out: list[Resource] = []
    seen: set[tuple[str, str]] = set()
    if run_id:
        # An image before its snapshot: the snapshot cannot go while the image uses it.
        for r in deletion_order(ctx.state.live_resources()):
            r.extra.setdefault("run", run_id)
            out.append(r)
            seen.add((r.rtype, r.rid))
    for r in tagged:
        if (r.rtype, r.rid) in seen:
            continue
        r.extra["run"] = r.step_id
        r.step_id = "cleanup"
        out.append(r)
        seen.add((r.rtype, r.rid))
    with ctx.store.lock:  # tagged finds join the ledger, so a rerun knows them
        for r in out:
            if ctx.state.find(r.rtype, r.rid) is None:
                ctx.state.resources.append(r)
    return out


def _delete(ctx: Context, doomed: list[Resource]) -> int:
    def show(event: Event) -> None:
        if isinstance(event, ResourceDeleted):
            note = f" ({event.error})" if event.error else ""
            click.echo(f"  deleted {event.rtype} {event.rid}{note}")

    ctx.bus.subscribe(show)
    deleter: Any = ctx.deleter
    instances = [r.rid for r in doomed if r.rtype == "instance"]
    failed = 0
    if instances:  # all at once, one poll for all
        try:
            deleter.delete_instances(instances, ctx)
        except StemcellError as exc:
            click.echo(f"  could not terminate instances: {exc}", err=True)
            failed += 1
    for resource in doomed:
        current = ctx.state.find(resource.rtype, resource.rid)
        if resource.rtype == "instance" or (current is not None and current.state != "live"):
            continue
        try:
            deleter.delete(resource, ctx)
        except Exception as exc:
            ctx.mark_resource(resource.rtype, resource.rid, "failed", str(exc))
            click.echo(f"  could not delete {resource.rtype} {resource.rid}: {exc}", err=True)
            failed += 1
    left = [r for r in ctx.state.live_resources() if (r.rtype, r.rid) in
            {(d.rtype, d.rid) for d in doomed}]
    ctx.store.save()
    if left or failed:
        click.echo(f"{len(left)} resource(s) could not be deleted; run the command again",
                   err=True)
        return 1
    click.echo("all clean")
    return 0
