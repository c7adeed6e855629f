"""The one ledger deletion (Context.delete_resources) and a context without a backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from stemcell.content.models import Lab, Profile
from stemcell.engine.clock import ModelClock
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import StemcellError
from stemcell.engine.ports import Target
from stemcell.engine.state import Resource, RunState, StateStore


class Deleter:
    """Deletes in memory; an image takes its snapshots along, as DeregisterImage with
    DeleteAssociatedSnapshots does; ``refuse`` ids fail."""

    def __init__(self, refuse: tuple[str, ...] = (), stop_after: int = 0) -> None:
        self.deleted: list[str] = []
        self.refuse = refuse
        self.stop_after = stop_after

    def delete(self, resource: Resource, ctx: Context) -> None:
        if resource.rid in self.refuse:
            raise RuntimeError(f"{resource.rid} is in use")
        self.deleted.append(resource.rid)
        ctx.mark_resource(resource.rtype, resource.rid, "deleted")
        for snap in resource.extra.get("snapshots", []):
            ctx.mark_resource("snapshot", snap, "gone")
        if self.stop_after and len(self.deleted) == self.stop_after:
            ctx.request_stop()
            ctx.request_stop()  # confirmed within STOP_CONFIRM_SECONDS

    def delete_instances(self, ids: object, ctx: Context) -> None:  # pragma: no cover
        raise AssertionError("not used here")


def make_ctx(tmp_path: Path) -> Context:
    return Context(run_id="r1", run_dir=tmp_path, config=RunConfig(),
                   lab=Lab(id="lab", title="Lab", steps=[]),
                   profile=Profile.model_construct(id="p"), profile_dir=tmp_path,
                   store=StateStore(tmp_path / "state.json", RunState(run_id="r1")),
                   clock=ModelClock.starting_now(speed=1000.0))


def record(ctx: Context, step: str, rtype: str, rid: str, **extra: object) -> None:
    ctx.current_step = step
    ctx.record_resource(rtype, rid, **extra)
    ctx.clock.sleep(1.0)  # distinct creation times: newest first is well defined


def test_types_named_first_go_first_and_what_went_along_is_skipped(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    deleter = Deleter()
    ctx.deleter = deleter
    record(ctx, "bake", "image", "ami-1", snapshots=["snap-1"])
    record(ctx, "bake", "snapshot", "snap-1")  # newer than its image
    record(ctx, "other", "thing", "t-1")
    ctx.delete_resources("bake", first=("image", "snapshot"))
    assert deleter.deleted == ["ami-1"]  # its snapshot went with it
    assert ctx.state.find("snapshot", "snap-1").state == "gone"  # type: ignore[union-attr]
    assert ctx.state.find("thing", "t-1").state == "live"  # type: ignore[union-attr]


def test_every_step_newest_first_a_failure_stays_live_and_is_reported(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    deleter = Deleter(refuse=("b",))
    ctx.deleter = deleter
    for step, rid in (("one", "a"), ("two", "b"), ("three", "c")):
        record(ctx, step, "thing", rid)
    failures: list[str] = []
    ctx.delete_resources(on_error=lambda exc: failures.append(str(exc)))
    assert deleter.deleted == ["c", "a"]
    assert failures == ["b is in use"]
    left = ctx.state.find("thing", "b")
    assert left is not None and left.state == "live"
    assert left.extra["delete_error"] == "b is in use"


def test_a_confirmed_stop_during_cleanup_leaves_the_rest(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    deleter = Deleter(stop_after=1)
    ctx.deleter = deleter
    for rid in ("a", "b", "c"):
        record(ctx, "one", "thing", rid)
    with ctx.cleaning():
        ctx.delete_resources()
    assert deleter.deleted == ["c"]
    assert [r.rid for r in ctx.state.live_resources()] == ["a", "b"]


def test_a_context_without_a_backend_says_so(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert not ctx.connected
    with pytest.raises(StemcellError, match="no cloud connection"):
        ctx.cloud.default_vpc()
    with pytest.raises(StemcellError, match="no cloud connection"):
        _ = ctx.cloud.ec2
    with pytest.raises(StemcellError, match="no dialer"):
        ctx.require_dialer().ssh_address(Target("i-1"))
