"""``stemcell cleanup``: delete what a run (or every run) left behind.

``--run ID`` uses the run's ledger and then the tags (something created after
the last save is still found); ``--all`` goes by the ``stemcell:run`` tag alone,
for when the state files are gone - but only the caller's own resources (the
``stemcell:owner`` tag is the caller's STS identity) of runs no live process
holds (``engine/run_lock.py``): a classmate's resources in a shared account, or
a lab still running in another terminal, are left alone unless ``--any-owner``
or ``--include-live`` says otherwise. ``--dry-run`` lists and deletes nothing,
and says what each of those flags would add.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import click

from stemcell import paths
from stemcell.cloud.tags import OWNER, caller_arn
from stemcell.engine import run_lock
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import ConfigError, StateError, StemcellError
from stemcell.engine.events import Event, ResourceDeleted
from stemcell.engine.state import Resource, RunState, StateStore
from stemcell.engine.statuses import ResourceStatus
from stemcell.present.event_text import headline, plain


@click.command()
@click.option("--run", "run_id", default=None, metavar="ID", help="Clean up one run.")
@click.option("--all", "every", is_flag=True, help="Everything tagged by stemcell.")
@click.option("--any-owner", is_flag=True,
              help="With --all: also resources other identities created.")
@click.option("--include-live", is_flag=True,
              help="With --all: also runs whose process is still running.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting.")
@click.option("--backend", type=click.Choice(["sandbox", "aws"]), default=None,
              help="Where to look (default: the run's backend, else sandbox).")
@click.option("--region", default=None, help="Region (default: the run's, else us-east-1).")
@click.option("--aws-profile", default=None, help="Named AWS profile (aws only).")
def cleanup(run_id: str | None, every: bool, any_owner: bool, include_live: bool,
            dry_run: bool, yes: bool, backend: str | None, region: str | None,
            aws_profile: str | None) -> None:
    """Delete a run's resources, or every stemcell-tagged resource, newest first."""
    if bool(run_id) == every:
        raise click.UsageError("give either --run ID or --all")
    if (any_owner or include_live) and not every:
        raise click.UsageError("--any-owner and --include-live widen --all only")
    try:
        code = _cleanup(run_id, dry_run, yes, backend, region, aws_profile,
                        Widen(any_owner=any_owner, include_live=include_live))
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


@dataclass(frozen=True)
class Widen:
    any_owner: bool = False
    include_live: bool = False


def _scope(found: list[Resource], caller: str, widen: Widen
           ) -> tuple[list[Resource], list[Resource], list[Resource]]:
    """(taken, what --any-owner would add, what --include-live would add)."""
    taken: list[Resource] = []
    others: list[Resource] = []
    live: list[Resource] = []
    for r in found:
        mine = bool(caller) and r.extra.get("owner") == caller
        running = bool(r.step_id) and "/" not in r.step_id and \
            run_lock.is_held(paths.run_folder(r.step_id))
        if running and not widen.include_live:
            live.append(r)
        elif not mine and not widen.any_owner:
            others.append(r)
        else:
            taken.append(r)
    return taken, others, live


def _cleanup(run_id: str | None, dry_run: bool, yes: bool, backend: str | None,
             region: str | None, aws_profile: str | None, widen: Widen = Widen()) -> int:
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
        handle = opened.sandbox
        if config.backend == "sandbox" and handle is not None and not handle.background:
            # A sandbox started just now is empty: its resources died with its process.
            click.echo("no background sandbox is running; a run's sandbox resources end "
                       "with the process that ran it", err=True)
        tagged = leftovers.find(opened.cloud, run_id)
        left_out: list[tuple[str, list[Resource]]] = []
        if run_id is None:
            caller = caller_arn(opened.cloud)
            tagged, others, live = _scope(tagged, caller, widen)
            left_out = [("--any-owner", others), ("--include-live", live)]
            click.echo(f"--all takes only resources tagged {OWNER}={caller or '?'} of runs "
                       "no live process holds", err=True)
        doomed = _doomed(ctx, tagged, run_id)
        where = f"{config.backend} {config.region}"
        for flag, extra in left_out:
            if extra:
                click.echo(f"left alone ({len(extra)}; {flag} would add them):")
                for r in extra:
                    owner = r.extra.get("owner") or "no owner tag"
                    click.echo(f"  {r.rtype:<15} {r.rid}  run={r.step_id}  owner={owner}")
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
        path = paths.run_folder(run_id).state
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


def _tell_the_runs(ctx: Context, doomed: list[Resource]) -> None:
    """What --all deleted is no longer live in its own run's ledger either.

    Otherwise ``runs`` would keep listing leftovers that ``cleanup --all`` removed.
    """
    by_run: dict[str, dict[tuple[str, str], ResourceStatus]] = {}
    for r in doomed:
        current = ctx.state.find(r.rtype, r.rid)
        run = str(r.extra.get("run", ""))
        if current is None or current.state.is_live or not run or \
                run == ctx.run_id or "/" in run:
            continue
        by_run.setdefault(run, {})[(r.rtype, r.rid)] = current.state
    for run, states in by_run.items():
        path = paths.run_folder(run).state
        if not path.is_file():
            continue
        try:
            store = StateStore.load(path)
        except StateError:
            continue
        with store.lock:
            for resource in store.state.resources:
                if (resource.rtype, resource.rid) in states:
                    resource.state = states[(resource.rtype, resource.rid)]
            store.save()


def _delete(ctx: Context, doomed: list[Resource]) -> int:
    def show(event: Event) -> None:
        if isinstance(event, ResourceDeleted):  # worded as everywhere (present.event_text)
            click.echo("  " + plain(headline(event) or ()))

    ctx.bus.subscribe(show)
    deleter = ctx.deleter
    if deleter is None:  # open_backend's attach always gives one
        raise StemcellError("no cloud connection to delete with")
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
        if resource.rtype == "instance" or (current is not None
                                           and current.state != ResourceStatus.LIVE):
            continue
        try:
            deleter.delete(resource, ctx)
        except Exception as exc:
            ctx.mark_resource(resource.rtype, resource.rid, ResourceStatus.FAILED, str(exc))
            click.echo(f"  could not delete {resource.rtype} {resource.rid}: {exc}", err=True)
            failed += 1
    left = [r for r in ctx.state.live_resources() if (r.rtype, r.rid) in
            {(d.rtype, d.rid) for d in doomed}]
    ctx.store.save()
    _tell_the_runs(ctx, doomed)
    if left or failed:
        click.echo(f"{len(left)} resource(s) could not be deleted; run the command again",
                   err=True)
        return 1
    click.echo("all clean")
    return 0
