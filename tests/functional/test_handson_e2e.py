"""Hands-on mode end to end: a test plays the student with the real AWS CLI and ssh.

``stemcell run --hands-on --json`` runs in the background (its own STEMCELL_HOME,
a sandbox at a high speed). For each step object it prints, the test types
every command in a real bash with the student's environment; the run must end
with every step verified, the comparison measured on the student's own
servers, and nothing left in the account. The sandbox is the background one
(``stemcell sandbox start``), which the run connects to: it outlives the run,
so what is left can be counted through the API afterwards.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

pytestmark = pytest.mark.e2e
SPEED = "40"
WALL_DEADLINE = 240.0  # seconds for the whole run; the lab itself takes far less
VENV_BIN = str(Path(sys.executable).parent)


@dataclass
class StudentRun:
    """A background ``stemcell run --hands-on --json`` and what it printed so far."""

    proc: subprocess.Popen[str]
    sandbox: dict[str, Any]
    home: str
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)
    setup: dict[str, str] = field(default_factory=dict)
    _err_seen: threading.Event = field(default_factory=threading.Event)

    def next_object(self, timeout: float = 120.0) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        return dict(json.loads(line))

    def wait_setup(self, timeout: float = 60.0) -> None:
        """The setup block (printed once, before the first step) names the sandbox env."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            text = "".join(self.stderr)
            if "# Your SSH key" in text:
                assert 'eval "$(stemcell sandbox env)"' in text, text
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError("no setup printed:\n" + "".join(self.stderr[-40:]))


