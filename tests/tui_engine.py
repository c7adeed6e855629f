"""A stand-in for ``session.prepare`` built on the real Runner, Context and Recorder.

Steps do no cloud work: each records a resource, prints a few lines and passes
timing marks, in modeled time, so the app's live path (thread workers, feed,
step mode, skip, retry, quitting with live resources) is exercised end to end
without the sandbox. The whole-lab-in-the-sandbox test uses the real prepare.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from stemcell import paths
from stemcell.content.models import LaunchRolesParams, StepSpec
from stemcell.engine.clock import ModelClock
from stemcell.engine.context import Context, RunConfig, new_run_id
from stemcell.engine.errors import StepFailed
from stemcell.engine.events import EventBus, ImageState, InstanceState, SshOutput
from stemcell.engine.recorder import Recorder
from stemcell.engine.runner import Runner
from stemcell.engine.state import Resource, RunState, StateStore
from stemcell.engine.step import BaseStep
from stemcell.session import load_content


class ScriptedStep(BaseStep):
    fail: set[str] = set()

    def run(self, ctx: Context) -> None:
        spec = self.spec
        ctx.sleep(2.0)
        if spec.id in self.fail:
            raise StepFailed("scripted failure", hint="press t to retry")
        if spec.kind in ("key_pair", "security_group", "upload_bundles"):
            ctx.record_resource(spec.kind, f"{spec.kind}-{ctx.run_id[-6:]}")
        if spec.kind == "launch_builder":
            self._launch(ctx, "i-builder", "builder", "builder")
        if spec.kind == "provision":
            for n in range(50):
                ctx.emit(SshOutput(instance_id="i-builder", line=f"apt line {n}"))
        if spec.kind == "create_image":
            ctx.record_resource("image", "ami-scripted")
            for phase, p in (("stopping", 0.1), ("snapshot", 0.5), ("available", 1.0)):
                ctx.emit(ImageState(image_id="ami-scripted", state="pending" if p < 1 else
                                    "available", phase=phase, progress=p))
                ctx.sleep(5)
        if spec.kind == "launch_roles":
            setup = str(spec.typed_params(LaunchRolesParams).setup)
            for role in ("web", "app-api", "app-worker"):
                self._launch(ctx, f"i-{role}-{setup}", role, setup)
            for role in ("web", "app-api", "app-worker"):
                iid = f"i-{role}-{setup}"
                for mark in ("ssh_accepting", "cloud_init_done", "http_healthy"):
                    ctx.sleep(3 if setup == "2" else 15)
                    ctx.mark(iid, mark)

    def _launch(self, ctx: Context, iid: str, role: str, setup: str) -> None:
        ctx.track_instance(iid, role, setup, "ami-scripted")
        ctx.mark(iid, "run_instances_sent")
        ctx.count_api_call("ec2", "RunInstances")
        ctx.record_resource("instance", iid)
        ctx.emit(InstanceState(instance_id=iid, state="pending", role=role, setup=setup))
        ctx.sleep(8)
        ctx.emit(InstanceState(instance_id=iid, state="running", address="10.0.0.1"))
        ctx.mark(iid, "running")


class MarkDeleter:
    def delete(self, resource: Resource, ctx: Context) -> None:
        ctx.count_api_call("ec2", "Delete")
        ctx.mark_resource(resource.rtype, resource.rid, "deleted")


@dataclass
class ScriptedSession:
    ctx: Context
    steps: list[Any]
    recorder: Recorder
    closed: bool = False
    opened: threading.Event = field(default_factory=threading.Event)

    @property
    def bus(self) -> EventBus:
        return self.ctx.bus

    @property
    def run_id(self) -> str:
        return self.ctx.run_id

    def open(self) -> None:
        self.opened.set()
        self.ctx.cloud = object()  # reconcile() hands it to cloud.leftovers.find

    def run(self) -> str:
        try:
            return Runner(self.ctx, self.steps).run()
        finally:
            self.recorder.flush()

    def cancel(self) -> str:
        return self.ctx.request_stop()

    def close(self) -> None:
        self.closed = True
        self.recorder.close()


def scripted_prepare(speed: float = 2000.0) -> Any:
    def prepare(config: RunConfig, *, resume: str | None = None) -> ScriptedSession:
        lab, _, profile, profile_path = load_content(config)
        if resume:
            run_id = resume
            run_dir = paths.run_dir(run_id)
            store = StateStore.load(run_dir / "state.json")
        else:
            run_id = new_run_id()
            run_dir = paths.run_dir(run_id)
            store = StateStore(run_dir / "state.json", RunState(run_id=run_id,
                                                                config=config.to_dict()))
            store.save()
        ctx = Context(run_id=run_id, run_dir=run_dir, config=config, lab=lab, profile=profile,
                      profile_dir=profile_path.parent, store=store,
                      clock=ModelClock.starting_now(speed))
        ctx.deleter = MarkDeleter()
        name = "recording.jsonl" if not resume else "recording-2.jsonl"
        recorder = Recorder(run_dir / name, {"run_id": run_id, "lab": lab.id,
                                                          "profile": profile.id})
        ctx.bus.subscribe(recorder)
        steps: list[Any] = [ScriptedStep(spec) for spec in lab.steps]
        return ScriptedSession(ctx, steps, recorder)

    return prepare


def spec_ids() -> list[str]:
    lab, _, _, _ = load_content(RunConfig())
    return [s.id for s in lab.steps]


def pane_contents(screen: Any) -> dict[str, Any]:
    """What a student sees in each pane (text only), to compare live and replayed runs."""
    from textual.widgets import Log

    from stemcell.tui.widgets.instances import COLUMNS, InstancesTable
    from stemcell.tui.widgets.steps import StepsList

    steps = screen.query_one(StepsList)
    table = screen.query_one(InstancesTable)
    return {
        "steps": [str(steps.get_option_at_index(i).prompt) for i in range(steps.option_count)],
        "instances": sorted(
            [table.get_cell(row, col).plain for col in COLUMNS if col != "uptime"]
            for row in table.rows),
        "ssh": list(screen.query_one("#ssh-log", Log).lines),
        "bars": str(screen.query_one("#bars").render()),
        "events": list(screen.query_one("#event-log", Log).lines),
        "api": str(screen.query_one("#api-counts").render()),
        "model": screen.model.snapshot(),
    }


__all__ = ["ScriptedStep", "StepSpec", "pane_contents", "scripted_prepare", "spec_ids"]
