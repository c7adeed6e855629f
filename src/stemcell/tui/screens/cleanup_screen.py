"""Clean up: this run's live resources, or every stemcell-tagged leftover, with a dry run.

Listing is the dry run: nothing is deleted until the student confirms. Deletion
goes through the same deleter the runner uses (instances before the security
group, the AMI with its snapshots), one resource at a time, in a thread worker,
each row showing how it went.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, ProgressBar, RadioButton, RadioSet, Static

from stemcell.engine.errors import StemcellError
from stemcell.engine.statuses import ResourceStatus
from stemcell.tui.feed import EventFeed
from stemcell.tui.screens.modals import Confirm

if TYPE_CHECKING:
    from stemcell.engine.state import Resource
    from stemcell.session import LabSession


class RunResources(Protocol):
    """What the screen needs of a run (a ``LiveRun``): its session and live resources."""

    @property
    def prepared(self) -> LabSession: ...

    def live_resources(self) -> list[Resource]: ...


ORDER = ["load_balancer", "listener", "target_group", "instance", "image", "snapshot",
         "security_group", "key_pair", "bucket"]


class CleanupScreen(Screen[None]):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("d", "delete", "Delete…")]

    def __init__(self, live: RunResources, feed: EventFeed, *, quit_after: bool = False) -> None:
        super().__init__()
        self.live = live
        self.feed = feed
        self.quit_after = quit_after
        self.scope = "run"
        self.resources: list[Any] = []
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="cleanup"):
            yield Static("[b]Clean up[/b]: listing is a dry run; nothing is deleted until "
                         "you confirm.", id="cleanup-title")
            with RadioSet(id="scope"):
                yield RadioButton("this run's resources", value=True, id="scope-run")
                yield RadioButton("every stemcell-tagged leftover (any run)", id="scope-all")
            yield DataTable(id="cleanup-table", cursor_type="row")
            yield ProgressBar(total=1, show_eta=False, id="cleanup-progress")
            yield Static(id="cleanup-note")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Back", id="back")
                yield Button("Delete these", id="delete", variant="error")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in ("status", "type", "id", "name"):  # status first: it is what changes
            table.add_column(col, key=col)
        self._list()

    @on(RadioSet.Changed, "#scope")
    def _scope(self, event: RadioSet.Changed) -> None:
        self.scope = "all" if event.pressed.id == "scope-all" else "run"
        self._list()

    def _list(self) -> None:
        self.query_one("#cleanup-note", Static).update("listing…")
        self._find()

    @work(thread=True, exclusive=True, group="cleanup")
    def _find(self) -> None:
        try:
            if self.scope == "run":
                found = self.live.live_resources()
            else:
                from stemcell.cloud.leftovers import find

                found = find(self.live.prepared.ctx.cloud)
            found = sorted(found, key=lambda r: ORDER.index(r.rtype) if r.rtype in ORDER
                           else len(ORDER))
            self.app.call_from_thread(self._show, found, "")
        except StemcellError as exc:
            self.app.call_from_thread(self._show, [], f"{exc.message} {exc.hint}")
        except Exception as exc:
            self.app.call_from_thread(self._show, [], f"could not list resources: {exc}")

    def _show(self, found: list[Any], problem: str) -> None:
        self.resources = found
        table = self.query_one(DataTable)
        table.clear()
        for n, res in enumerate(found):
            table.add_row(Text("would delete", style="yellow"), res.rtype, res.rid, res.name,
                          key=str(n))
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, len(found)), progress=0)
        note = problem or (f"{len(found)} resource(s). Press d (or Delete these) to delete "
                           "them." if found else "Nothing to clean up.")
        self.query_one("#cleanup-note", Static).update(note)

    def action_delete(self) -> None:
        if self.busy or not self.resources:
            return
        listing = "\n".join(f"  {r.rtype} {r.rid} {r.name}" for r in self.resources)

        def chosen(yes: bool | None) -> None:
            if yes:
                self.busy = True
                self._delete(list(self.resources))

        self.app.push_screen(Confirm(f"Delete {len(self.resources)} resource(s)?",
                                     listing, yes="Delete", no="Keep"), chosen)

    @on(Button.Pressed, "#delete")
    def _delete_pressed(self) -> None:
        self.action_delete()

    @work(thread=True, exclusive=True, group="cleanup")
    def _delete(self, resources: list[Any]) -> None:
        ctx = self.live.prepared.ctx
        failed = 0
        # The run's cancel may be set (it was stopped): this cleanup's waits must not
        # read it as "stop", hence a cleanup of its own.
        with ctx.cleaning():
            for n, res in enumerate(resources):
                self.app.call_from_thread(self._row, n, Text("deleting…", style="bold #ffb000"))
                try:
                    if ctx.deleter is None:
                        raise RuntimeError("no cloud connection")
                    ctx.deleter.delete(res, ctx)
                    state = getattr(ctx.state.find(res.rtype, res.rid), "state",
                                    ResourceStatus.DELETED)
                    label = Text("gone already" if state == ResourceStatus.GONE else "deleted",
                                 style="green")
                except Exception as exc:
                    failed += 1
                    # Still live in the ledger, with why: `runs` counts it, cleanup retries.
                    ctx.mark_resource(res.rtype, res.rid, ResourceStatus.FAILED, str(exc))
                    label = Text(f"failed: {exc}", style="bold red")
                self.app.call_from_thread(self._row, n, label, n + 1)
        self.app.call_from_thread(self._finished, failed)

    def _row(self, n: int, label: Text, progress: int | None = None) -> None:
        self.query_one(DataTable).update_cell(str(n), "status", label, update_width=True)
        if progress is not None:
            self.query_one(ProgressBar).update(progress=progress)

    def _finished(self, failed: int) -> None:
        self.busy = False
        run_id = self.live.prepared.ctx.run_id
        note = "All deleted." if not failed else \
            (f"{failed} could not be deleted: see the status column, then try again "
             f"(or later: `stemcell cleanup --run {run_id}`).")
        self.query_one("#cleanup-note", Static).update(note)
        if self.quit_after and not failed:
            self.app.leave("Cleaned up: nothing of this run is left.")  # type: ignore[attr-defined]

    @on(Button.Pressed, "#back")
    def action_back(self) -> None:
        if self.busy:
            self.notify("Deleting: wait for it to finish.", severity="warning")
            return
        self.dismiss(None)
