"""Runner semantics: order, reverse cleanup, failure, interrupt, resume."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from stemcell.content.models import Lab, StepSpec
from stemcell.engine.clock import ModelClock
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import SkipStep, StepFailed
from stemcell.engine.events import Event, EventBus, ResourceCreated, RunFinished, StepFinished
from stemcell.engine.runner import Runner, summary
from stemcell.engine.state import Resource, RunState, StateStore, load_state
from stemcell.engine.step import BaseStep


class FakeCloud:
    """A deleter that remembers what exists and in which order things were deleted."""

    def __init__(self) -> None:
        self.alive: set[str] = set()
        self.deleted: list[str] = []

    def delete(self, resource: Resource, ctx: Context) -> None:
        self.alive.discard(resource.rid)
        self.deleted.append(resource.rid)
        ctx.mark_resource(resource.rtype, resource.rid, "deleted")


class Creates(BaseStep):
    def __init__(self, spec: StepSpec, cloud: FakeCloud, *rids: str, then: str = "") -> None:
        super().__init__(spec)
        self.cloud = cloud
        self.rids = rids
        self.then = then

    def run(self, ctx: Context) -> None:
        for rid in self.rids:
            self.cloud.alive.add(rid)
            ctx.record_resource("thing", rid)
        if self.then == "fail":
            raise StepFailed("the cloud said no", hint="try again")
        if self.then == "crash":
            raise RuntimeError("a bug")
        if self.then == "skip":
            raise SkipStep("nothing to do")
        if self.then == "wait":
            ctx.wait_for("something that never happens", lambda: False, timeout=10_000)


def spec(step_id: str, kind: str = "explain") -> StepSpec:
    return StepSpec(id=step_id, title=step_id.title(), kind=kind)


def make_ctx(tmp_path: Path, specs: list[StepSpec], keep: bool = False) -> Context:
    lab = Lab(id="lab", title="Lab", steps=specs)
    store = StateStore(tmp_path / "state.json", RunState(run_id="r1"))
    from stemcell.content.models import Profile

    profile = Profile.model_construct(id="p")
    ctx = Context(
        run_id="r1",
        run_dir=tmp_path,
        config=RunConfig(keep=keep),
        lab=lab,
        profile=profile,
        profile_dir=tmp_path,
        store=store,
        bus=EventBus(),
        clock=ModelClock.starting_now(speed=1000.0),
    )
    return ctx


def collect(ctx: Context) -> list[Event]:
    seen: list[Event] = []
    ctx.bus.subscribe(seen.append)
    return seen


def test_success_runs_in_order_and_cleans_up_newest_first(tmp_path: Path) -> None:
    cloud = FakeCloud()
    specs = [spec("a"), spec("b"), spec("end", "cleanup")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud
    steps = [Creates(specs[0], cloud, "a1", "a2"), Creates(specs[1], cloud, "b1"),
             Creates(specs[2], cloud)]
    assert Runner(ctx, steps).run() == "succeeded"
    assert cloud.deleted == ["b1", "a2", "a1"]
    assert not cloud.alive
    assert ctx.state.steps["end"].status == "done"
    assert load_state(tmp_path / "state.json").status == "succeeded"


def test_keep_skips_cleanup(tmp_path: Path) -> None:
    cloud = FakeCloud()
    specs = [spec("a"), spec("end", "cleanup")]
    ctx = make_ctx(tmp_path, specs, keep=True)
    ctx.deleter = cloud
    assert Runner(ctx, [Creates(specs[0], cloud, "a1"), Creates(specs[1], cloud)]).run() \
        == "succeeded"
    assert cloud.alive == {"a1"}
    assert ctx.state.steps["end"].status == "skipped"
    assert "stemcell cleanup --run r1" in ctx.state.steps["end"].error


@pytest.mark.parametrize("how", ["fail", "crash"])
def test_failure_mid_step_cleans_up_everything_started(tmp_path: Path, how: str) -> None:
    cloud = FakeCloud()
    specs = [spec("a"), spec("b"), spec("c")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud
    seen = collect(ctx)
    steps = [Creates(specs[0], cloud, "a1"), Creates(specs[1], cloud, "b1", then=how),
             Creates(specs[2], cloud, "c1")]
    assert Runner(ctx, steps).run() == "failed"
    # b1 was created before the failure: it is cleaned up too, before a1.
    assert cloud.deleted == ["b1", "a1"]
    assert "c" not in ctx.state.steps
    finished = [e for e in seen if isinstance(e, StepFinished) and e.step_id == "b"]
    assert finished[0].status == "failed"
    if how == "fail":
        assert finished[0].hint == "try again"
        assert ctx.state.reason == "b: the cloud said no (hint: try again)"
    else:
        assert "RuntimeError: a bug" in ctx.state.reason
    assert isinstance(seen[-1], RunFinished) and seen[-1].status == "failed"


def test_skip_goes_on(tmp_path: Path) -> None:
    cloud = FakeCloud()
    specs = [spec("a"), spec("b")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud
    assert Runner(ctx, [Creates(specs[0], cloud, then="skip"),
                        Creates(specs[1], cloud, "b1")]).run() == "succeeded"
    assert ctx.state.steps["a"].status == "skipped"
    assert ctx.state.steps["a"].error == "nothing to do"


def test_interrupt_during_a_wait_leaves_nothing_behind(tmp_path: Path) -> None:
    cloud = FakeCloud()
    specs = [spec("a"), spec("b"), spec("c")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud
    steps = [Creates(specs[0], cloud, "a1"), Creates(specs[1], cloud, "b1", then="wait"),
             Creates(specs[2], cloud, "c1")]
    timer = threading.Timer(0.2, ctx.cancel.set)
    timer.start()
    assert Runner(ctx, steps).run() == "interrupted"
    assert not cloud.alive
    assert cloud.deleted == ["b1", "a1"]
    assert ctx.state.steps["b"].status == "interrupted"
    assert ctx.state.reason == "interrupted during b"


def test_resource_is_in_the_state_file_before_the_wait(tmp_path: Path) -> None:
    cloud = FakeCloud()
    specs = [spec("a")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud
    seen_on_disk: list[list[str]] = []

    def spy(event: Event) -> None:
        if isinstance(event, ResourceCreated):
            state = load_state(tmp_path / "state.json")
            seen_on_disk.append([r.rid for r in state.resources])
            ctx.cancel.set()

    ctx.bus.subscribe(spy)
    Runner(ctx, [Creates(specs[0], cloud, "a1", then="wait")]).run()
    assert seen_on_disk == [["a1"]]


def test_resume_skips_done_steps_and_cleans_up_their_resources(tmp_path: Path) -> None:
    cloud = FakeCloud()
    specs = [spec("a"), spec("b"), spec("end", "cleanup")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud
    ctx.cancel.set()  # first session: interrupted before anything ran
    first = [Creates(specs[0], cloud, "a1"), Creates(specs[1], cloud, "b1", then="fail"),
             Creates(specs[2], cloud)]
    # Simulate a first session that finished step a and was killed (no cleanup).
    ctx.cancel.clear()
    ctx.current_step = "a"
    first[0].run(ctx)
    from stemcell.engine.state import StepRecord

    ctx.state.steps["a"] = StepRecord(status="done")
    ctx.store.save()
    # Second session, from the state file.
    store = StateStore.load(tmp_path / "state.json")
    ctx2 = make_ctx(tmp_path, specs)
    ctx2.store = store
    ctx2.deleter = cloud
    ran: list[str] = []

    class Tracking(Creates):
        def run(self, ctx: Context) -> None:
            ran.append(self.spec.id)
            super().run(ctx)

    steps = [Tracking(specs[0], cloud, "a1"), Tracking(specs[1], cloud, "b1"),
             Tracking(specs[2], cloud)]
    assert Runner(ctx2, steps).run() == "succeeded"
    assert ran == ["b"]  # "end" is a cleanup step: the runner does its work
    assert cloud.deleted == ["b1", "a1"]


def test_cleanup_failure_of_one_step_does_not_stop_the_others(tmp_path: Path) -> None:
    cloud = FakeCloud()
    specs = [spec("a"), spec("b"), spec("c")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud

    class BadCleanup(Creates):
        def cleanup(self, ctx: Context) -> None:
            raise RuntimeError("cleanup exploded")

    steps = [Creates(specs[0], cloud, "a1"), BadCleanup(specs[1], cloud, "b1"),
             Creates(specs[2], cloud, then="fail")]
    assert Runner(ctx, steps).run() == "failed"
    # b's own cleanup failed, but the runner's sweep still deleted b1; a1 too.
    assert not cloud.alive


def test_summary_shape(tmp_path: Path) -> None:
    cloud = FakeCloud()
    specs = [spec("a")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud
    Runner(ctx, [Creates(specs[0], cloud, "a1")]).run()
    data = summary(ctx)
    assert data["status"] == "succeeded"
    assert data["steps"] == [{"id": "a", "status": "done", "seconds": data["steps"][0]["seconds"],
                              "by": ""}]  # who did it: hands-on runs only
    assert data["resources"][0]["state"] == "deleted"
    assert data["simulated"] is True
    assert set(data) >= {"run_id", "status", "steps", "resources", "timings", "api_calls"}


def test_resume_after_a_failed_run_redoes_the_steps_whose_resources_were_cleaned(
    tmp_path: Path,
) -> None:
    cloud = FakeCloud()
    specs = [spec("a"), spec("b")]
    ctx = make_ctx(tmp_path, specs)
    ctx.deleter = cloud
    assert Runner(ctx, [Creates(specs[0], cloud, "a1"),
                        Creates(specs[1], cloud, "b1", then="fail")]).run() == "failed"
    assert ctx.state.steps["a"].status == "done" and ctx.state.steps["a"].cleaned
    assert not cloud.alive
    ctx2 = make_ctx(tmp_path, specs)
    ctx2.store = StateStore.load(tmp_path / "state.json")
    ctx2.deleter = cloud
    created: list[str] = []
    ctx2.bus.subscribe(lambda e: created.append(e.rid) if isinstance(e, ResourceCreated) else None)
    ctx2.config.keep = True
    assert Runner(ctx2, [Creates(specs[0], cloud, "a1"), Creates(specs[1], cloud, "b1")]).run() \
        == "succeeded"
    assert created == ["a1", "b1"]  # step a ran again: its key pair (say) was gone
