"""Secrets never reach recordings: redaction and the recorder."""

from __future__ import annotations

import json
from pathlib import Path

from stemcell.engine.events import Log, SshOutput, StepFinished
from stemcell.engine.recorder import RECORDING_VERSION, Recorder
from stemcell.engine.redact import redact

PRESIGNED = (
    "https://b.s3.amazonaws.com/web.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261128%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261128T010203Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)
KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----"
)


def test_presigned_url_keeps_its_shape_but_not_its_secrets() -> None:
    out = redact(f"curl -fsSL -o /tmp/b.tgz {PRESIGNED}")
    assert "X-Amz-Signature=[REDACTED]" in out
    assert "0f1e2d3c" not in out
    assert "AKIAIOSFODNN7EXAMPLE" not in out
    assert "X-Amz-Expires=3600" in out


def test_private_key_block() -> None:
    out = redact(f"before\n{KEY}\nafter")
    assert "b3BlbnNz" not in out
    assert out.startswith("before\n") and out.endswith("\nafter")


def test_cut_off_private_key() -> None:
    assert "b3Bl" not in redact(KEY.split("\n-----END")[0])


def test_credentials() -> None:
    text = ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY "
            "and ASIAY34FZKBOKMUTVV7A")
    out = redact(text)
    assert "wJalrXUtnFEMI" not in out
    assert "ASIAY34FZKBOKMUTVV7A" not in out


def test_recorder_writes_header_and_redacted_events(tmp_path: Path) -> None:
    path = tmp_path / "recording.jsonl"
    rec = Recorder(path, header={"run_id": "r"})
    rec(SshOutput(instance_id="i-1", line=f"GET {PRESIGNED}", t=1.0))
    rec(Log(message=KEY, t=2.0))
    rec(StepFinished(step_id="a", status="failed", error=PRESIGNED, t=3.0))
    rec.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["format"] == "stemcell-recording"
    assert lines[0]["version"] == RECORDING_VERSION
    assert [e["type"] for e in lines[1:]] == ["ssh_output", "log", "step_finished"]
    text = path.read_text()
    assert "0f1e2d3c" not in text and "b3BlbnNz" not in text and "AKIA" not in text
