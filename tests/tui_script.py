"""A scripted Lab 1 run: fixed ids and modeled times, for TUI snapshots and unit tests.

The events follow the order the real runner and steps emit them (see engine/runner.py),
so the panes see the same shapes they see live; ids and times are fixed so that
snapshots are deterministic. ``checkpoint`` cuts the run at a named moment.
"""

from __future__ import annotations

from stemcell.content import load_lab
from stemcell.content.shipped import shipped_dir
from stemcell.engine.events import (
    ApiCall,
    CleanupFinished,
    CleanupStarted,
    Comparison,
    CostEstimate,
    Event,
    ImageState,
    InstanceState,
    Log,
    ResourceCreated,
    ResourceDeleted,
    RunFinished,
    RunStarted,
    SshOutput,
    StepFinished,
    StepStarted,
    TimingMark,
)

T0 = 1_800_000_000.0
RUN_ID = "20261128-010000-abc123"
IMAGE = "ami-0stemcell00000001"
BASE = "ami-0ubuntu000000noble"

# Seconds (modeled) from RunInstances sent to each mark, per setup: realistic shapes.
BOOT = {
    "2": {"run_instances_returned": 0.6, "running": 9.0, "tcp_refused": 14.0,
          "ssh_accepting": 17.5, "cloud_init_done": 26.0, "http_healthy": 27.0},
    "1": {"run_instances_returned": 0.6, "running": 9.5, "tcp_refused": 14.5,
          "ssh_accepting": 18.0, "cloud_init_done": 71.0, "http_healthy": 72.5},
}
ROLES = ("web", "app-api", "app-worker")
SENT: dict[str, float] = {}


def lab_steps() -> list[dict[str, str]]:
    lab = load_lab(shipped_dir("labs") / "lab1-stem-cell.yaml")
    return [{"id": s.id, "title": s.title, "kind": s.kind} for s in lab.steps]


class _Script:
    def __init__(self) -> None:
        self.t = T0
        self.events: list[Event] = []
        self.api = 0

    def at(self, dt: float) -> float:
        self.t += dt
        return self.t

    def add(self, event: Event, dt: float = 0.5) -> None:
        event.t = self.at(dt)
        self.events.append(event)

    def call(self, op: str, service: str = "ec2") -> None:
        self.api += 1
        self.add(ApiCall(service=service, operation=op, total=self.api), 0.1)


def scripted_run(checkpoint: str = "end", fail_at: str | None = None) -> list[Event]:
    """Events of a whole Lab 1 run, cut at ``checkpoint``.

    checkpoints: start (RunStarted only), mid-bake, compared, end.
    ``fail_at``: a step id that fails with a hint (the run then cleans up).
    """
    s = _Script()
    steps = lab_steps()
    s.add(RunStarted(run_id=RUN_ID, lab="lab1-stem-cell", profile="apache-python",
                     backend="sandbox", region="us-east-1", simulated=True, steps=steps), 0)
    if checkpoint == "start":
        return s.events
    s.add(CostEstimate(usd=0.0, detail="sandbox: nothing is billed"), 0.1)
    titles = {st["id"]: st for st in steps}
    builder = "i-0builder000000001"
    for step_id in [st["id"] for st in steps]:
        spec = titles[step_id]
        if spec["kind"] == "cleanup":
            break
        s.add(StepStarted(step_id=step_id, title=spec["title"], step_kind=spec["kind"]), 0.2)
        started = s.t
        if step_id == fail_at:
            s.call("RunInstances")
            s.add(StepFinished(step_id=step_id, status="failed", seconds=round(s.t - started, 3),
                               error="InstanceLimitExceeded: you have reached the vCPU limit",
                               hint="Terminate instances you no longer need, or pick a "
                                    "smaller instance type."), 1.0)
            _cleanup(s, "failed")
            s.add(RunFinished(run_id=RUN_ID, status="failed",
                              reason=f"{step_id}: InstanceLimitExceeded"), 0.2)
            return s.events
        _step_body(s, spec["kind"], step_id, builder)
        if checkpoint == "mid-bake" and spec["kind"] == "create_image":
            return s.events
        s.add(StepFinished(step_id=step_id, status="done", seconds=round(s.t + 0.3 - started, 3)),
              0.3)
        if checkpoint == "compared" and spec["kind"] == "compare":
            return s.events
    s.add(StepStarted(step_id="cleanup", title="Clean up", step_kind="cleanup"), 0.2)
    _cleanup(s, "the lab is finished")
    s.add(StepFinished(step_id="cleanup", status="done", seconds=9.0), 0.1)
    s.add(RunFinished(run_id=RUN_ID, status="succeeded"), 0.1)
    return s.events