def student_env(run: StudentRun) -> dict[str, str]:
    """The student's shell after `eval "$(stemcell sandbox env)"`, as the setup says.

    The one place that knows how the student points the AWS CLI at the sandbox: the
    test runs exactly what the setup tells the student to type, and reads the result.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    base["STEMCELL_HOME"] = run.home
    base["PATH"] = VENV_BIN + os.pathsep + base.get("PATH", "")
    shown = subprocess.run(["bash", "-c", 'eval "$(stemcell sandbox env)" && env -0'],
                           env=base, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    env = dict(item.split("=", 1) for item in shown.stdout.split("\0") if "=" in item)
    assert env["AWS_ENDPOINT_URL"] == run.sandbox["endpoint_url"]
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_PAGER"] = ""
    return env


def stemcell(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STEMCELL_HOME=str(home))
    return subprocess.run([sys.executable, "-m", "stemcell", *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


@pytest.fixture
def sandbox(_isolated: Path) -> Iterator[dict[str, Any]]:
    started = stemcell("sandbox", "start", "--speed", SPEED, "--json", home=_isolated)
    assert started.returncode == 0, started.stderr
    yield json.loads(started.stdout)
    stemcell("sandbox", "stop", home=_isolated)


def start(home: Path, sandbox: dict[str, Any], *extra: str) -> StudentRun:
    env = dict(os.environ, STEMCELL_HOME=str(home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "stemcell", "run", "--hands-on", "--json", *extra],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    run = StudentRun(proc, sandbox, str(home))

    def pump_out() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            run.lines.put(line)

    def pump_err() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            run.stderr.append(line)

    threading.Thread(target=pump_out, daemon=True).start()
    threading.Thread(target=pump_err, daemon=True).start()
    return run


def type_commands(commands: list[str], env: dict[str, str]) -> None:
    for command in commands:
        done = subprocess.run(["bash", "-c", command], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"$ {command}\n{done.stdout[-800:]}\n{done.stderr[-800:]}"


def clients(env: dict[str, str]) -> tuple[Any, Any]:
    kw: dict[str, Any] = {"endpoint_url": env["AWS_ENDPOINT_URL"], "region_name": "us-east-1",
                          "aws_access_key_id": env.get("AWS_ACCESS_KEY_ID", "x"),
                          "aws_secret_access_key": env.get("AWS_SECRET_ACCESS_KEY", "x")}
    return boto3.client("ec2", **kw), boto3.client("s3", **kw)


def assert_nothing_left(ec2: Any, s3: Any) -> None:
    states = [i["State"]["Name"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]]
    assert states and set(states) <= {"terminated", "shutting-down"}
    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []
    groups = [g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]]
    assert groups == ["default"]
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert s3.list_buckets()["Buckets"] == []


@pytest.fixture
def tools() -> Iterator[None]:
    for tool in ("aws", "ssh", "ssh-keygen"):
        if shutil.which(tool, path=VENV_BIN + os.pathsep + os.environ.get("PATH", "")) is None:
            pytest.fail(f"{tool} missing: install awscli (test extras) and openssh-client")
    yield


def finish(run: StudentRun) -> dict[str, Any]:
    summary = run.next_object(timeout=WALL_DEADLINE)
    assert "run_id" in summary, summary
    assert run.proc.wait(timeout=60) == 0, summary.get("reason") or "".join(run.stderr[-60:])
    return summary


def test_student_types_every_step_and_the_lab_completes(
        tools: None, sandbox: dict[str, Any], _isolated: Path) -> None:
    started = time.monotonic()
    run = start(_isolated, sandbox)
    try:
        run.wait_setup()
        env = student_env(run)
        ec2, s3 = clients(env)
        seen = []
        while True:
            obj = run.next_object(timeout=WALL_DEADLINE)
            if "step" not in obj:
                summary = obj
                break
            assert obj["commands"] and all(isinstance(c, str) for c in obj["commands"])
            seen.append(obj["step"])
            type_commands(obj["commands"], env)
        assert run.proc.wait(timeout=60) == 0, summary.get("reason")
    finally:
        if run.proc.poll() is None:
            run.proc.terminate()
            run.proc.wait(timeout=120)
    assert seen == ["key-pair", "security-group", "builder", "install-stack", "stop-builder",
                    "bake", "code-bundles", "launch-baked", "launch-base", "load-balancer"]
    assert summary["status"] == "succeeded" and summary["hands_on"] is True
    by = {s["id"]: s["by"] for s in summary["steps"]}
    assert all(by[step] == "student" for step in seen)
    assert by["measure"] == by["compare"] == "stemcell"
    # Every server measured is one the student launched; setup #2 is ready sooner.
    made = {r["id"]: r["made_by"] for r in summary["resources"]}
    instances = summary["timings"]["instances"]
    roles = {i for i, info in instances.items() if info["setup"] in ("1", "2")}
    assert len(roles) == 6 and all(made[i] == "student" for i in roles)
    for row in summary["timings"]["comparison"]["roles"]:
        setups = row["setups"]
        assert setups["2"]["ready"]["median"] < setups["1"]["ready"]["median"], row["role"]
    recording = Path(summary["run_dir"]) / "recording.jsonl"
    text = recording.read_text()
    assert "X-Amz-Signature" not in text and "PRIVATE KEY" not in text
    assert_nothing_left(ec2, s3)
    assert time.monotonic() - started < WALL_DEADLINE


def wait_for_text(run: StudentRun, text: str, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if text in "".join(run.stderr):
            return
        assert run.proc.poll() is None, "".join(run.stderr[-60:])
        time.sleep(0.1)
    raise AssertionError(f"never printed {text!r}:\n" + "".join(run.stderr[-60:]))


def assert_still_open(run: StudentRun, seconds: float = 3.0) -> None:
    """No next step object arrives: the step waits for the fix."""
    with pytest.raises(queue.Empty):
        run.lines.get(timeout=seconds)


def image_of(command: str) -> str:
    words = command.split()
    return words[words.index("--image-id") + 1]


def test_classic_mistakes_keep_the_step_open_with_the_hint_until_fixed(
        tools: None, sandbox: dict[str, Any], _isolated: Path) -> None:
    run = start(_isolated, sandbox)
    try:
        run.wait_setup()
        env = student_env(run)
        ec2, s3 = clients(env)
        base_image = ""
        while True:
            obj = run.next_object(timeout=WALL_DEADLINE)
            assert "step" in obj, f"{obj.get('reason')}\n" + "".join(run.stderr[-60:])
            step, commands = obj["step"], obj["commands"]
            if step == "security-group":
                # Mistake 1: SSH open to the whole internet.
                wrong = commands[1].replace("127.0.0.1/32", "0.0.0.0/0")
                type_commands([commands[0], wrong], env)
                wait_for_text(run, "port 22 is also open to 0.0.0.0/0")
                wait_for_text(run, "hint: Revoke it: aws ec2 revoke-security-group-ingress")
                assert_still_open(run)
                name = commands[0].split("--group-name ")[1].split()[0]
                type_commands([f"aws ec2 revoke-security-group-ingress --group-name {name} "
                               "--protocol tcp --port 22 --cidr 0.0.0.0/0",
                               f"aws ec2 authorize-security-group-ingress --group-name {name} "
                               "--protocol tcp --port 22 --cidr 127.0.0.1/32"], env)
                continue
            if step == "builder":
                base_image = image_of(commands[0])
            if step == "launch-baked":
                # Mistake 2: the web server from the Ubuntu image, not the baked one.
                web = next(c for c in commands if "setup2-web.sh" in c)
                type_commands([web.replace(image_of(web), base_image)], env)
                wait_for_text(run, "hint: Launch the role from your own AMI (setup #2)")
                assert_still_open(run)
                type_commands(commands, env)
                # Fixed: the step passes and the next one begins.
                nxt = run.next_object(timeout=WALL_DEADLINE)
                assert nxt["step"] == "launch-base"
                break
            type_commands(commands, env)
        # Enough: stop the run; it cleans up everything, the mistakes included.
        run.proc.terminate()
        assert run.proc.wait(timeout=180) == 130
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    assert_nothing_left(ec2, s3)
