"""Secrets stay secret: a private key printed line by line, and a failing step's error.

The end-to-end test runs the real lab on the sandbox with a bake script that
prints a multi-line private key (one SSH output line per key line, its BEGIN
line scrolled out of the error's last lines) and a presigned URL and secret key,
then fails: the key body and the secrets must reach none of recording.jsonl,
state.json or the stdout of `stemcell run -v`. The unit tests drive each
consumer (recorder, printer, view model, state file) with the same events.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from stemcell.cli.printer import Printer
from stemcell.content.shipped import shipped_dir
from stemcell.engine.events import Event, Log, RunFinished, SshOutput, StepFinished
from stemcell.engine.recorder import Recorder
from stemcell.engine.redact import StreamRedactor, register_secret
from stemcell.engine.state import RunState, StateStore, StepRecord
from stemcell.present.view import ViewModel

BODY = [
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACBfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEfakeFAKEAAAAJgAAA",
    "AAtzc2gtZWQyNTUxOQAAACBsecretsecretsecretsecretsecretsecretsecretsecre",
    "QAAAEDmoresecretmoresecretmoresecretmoresecretmoresecretmoresecretmore",
]
SIGNATURE = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
PRESIGNED = ("https://b.s3.amazonaws.com/web.tgz?X-Amz-Algorithm=AWS4-HMAC-SHA256"
             "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261128%2Fus-east-1%2Fs3%2Faws4_request"
             f"&X-Amz-Signature={SIGNATURE}")
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = [*(b[10:40] for b in BODY), SIGNATURE, SECRET, "AKIAIOSFODNN7EXAMPLE"]


def _key_lines(kind: str = "OPENSSH", end: bool = True) -> list[str]:
    lines = [f"-----BEGIN {kind} PRIVATE KEY-----", *BODY]
    return [*lines, f"-----END {kind} PRIVATE KEY-----"] if end else lines


def _events(kind: str = "OPENSSH", end: bool = True) -> list[Event]:
    out: list[Event] = [SshOutput(instance_id="i-1", line="apt-get install apache2")]
    out += [SshOutput(instance_id="i-1", line=line) for line in _key_lines(kind, end)]
    out += [SshOutput(instance_id="i-1", line="done", stream="stderr"),
            StepFinished(step_id="install-stack", status="failed",
                         error=f"curl {PRESIGNED} failed; aws_secret_access_key={SECRET}",
                         hint=f"see {PRESIGNED}"),
            Log(message="after the step: this line is shown"),
            RunFinished(run_id="r", status="failed",
                        reason=f'botocore said {{"SecretAccessKey": "{SECRET}"}}')]
    return out


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


@pytest.mark.parametrize("kind", ["OPENSSH", "RSA", "EC", "ENCRYPTED", "PGP"])
@pytest.mark.parametrize("end", [True, False])
def test_every_consumer_redacts_a_key_streamed_line_by_line(
    tmp_path: Path, kind: str, end: bool,
) -> None:
    events = _events(kind, end)
    recording = tmp_path / "recording.jsonl"
    recorder = Recorder(recording)
    buffer = io.StringIO()
    printer = Printer(Console(file=buffer, width=200), verbose=True)
    view = ViewModel()
    for event in events:
        recorder(event)
        printer(event)
        view.apply(event)
    recorder.close()
    assert not _leaks(recording.read_text()), _leaks(recording.read_text())
    assert stat.S_IMODE(recording.stat().st_mode) == 0o600
    shown = buffer.getvalue()
    assert not _leaks(shown), _leaks(shown)
    assert "apt-get install apache2" in shown  # ordinary output still shown
    held = json.dumps([list(v) for v in view.ssh.values()]) + json.dumps(list(view.log)) \
        + json.dumps(view.snapshot(), default=str)
    assert not _leaks(held), _leaks(held)
    # A BEGIN without an END redacts until the stream ends (the step finished):
    # what follows is shown again.
    assert "after the step: this line is shown" in shown


def test_a_known_secret_without_a_pattern_is_redacted() -> None:
    token = "sandbox-control-token-6f1d2c9e8a"
    register_secret(token)
    redactor = StreamRedactor()
    event = redactor.event(Log(message=f"calling the control API with {token}"))
    assert token not in event.to_dict()["message"]


def test_state_json_is_redacted_and_private(tmp_path: Path) -> None:
    state = RunState(run_id="r")
    state.steps["install-stack"] = StepRecord(
        status="failed", error="\n".join([*_key_lines()[2:], f"curl {PRESIGNED}"]))
    state.reason = f"aws_secret_access_key = {SECRET}"
    path = tmp_path / "run" / "state.json"
    StateStore(path, state).save()
    text = path.read_text()
    assert not _leaks(text), _leaks(text)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _bad_profile(folder: Path) -> Path:
    """The shipped profile, with a bake script that prints secrets and fails."""
    shipped = shipped_dir("profiles")
    shutil.copytree(shipped / "bundles", folder / "bundles")
    text = (shipped / "apache-python.yaml").read_text()
    start = text.index("bake_script: |")
    end = text.index("\nroles:")
    lines = [*_key_lines(), "echo-ing more", *_key_lines(end=False)[:1], *BODY[:2]]
    script = ["#!/bin/bash", "echo starting the bake"]
    script += [f"echo '{line}'" for line in lines]
    script += [f"echo 'fetching {PRESIGNED}'", f"echo 'aws_secret_access_key={SECRET}'",
               "exit 3"]
    body = "bake_script: |\n" + "".join(f"  {line}\n" for line in script)
    profile = folder / "leaky.yaml"
    profile.write_text(text[:start] + body + text[end:])
    return profile


@pytest.mark.e2e
def test_a_failing_bake_leaks_nothing_anywhere(tmp_path: Path, _isolated: Path) -> None:
    profile = _bad_profile(tmp_path)
    env = dict(os.environ, STEMCELL_HOME=str(_isolated))
    done = subprocess.run([sys.executable, "-m", "stemcell", "run", "-v", "--profile",
                           str(profile), "--speed", "200"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "starting the bake" in done.stdout  # -v did print the bake's output
    assert "[REDACTED PRIVATE KEY]" in done.stdout  # ... and the key was there, redacted
    assert "the bake script failed" in done.stdout
    assert not _leaks(done.stdout + done.stderr), _leaks(done.stdout + done.stderr)
    (run_dir,) = (_isolated / "runs").iterdir()
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    state = run_dir / "state.json"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert "the bake script failed" in state.read_text()
    for path in (state, *run_dir.glob("recording*.jsonl")):
        assert not _leaks(path.read_text()), (path, _leaks(path.read_text()))


def test_the_sandbox_s_secret_and_token_are_redacted_once_known() -> None:
    from stemcell.engine.redact import redact
    from stemcell.sandbox.credentials import SandboxCredentials

    creds = SandboxCredentials.generate()
    leaked = f"oops {creds.secret_access_key} and {creds.control_token}"
    assert creds.secret_access_key not in redact(leaked)
    assert creds.control_token not in redact(leaked)
