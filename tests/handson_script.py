"""A scripted hands-on moment: the security group step open with a failing check.

Built on ``tui_script.scripted_run`` (fixed ids and modeled times) so snapshots
are deterministic.
"""

from __future__ import annotations

from stemcell.engine.events import (
    Event,
    ResourceCreated,
    StepFinished,
    StepStarted,
    StudentCheck,
    StudentTask,
)
from tui_script import RUN_ID, T0, scripted_run

GROUP = "sg-0a1b2c3d4e5f60718"
COMMANDS = [
    f"aws ec2 create-security-group --group-name stemcell-{RUN_ID} --vpc-id vpc-0d1e2f "
    "--description 'stemcell lab: SSH from 127.0.0.1/32, HTTP open'",
    f"aws ec2 authorize-security-group-ingress --group-name stemcell-{RUN_ID} "
    "--ip-permissions '[...]'",
]


def hands_on_run() -> list[Event]:
    events = scripted_run("start")
    t = T0 + 1
    for step_id, title, kind, by in (("why", "Why a stem cell server?", "explain", "stemcell"),
                                      ("base-image", "Find the base Ubuntu 24.04 image",
                                       "find_base_image", "stemcell"),
                                      ("key-pair", "Create an SSH key pair", "key_pair",
                                       "student")):
        events.append(StepStarted(t=t, step_id=step_id, title=title, step_kind=kind))
        t += 40.0 if by == "student" else 1.0
        events.append(StepFinished(t=t, step_id=step_id, status="done",
                                   seconds=40.0 if by == "student" else 1.0, by=by))
    events += [
        StepStarted(t=t, step_id="security-group", title="Create a security group",
                    step_kind="security_group"),
        StudentTask(t=t, step_id="security-group",
                    goal=f"Create a security group stemcell-{RUN_ID} that lets SSH in from "
                         "127.0.0.1/32 only and HTTP from anywhere.",
                    commands=COMMANDS,
                    console="EC2 console > Security groups > Create security group."),
        ResourceCreated(t=t + 20, rtype="security_group", rid=GROUP, step_id="security-group",
                        name=f"stemcell-{RUN_ID}", made_by="student"),
        StudentCheck(t=t + 20, step_id="security-group", found=f"security group {GROUP}",
                     results=[
                         {"id": "ssh-from-you", "description": "SSH (22) is open to "
                          "127.0.0.1/32", "status": "passed", "why": "", "hint": ""},
                         {"id": "ssh-not-wider", "description": "SSH (22) is open to "
                          "127.0.0.1/32 only", "status": "failed",
                          "why": "port 22 is also open to 0.0.0.0/0",
                          "hint": f"Revoke it: aws ec2 revoke-security-group-ingress "
                                  f"--group-id {GROUP} --protocol tcp --port 22 "
                                  "--cidr 0.0.0.0/0"},
                         {"id": "http-open", "description": "HTTP (80) is open to everyone",
                          "status": "passed", "why": "", "hint": ""}]),
    ]
    return events