def _step_body(s: _Script, kind: str, step_id: str, builder: str) -> None:
    if kind == "find_base_image":
        s.call("DescribeImages")
        s.add(Log(message=f"newest Ubuntu 24.04 image: {BASE}", step_id=step_id))
    elif kind == "key_pair":
        s.call("ImportKeyPair")
        s.add(ResourceCreated(rtype="key_pair", rid="key-0a1b2c3d4e5f60718", step_id=step_id,
                              name=f"stemcell-{RUN_ID}"))
    elif kind == "security_group":
        s.call("DescribeVpcs")
        s.call("CreateSecurityGroup")
        s.add(ResourceCreated(rtype="security_group", rid="sg-0a1b2c3d4e5f60718",
                              step_id=step_id, name="stemcell-lab1"))
        s.call("AuthorizeSecurityGroupIngress")
    elif kind == "launch_builder":
        _launch(s, builder, "builder", "builder", BASE, step_id, {"running": 9.0})
    elif kind == "provision":
        _marks(s, builder, "builder", "builder",
               {"tcp_refused": s.t + 4.0, "ssh_accepting": s.t + 7.5,
                "cloud_init_done": s.t + 16.0})
        for line in _apt_lines():
            s.add(SshOutput(instance_id=builder, line=line), 0.15)
    elif kind == "stop_builder":
        s.call("StopInstances")
        s.add(InstanceState(instance_id=builder, state="stopping"), 1.0)
        s.add(InstanceState(instance_id=builder, state="stopped"), 6.0)
    elif kind == "create_image":
        s.call("CreateImage")
        s.add(ResourceCreated(rtype="image", rid=IMAGE, step_id=step_id,
                              name=f"stemcell-lab1-apache-python-{RUN_ID}"))
        s.add(ImageState(image_id=IMAGE, state="pending", phase="stopping", progress=0.05), 1)
        for p in (0.2, 0.45):
            s.call("DescribeImages")
            s.add(ImageState(image_id=IMAGE, state="pending", phase="snapshot", progress=p), 20)
    elif kind == "upload_bundles":
        s.call("CreateBucket", "s3")
        s.add(ResourceCreated(rtype="bucket", rid=f"stemcell-{RUN_ID}", step_id=step_id))
        for role in ROLES:
            s.call("PutObject", "s3")
            s.add(Log(message=f"uploaded {role}.tar.gz (presigned URL valid 1 h)",
                      step_id=step_id))
    elif kind == "launch_roles":
        setup = "2" if step_id == "launch-baked" else "1"
        for n, role in enumerate(ROLES):
            iid = f"i-0setup{setup}{role.replace('-', '')[:6]:0<6}{n:05d}"
            _launch(s, iid, role, setup, IMAGE if setup == "2" else BASE, step_id,
                    {k: v for k, v in BOOT[setup].items() if k in ("run_instances_returned",
                                                                  "running")})
    elif kind == "measure":
        for setup in ("2", "1"):
            for n, role in enumerate(ROLES):
                iid = f"i-0setup{setup}{role.replace('-', '')[:6]:0<6}{n:05d}"
                rest = {k: SENT[iid] + v for k, v in BOOT[setup].items()
                        if k not in ("run_instances_returned", "running")}
                _marks(s, iid, role, setup, rest)
                s.add(SshOutput(instance_id=iid, line=f"Cloud-init v. 24.4 finished; {role} up"))
    elif kind == "compare":
        s.add(Comparison(data=comparison_data()))
    elif kind == "load_balancer":
        s.call("CreateTargetGroup", "elbv2")
        s.add(ResourceCreated(rtype="target_group", rid="tg-stemcell-web", step_id=step_id))
    elif kind == "share_image":
        s.add(Log(message="no course account configured: image not shared", level="warning",
                  step_id=step_id))


