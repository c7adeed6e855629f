"""Typed run data: the run folder, statuses, the one codec, no words as protocol."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from stemcell.content.models import Lab, Profile, StepSpec
from stemcell.engine.clock import ModelClock
from stemcell.engine.codec import CodecError, from_data
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import StateError
from stemcell.engine.events import (
    EARLIER_NOTE,
    Event,
    EventBus,
    InstanceState,
    ResourceCreated,
    ResourceDeleted,
    RunFinished,
    StepFinished,
)
from stemcell.engine.replay import read_recording
from stemcell.engine.run_folder import RunFolder, write_private
from stemcell.engine.runner import Runner
from stemcell.engine.state import Resource, RunState, StateStore, StepRecord, load_state
from stemcell.engine.statuses import Actor, ResourceStatus, RunStatus, StepStatus
from stemcell.engine.step import BaseStep
from stemcell.present.view import ViewModel

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the run folder -------------------------------------------------------------------
def test_the_run_folder_names_every_file(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "20260131-120000-a1b2c3")
    assert folder.run_id == "20260131-120000-a1b2c3"
    assert folder.state == folder.path / "state.json"
    assert folder.recording == folder.path / "recording.jsonl"
    assert folder.segment(2) == folder.path / "recording-2.jsonl"
    assert folder.lock == folder.path / "run.lock"
    # The run's key and pinned host keys live in ssh/ (the known_hosts the copied SSH
    # command names once pointed beside it, at the folder's top).
    assert folder.key == folder.path / "ssh" / "id_ed25519"
    assert folder.public_key == folder.path / "ssh" / "id_ed25519.pub"
    assert folder.known_hosts == folder.path / "ssh" / "known_hosts"
    assert folder.handson == folder.path / "handson"
    assert str(folder) == str(folder.path)


def test_the_run_folder_is_made_private_and_secrets_0600(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "run").create()
    assert mode(folder.path) == 0o700
    with pytest.raises(FileExistsError):  # a new run never reuses a folder
        folder.create()
    key = write_private(folder.key, b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert mode(folder.ssh) == 0o700 and mode(key) == 0o600
    again = write_private(folder.key, "replaced")  # replaced, still 0600
    assert again.read_text() == "replaced" and mode(again) == 0o600
    handson = folder.private_dir(folder.handson / "user-data")
    assert mode(folder.handson) == 0o700 and mode(handson) == 0o700


def test_recordings_in_session_order_and_the_next_overwrites_none(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path).ensure()
    assert folder.recordings() == []
    assert folder.next_recording(resumed=False) == folder.recording
    for path in (folder.recording, folder.segment(10), folder.segment(2)):
        path.write_text("")
    assert folder.recordings() == [folder.recording, folder.segment(2), folder.segment(10)]
    assert folder.next_recording(resumed=True) == folder.segment(4)


def test_the_context_hands_out_its_folder(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, [])
    assert ctx.folder == RunFolder(tmp_path)
    assert ctx.folder.state == ctx.store.path


# --- statuses and the codec -------------------------------------------------------------
def test_statuses_round_trip_as_their_words(tmp_path: Path) -> None:
    state = RunState(run_id="r1", status=RunStatus.INTERRUPTED)
    state.steps["a"] = StepRecord(status=StepStatus.SKIPPED, error="no TA")
    state.steps["b"] = StepRecord(status=StepStatus.DONE, by=Actor.STUDENT)
    state.resources.append(Resource("instance", "i-1", state=ResourceStatus.GONE,
                                    made_by=Actor.STUDENT))
    StateStore(tmp_path / "state.json", state).save()
    raw = json.loads((tmp_path / "state.json").read_text())
    assert raw["status"] == "interrupted" and raw["steps"]["a"]["status"] == "skipped"
    assert raw["resources"][0]["state"] == "gone"
    assert raw["resources"][0]["made_by"] == "student" and raw["steps"]["b"]["by"] == "student"
    assert raw["steps"]["a"]["by"] == ""  # a guided run's step: nobody to name
    back = load_state(tmp_path / "state.json")
    assert back == state
    assert back.status is RunStatus.INTERRUPTED
    assert back.steps["a"].status is StepStatus.SKIPPED
    assert back.resources[0].state is ResourceStatus.GONE
    assert back.steps["a"].by is Actor.GUIDED and not back.steps["a"].by
    assert back.steps["b"].by is Actor.STUDENT and back.resources[0].made_by is Actor.STUDENT

    event = StepFinished(step_id="a", status=StepStatus.FAILED, error="no", t=3.0)
    data = event.to_dict()
    assert data["status"] == "failed" and type(data["status"]) is str
    again = Event.from_dict(json.loads(json.dumps(data)))
    assert again == event and isinstance(again, StepFinished)
    assert again.status is StepStatus.FAILED


OLD_STATE = {  # as stemcell wrote it before the statuses were enums (state version 1)
    "api_calls": {"ec2.RunInstances": 2},
    "bag": {"key_name": "stemcell-r0", "host_keys": {"i-1": "verified"}},
    "config": {"backend": "sandbox", "lab": "lab1-stem-cell", "profile": "apache-python"},
    "created": 1764480000.5,
    "reason": "interrupted during launch",
    "resources": [
        {"created": 10, "extra": {"path": "/x/ssh/id_ed25519"}, "made_by": "stemcell",
         "name": "stemcell-r0", "rid": "key-1", "rtype": "key_pair", "state": "live",
         "step_id": "key"},
        {"created": 11.5, "extra": {"delete_error": "DependencyViolation"},
         "made_by": "stemcell", "name": "", "rid": "sg-1", "rtype": "security_group",
         "state": "failed", "step_id": "sg"},
        {"created": 12.0, "extra": {}, "made_by": "student", "name": "", "rid": "i-1",
         "rtype": "instance", "state": "gone", "step_id": "launch"},
    ],
    "run_id": "r0",
    "status": "interrupted",
    "steps": {
        "key": {"by": "", "cleaned": False, "error": "", "finished": 2.0, "seconds": 1.0,
                "started": 1.0, "status": "done"},
        "launch": {"by": "", "cleaned": True, "error": "interrupted", "finished": 9.0,
                   "seconds": 4.0, "started": 5.0, "status": "interrupted"},
    },
    "timings": {"instances": {"i-1": {"role": "web", "setup": "1", "image_id": "ami-1",
                                      "marks": {"launched": 12.0}}}},
    "version": 1,
}


def test_an_old_state_file_loads_and_saves_the_same_words(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(OLD_STATE, indent=2, sort_keys=True))
    store = StateStore.load(path)
    state = store.state
    assert state.status is RunStatus.INTERRUPTED
    assert state.steps["key"].status is StepStatus.DONE
    assert state.steps["launch"].cleaned is True
    assert state.resources[2].made_by is Actor.STUDENT and state.steps["key"].by is Actor.GUIDED
    # An old "failed" entry is still live: runs counts it, cleanup retries it.
    assert [r.rid for r in state.live_resources()] == ["key-1", "sg-1"]
    assert state.resources[0].created == 10.0 and isinstance(state.resources[0].created, float)
    store.save()
    assert json.loads(path.read_text()) == json.loads(json.dumps(OLD_STATE)) | {
        "resources": [r | {"created": float(r["created"])} for r in OLD_STATE["resources"]]}


@pytest.mark.parametrize("damage", [
    {"status": "exploded"},                                 # not a run status
    {"steps": {"a": {"status": "sideways"}}},               # not a step status
    {"resources": [{"rtype": "instance", "rid": "i", "state": "maybe"}]},
    {"resources": {"rtype": "instance"}},                   # a mapping where a list goes
    {"created": "yesterday"},                               # text where a number goes
    {"steps": {"a": {"status": "done", "seconds": "1"}}},
    {"resources": [{"rid": "i"}]},                          # a required field missing
])
def test_a_damaged_state_file_is_an_error_naming_the_file(tmp_path: Path,
                                                          damage: dict[str, object]) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"run_id": "r", "version": 1, **damage}))
    with pytest.raises(StateError, match=r"state\.json: run state is corrupt"):
        load_state(path)


def test_the_codec_ignores_unknown_keys_and_defaults_missing_ones() -> None:
    record = from_data(StepRecord, {"status": "done", "from_the_future": 1})
    assert record == StepRecord(status=StepStatus.DONE)
    with pytest.raises(CodecError, match=r"run_finished\.status"):
        Event.from_dict({"type": "run_finished", "run_id": "r", "status": "bored"})


@pytest.mark.parametrize("name", ["lab1-sandbox.jsonl", "lab1-handson.jsonl"])
def test_the_shipped_recordings_load_and_write_back_the_same(name: str) -> None:
    path = ROOT / "recordings" / name
    recording = read_recording(path)
    assert recording.notes == [] and len(recording.events) > 100
    lines = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert len(lines) == len(recording.events)
    for line, event in zip(lines, recording.events, strict=True):
        again = event.to_dict()
        # Every field a line has comes back as it was; new fields only add keys.
        assert {k: again[k] for k in line} == line
    finished = [e for e in recording.events if isinstance(e, RunFinished)]
    assert finished and finished[-1].status is RunStatus.SUCCEEDED
    steps = [e for e in recording.events if isinstance(e, StepFinished)]
    assert steps and all(isinstance(e.status, StepStatus) for e in steps)


def test_old_recording_lines_read_their_words_as_the_fields_they_became() -> None:
    earlier = Event.from_dict({"type": "step_finished", "step_id": "a", "status": "done",
                               "error": EARLIER_NOTE, "seconds": 1.0, "t": 5.0})
    assert isinstance(earlier, StepFinished) and earlier.earlier
    gone = Event.from_dict({"type": "resource_deleted", "rtype": "instance", "rid": "i-1",
                            "error": "gone: deleted outside stemcell", "t": 6.0})
    assert isinstance(gone, ResourceDeleted) and gone.state is ResourceStatus.GONE
    plain = Event.from_dict({"type": "resource_deleted", "rtype": "instance", "rid": "i-2"})
    assert isinstance(plain, ResourceDeleted) and plain.state is ResourceStatus.DELETED
    # A line that has the field is read by the field, whatever its words.
    newer = Event.from_dict({"type": "resource_deleted", "rtype": "key_pair", "rid": "k",
                             "error": "gone fishing", "state": "deleted"})
    assert isinstance(newer, ResourceDeleted) and newer.state is ResourceStatus.DELETED


# --- no words as protocol ---------------------------------------------------------------
class Makes(BaseStep):
    def __init__(self, spec: StepSpec, ran: list[str]) -> None:
        super().__init__(spec)
        self.ran = ran

    def run(self, ctx: Context) -> None:
        self.ran.append(self.spec.id)


def make_ctx(tmp_path: Path, specs: list[StepSpec]) -> Context:
    return Context(
        run_id="r1", run_dir=tmp_path, config=RunConfig(keep=True),
        lab=Lab(id="lab", title="Lab", steps=specs), profile=Profile.model_construct(id="p"),
        profile_dir=tmp_path, store=StateStore(tmp_path / "state.json", RunState(run_id="r1")),
        bus=EventBus(), clock=ModelClock.starting_now(speed=1000.0))


def test_step_mode_pauses_only_after_steps_this_session_ran_whatever_the_words(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A resumed run announces the steps an earlier session finished; step mode holds
    after the steps it runs now. The announcement's words are for the eye only."""
    from stemcell.engine import runner as runner_module

    monkeypatch.setattr(runner_module, "EARLIER_NOTE", "(finished before: any words)")
    specs = [StepSpec(id=i, title=i, kind="explain") for i in ("a", "b", "c", "d")]
    ctx = make_ctx(tmp_path, specs)
    ctx.state.steps["a"] = StepRecord(status=StepStatus.DONE, seconds=2.0)
    ctx.state.steps["b"] = StepRecord(status=StepStatus.SKIPPED, error="skipped by the student")
    seen: list[Event] = []
    ctx.bus.subscribe(seen.append)
    paused: list[str] = []
    ctx.pause.step_mode = True

    def on_pause(step_id: str) -> None:
        paused.append(step_id)
        ctx.pause.cont()  # the student continues at once

    ctx.pause.on_pause = on_pause
    ran: list[str] = []
    result: dict[str, RunStatus] = {}
    worker = threading.Thread(target=lambda: result.update(
        s=Runner(ctx, [Makes(s, ran) for s in specs]).run()))
    worker.start()
    worker.join(60)
    assert not worker.is_alive()
    assert result["s"] is RunStatus.SUCCEEDED
    assert ran == ["c", "d"] and paused == ["c"]  # never after a or b; d is the last
    finished = {e.step_id: e for e in seen if isinstance(e, StepFinished)}
    assert finished["a"].earlier and finished["b"].earlier
    assert not finished["c"].earlier
    assert finished["a"].error == "(finished before: any words)"
    # The view keeps the student's reason for b by the flag, whatever the words say.
    model = ViewModel()
    model.declare_steps([{"id": s.id, "title": s.title, "kind": s.kind} for s in specs])
    model.steps["b"].status, model.steps["b"].error = "skipped", "skipped by the student"
    model.apply_all(seen)
    assert model.steps["b"].error == "skipped by the student"


