"""Hands-on mode without a cloud: the runner's wait, show me, the course policy, the rules."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stemcell.content.models import Autopilot, Lab, StepSpec
from stemcell.engine.clock import ModelClock
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.events import Event, EventBus, StepFinished, StudentCheck, StudentTask
from stemcell.engine.runner import Runner
from stemcell.engine.state import RunState, StateStore
from stemcell.engine.step import BaseStep
from stemcell.engine.student_desk import Brief, CheckLine, Progress, StudentDesk
from stemcell.handson.security_group_task import judge
from stemcell.session import autopilot_refusal


class Ran(BaseStep):
    def __init__(self, spec: StepSpec) -> None:
        super().__init__(spec)
        self.ran = False

    def run(self, ctx: Context) -> None:
        self.ran = True


class Countdown:
    """Done on the n-th look; a failing check (with its hint) until then."""

    def __init__(self, looks: int) -> None:
        self.looks = looks
        self.polled = 0

    def brief(self, ctx: Context) -> Brief:
        return Brief(goal="do it", commands=["echo one", "echo two"], console="click it")

    def poll(self, ctx: Context) -> Progress:
        self.polled += 1
        ok = self.polled >= self.looks
        return Progress(done=ok, found="thing-1", lines=[
            CheckLine("c", "it is right", "passed" if ok else "failed", "it is wrong", "fix it")])


def make(tmp_path: Path, desk: StudentDesk, steps: list[BaseStep]) -> tuple[Runner, list[Event]]:
    lab = Lab(id="lab", title="Lab", steps=[s.spec for s in steps])
    ctx = Context(run_id="r1", run_dir=tmp_path, config=RunConfig(keep=True, hands_on=True),
                  lab=lab, profile=None, profile_dir=tmp_path,  # type: ignore[arg-type]
                  store=StateStore(tmp_path / "state.json", RunState(run_id="r1")),
                  bus=EventBus(), clock=ModelClock(1000.0,
                                                    epoch=1000.0))
    seen: list[Event] = []
    ctx.bus.subscribe(seen.append)
    return Runner(ctx, steps, desk), seen


def spec(step_id: str) -> StepSpec:
    return StepSpec(id=step_id, title=step_id, kind="explain")


def test_the_step_stays_open_with_the_hint_until_the_task_is_satisfied(tmp_path: Path) -> None:
    task = Countdown(looks=4)
    student, auto = Ran(spec("mine")), Ran(spec("auto"))
    runner, seen = make(tmp_path, StudentDesk({"mine": task}), [student, auto])
    assert runner.run() == "succeeded"
    assert not student.ran and auto.ran and task.polled == 4
    (brief,) = [e for e in seen if isinstance(e, StudentTask)]
    assert brief.commands == ["echo one", "echo two"] and brief.console == "click it"
    checks = [e for e in seen if isinstance(e, StudentCheck)]
    # Emitted when what is seen changes: failing (with the hint), then passing.
    assert [c.results[0]["status"] for c in checks] == ["failed", "passed"]
    assert checks[0].results[0]["hint"] == "fix it"
    by = {e.step_id: e.by for e in seen if isinstance(e, StepFinished)}
    assert by == {"mine": "student", "auto": "stemcell"}
    assert runner.ctx.state.steps["mine"].by == "student"


def test_show_me_runs_the_guided_step_and_says_stemcell_did_it(tmp_path: Path) -> None:
    task = Countdown(looks=10**9)
    student = Ran(spec("mine"))
    desk = StudentDesk({"mine": task})
    runner, seen = make(tmp_path, desk, [student])
    assert desk.show_me() != ""  # nothing waits yet
    threading.Thread(target=lambda: (time.sleep(0.3), desk.show_me()), daemon=True).start()
    assert runner.run() == "succeeded"
    assert student.ran
    assert [e.by for e in seen if isinstance(e, StepFinished)] == ["stemcell"]


def test_cancel_ends_the_wait(tmp_path: Path) -> None:
    runner, _ = make(tmp_path, StudentDesk({"mine": Countdown(looks=10**9)}),
                     [Ran(spec("mine"))])
    threading.Timer(0.3, runner.ctx.cancel.set).start()
    assert runner.run() == "interrupted"


def test_show_me_is_refused_where_the_course_allows_hands_on_only() -> None:
    desk = StudentDesk({}, show_me_allowed=False, why_not="do it yourself")
    desk.waiting_on = "mine"
    assert desk.show_me() == "do it yourself"
    assert not desk.take_show_me("mine")


def lab(**autopilot: bool) -> Lab:
    return Lab(id="lab", title="Lab", steps=[spec("a")], autopilot=Autopilot(**autopilot))


@pytest.mark.parametrize(("backend", "hands_on", "refused"), [
    ("aws", False, True), ("aws", True, False), ("sandbox", False, False)])
def test_autopilot_policy(backend: str, hands_on: bool, refused: bool) -> None:
    config = RunConfig(backend=backend, hands_on=hands_on)
    assert bool(autopilot_refusal(config, lab(aws=False))) is refused
    assert autopilot_refusal(config, lab()) == ""


def test_run_on_aws_without_hands_on_exits_2_saying_why(tmp_path: Path) -> None:
    from stemcell.cli import main

    text = Path("labs/lab1-stem-cell.yaml").read_text().replace(
        "autopilot: {sandbox: true, aws: true}", "autopilot: {sandbox: true, aws: false}")
    path = tmp_path / "lab-strict.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["run", "--lab", str(path), "--backend", "aws",
                                       "--ssh-cidr", "203.0.113.7/32", "--yes"])
    assert result.exit_code == 2, result.output
    assert "only hands-on mode on AWS" in result.output and "--hands-on" in result.output


def rules(*pairs: tuple[int, str]) -> list[dict[str, Any]]:
    return [{"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": c}]}
            for p, c in pairs]


def test_security_group_rules() -> None:
    good = judge(rules((22, "203.0.113.7/32"), (80, "0.0.0.0/0")), "203.0.113.7/32", False)
    assert all(line.status == "passed" for line in good)
    wide = judge(rules((22, "203.0.113.7/32"), (22, "0.0.0.0/0"), (80, "0.0.0.0/0")),
                 "203.0.113.7/32", False, "sg-1")
    (bad,) = [line for line in wide if line.status == "failed"]
    assert bad.id == "ssh-not-wider" and "--group-id sg-1" in bad.hint
    everything = judge([{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
                       "203.0.113.7/32", False)
    assert {line.id for line in everything if line.status == "failed"} == {"ssh-not-wider"}
    assert judge(rules((22, "203.0.113.7/32")), "203.0.113.7/32", False)[-1].status == "failed"


def hands_on_events() -> list[Event]:
    from stemcell.engine.events import RunStarted, StepStarted

    return [
        RunStarted(t=100.0, run_id="r1", lab="lab", profile="p", backend="sandbox",
                   region="us-east-1", simulated=True,
                   steps=[{"id": "key-pair", "title": "Key pair", "kind": "key_pair"}]),
        StepStarted(t=100.0, step_id="key-pair", title="Key pair", step_kind="key_pair"),
        StudentTask(t=100.0, step_id="key-pair", goal="Import a key",
                    commands=["ssh-keygen -f k", "aws ec2 import-key-pair --key-name k"],
                    console="EC2 console > Key pairs"),
        StudentCheck(t=110.0, step_id="key-pair", found="key pair key-1", results=[
            {"id": "private", "description": "the key is private", "status": "failed",
             "why": "mode 644", "hint": "chmod 600 k"}]),
        StepFinished(t=142.0, step_id="key-pair", status="done", seconds=42.0, by="student"),
    ]


def test_replay_and_printer_say_who_did_each_step() -> None:
    from rich.console import Console

    from stemcell.cli.printer import Printer
    from stemcell.present.event_text import describe
    from stemcell.present.story import summary_lines
    from stemcell.present.view import ViewModel

    model = ViewModel()
    model.apply_all(hands_on_events())
    step = model.steps["key-pair"]
    assert step.by == "student" and step.commands[0] == "ssh-keygen -f k"
    assert step.checks[0]["hint"] == "chmod 600 k"
    assert "42.0s" in "\n".join(summary_lines(model)) and "(by you)" in "\n".join(
        summary_lines(model))
    assert describe(hands_on_events()[-1]).endswith("(42.0s) by you")  # type: ignore[union-attr]
    console = Console(record=True, width=200)
    printer = Printer(console)
    for event in hands_on_events():
        printer(event)
    text = console.export_text()
    assert "$ aws ec2 import-key-pair --key-name k" in text
    assert "hint: chmod 600 k" in text and "step key-pair done (42.0s) by you" in text


def test_the_tas_report_says_who_did_each_step() -> None:
    from stemcell.engine.state import StepRecord
    from stemcell.timing.report import build, to_markdown

    state = RunState(run_id="r1", config={"hands_on": True, "backend": "sandbox"},
                     steps={"key-pair": StepRecord(status="done", seconds=42.0, by="student"),
                            "measure": StepRecord(status="done", seconds=9.0, by="stemcell")})
    report = build(state)
    assert report["hands_on"] is True
    assert report["steps"][0] == {"id": "key-pair", "status": "done", "by": "student",
                                  "seconds": 42.0}
    text = to_markdown(report)
    assert "## Hands-on: who did each step" in text and "| key-pair | done | student | 42.0 |" \
        in text
    guided = build(RunState(run_id="r2", config={"backend": "sandbox"}))
    assert guided["steps"] == [] and "who did each step" not in to_markdown(guided)


def test_a_failure_while_waiting_is_the_students_step_not_stemcells(tmp_path: Path) -> None:
    from stemcell.engine.errors import StepFailed

    class Broken(Countdown):
        def poll(self, ctx: Context) -> Progress:
            raise StepFailed("the account has no default VPC")

    runner, seen = make(tmp_path, StudentDesk({"mine": Broken(1)}), [Ran(spec("mine"))])
    assert runner.run() == "failed"
    assert [(e.status, e.by) for e in seen if isinstance(e, StepFinished)] == [
        ("failed", "student")]