def _launch(s: _Script, iid: str, role: str, setup: str, image: str, step_id: str,
            marks: dict[str, float]) -> None:
    sent = s.at(0.1)
    SENT[iid] = sent
    s.add(TimingMark(instance_id=iid, mark="run_instances_sent", at=sent, role=role, setup=setup),
          0)
    s.call("RunInstances")
    s.add(ResourceCreated(rtype="instance", rid=iid, step_id=step_id, name=f"{role}-{setup}"))
    s.add(InstanceState(instance_id=iid, state="pending", role=role, setup=setup,
                        image_id=image, launched_at=sent), 0.1)
    for mark, offset in marks.items():
        s.t = max(s.t, sent + offset)
        if mark == "running":
            n = sum(1 for e in s.events if isinstance(e, InstanceState)) % 200
            s.add(InstanceState(instance_id=iid, state="running",
                                address=f"54.210.{n}.{10 + len(iid) % 50}"), 0)
        s.add(TimingMark(instance_id=iid, mark=mark, at=sent + offset, role=role, setup=setup), 0)


def _marks(s: _Script, iid: str, role: str, setup: str, marks: dict[str, float]) -> None:
    """Marks observed now (event time) for moments that may lie in the past (``at``)."""
    for mark, at in marks.items():
        s.t = max(s.t, at)
        s.add(TimingMark(instance_id=iid, mark=mark, at=at, role=role, setup=setup), 0.05)


def _apt_lines() -> list[str]:
    return [
        "+ apt-get update",
        "Hit:1 http://us-east-1.ec2.archive.ubuntu.com/ubuntu noble InRelease",
        "Get:2 http://us-east-1.ec2.archive.ubuntu.com/ubuntu noble-updates InRelease [126 kB]",
        "Fetched 126 kB in 1s (158 kB/s)",
        "+ apt-get install -y apache2 libapache2-mod-wsgi-py3",
        "The following NEW packages will be installed:",
        "  apache2 apache2-bin apache2-data apache2-utils libapache2-mod-wsgi-py3",
        "Need to get 2177 kB of archives.",
        "Get:1 http://us-east-1.ec2.archive.ubuntu.com/ubuntu noble-updates/main amd64 "
        "apache2-bin amd64 2.4.58-1ubuntu8.5 [1329 kB]",
        "Fetched 2177 kB in 2s (1088 kB/s)",
        "Setting up apache2 (2.4.58-1ubuntu8.5) ...",
        "+ a2enmod wsgi",
        "+ systemctl enable apache2",
    ]


def _cleanup(s: _Script, reason: str) -> None:
    s.add(CleanupStarted(reason=reason), 0.2)
    created = [e for e in s.events if isinstance(e, ResourceCreated)]
    for res in reversed(created):
        s.call("Delete" + res.rtype.title().replace("_", ""))
        s.add(ResourceDeleted(rtype=res.rtype, rid=res.rid), 0.4)
    s.add(CleanupFinished(left=0), 0.1)


def one(seconds: float) -> dict[str, float]:
    """Stats of a single launch (timing.stats.Stats.to_dict)."""
    return {"n": 1, "median": seconds, "low": seconds, "high": seconds, "spread": 0.0}


def comparison_data() -> dict:
    """The compare step's data, in its shape (timing/compare.py), from the BOOT table."""
    keys = {"run_instances_returned": "api", "running": "pending", "tcp_refused": "network",
            "ssh_accepting": "sshd", "cloud_init_done": "cloud_init", "http_healthy": "app"}
    roles = []
    for role in ROLES:
        setups = {}
        for setup, marks in BOOT.items():
            previous, phases = 0.0, {}
            for mark, at in marks.items():
                phases[keys[mark]] = one(round(at - previous, 3))
                previous = at
            setups[setup] = {"n": 1, "instances": [f"i-{role}-{setup}"],
                             "ready": one(previous), "phases": phases, "bytes": None,
                             "cloud_init": {}, "not_ready": []}
        roles.append({"role": role, "setups": setups, "ratio": None, "saved_s": None,
                      "dominant_phase": None})
    return {"version": 1, "simulated": True, "source": "simulated in the sandbox",
            "roles": roles, "surge": None, "conclusion": [
        "Launched from the baked image (setup #2), every role served its health check "
        "sooner: web in 27 s instead of 72 s, 2.7x sooner.",
        "At boot, setup #1 downloaded 32.3 MB per server against 0 B for setup #2.",
        "These figures are simulated by the sandbox (modeled seconds)."]}