def test_a_resource_is_gone_by_its_state_not_by_its_words(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, [])
    seen: list[Event] = []
    ctx.bus.subscribe(seen.append)
    ctx.record_resource("instance", "i-1")
    ctx.record_resource("key_pair", "k-1")
    ctx.record_resource("key_pair", "k-2")
    ctx.mark_resource("instance", "i-1", ResourceStatus.GONE, "vanished without a word")
    ctx.mark_resource("key_pair", "k-1", ResourceStatus.DELETED)
    ctx.mark_resource("key_pair", "k-2", ResourceStatus.FAILED, "gone wrong: throttled")
    deleted = [e for e in seen if isinstance(e, ResourceDeleted)]
    assert [(e.rid, e.state) for e in deleted] == [("i-1", ResourceStatus.GONE),
                                                   ("k-1", ResourceStatus.DELETED)]
    assert [r.rid for r in ctx.state.live_resources()] == ["k-2"]  # a failed deletion
    assert ctx.state.find("key_pair", "k-2").extra["delete_error"] == "gone wrong: throttled"

    model = ViewModel()
    model.apply(InstanceState(instance_id="i-1", state="running"))
    model.apply_all(seen)
    assert model.resources[("instance", "i-1")].state == "gone"
    assert model.instances["i-1"].state == "gone"
    assert model.resources[("key_pair", "k-1")].state == "deleted"
    model.apply(ResourceCreated(rtype="key_pair", rid="k-3"))
    model.apply(ResourceDeleted(rtype="key_pair", rid="k-3", error="gone fishing"))
    assert model.resources[("key_pair", "k-3")].state == "failed"  # words decide nothing



def test_a_recording_line_that_does_not_fit_its_event_names_its_line(tmp_path: Path) -> None:
    from stemcell.engine.replay import RecordingError

    head = json.dumps({"format": "stemcell-recording", "version": 1})
    good = json.dumps({"type": "log", "message": "hello", "t": 1.0})
    future = json.dumps({"type": "from_the_future", "t": 2.0})
    path = tmp_path / "recording.jsonl"
    path.write_text("\n".join([head, good, future]) + "\n")
    read = read_recording(path)
    assert len(read.events) == 1 and "unknown type 'from_the_future'" in read.notes[0]
    for bad in ({"type": "step_finished", "status": "done"},               # no step_id
                {"type": "step_finished", "step_id": "a", "status": "meh"},  # not a status
                {"type": "api_call", "service": "ec2", "operation": "X", "total": "many"}):
        path.write_text("\n".join([head, good, json.dumps(bad)]) + "\n")
        with pytest.raises(RecordingError, match=r"recording\.jsonl:3: malformed"):
            read_recording(path)
