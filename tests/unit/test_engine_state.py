"""Run state: atomic saves, crash mid-write, corrupt and newer files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from stemcell.engine.errors import StateError
from stemcell.engine.state import (
    STATE_VERSION,
    Resource,
    RunState,
    StateStore,
    load_state,
    write_atomic,
)


def test_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json", RunState(run_id="r"))
    store.state.resources.append(Resource(rtype="instance", rid="i-1", extra={"role": "web"}))
    store.state.bag["image_id"] = "ami-1"
    store.save()
    loaded = load_state(tmp_path / "state.json")
    assert loaded.resources[0].extra == {"role": "web"}
    assert loaded.bag == {"image_id": "ami-1"}


def test_crash_mid_write_keeps_the_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    store = StateStore(path, RunState(run_id="r"))
    store.state.bag["step"] = 1
    store.save()

    def crash(fd: int) -> None:
        raise OSError("power cut")

    store.state.bag["step"] = 2
    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError):
        store.save()
    monkeypatch.undo()
    assert load_state(path).bag["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left


def test_corrupt_state_is_an_error_not_a_reset(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"run_id": "r", "version": 1, "resources": [')
    with pytest.raises(StateError) as err:
        load_state(path)
    assert "corrupt" in err.value.message
    assert "stemcell cleanup --all --dry-run" in err.value.hint
    assert path.read_text().endswith("[")  # untouched


def test_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"run_id": "r", "version": STATE_VERSION + 1}))
    with pytest.raises(StateError, match="newer than this stemcell understands"):
        load_state(path)


def test_write_atomic_mode(tmp_path: Path) -> None:
    write_atomic(tmp_path / "secret", "x", mode=0o600)
    assert (tmp_path / "secret").stat().st_mode & 0o777 == 0o600
