"""Builder: one instance from the base image, with the run's key pair and group.

Recognised as a pending or running instance from the base image that has the
run's key pair (one DescribeInstances a tick); adopted and tagged as the
builder; done once it runs with IMDSv2 required and the run's security group.
"""

from __future__ import annotations

import socket
from typing import Any

from stemcell.cloud.run_instances import address_of
from stemcell.content.models import StepSpec
from stemcell.engine.context import Context
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.handson.instance_view import InstanceSeen, mine_elsewhere, state_of
from stemcell.handson.launch_words import candidates, imdsv2, run_instances_command
from stemcell.handson.task_base import TaskBase, waiting

NAME = "stemcell-builder"


def ssh_answers(ctx: Context, inst: dict[str, Any]) -> bool:
    """Does the server's sshd greet us (the dialer says where)? One short connect."""
    from stemcell.remote.dialer import Target

    address = address_of(inst)
    try:
        # The sandbox may not know a guest for a moment after the instance runs (its
        # boot starts then): not reachable yet, like a real server still booting.
        host, port = ctx.require_dialer().ssh_address(
            Target(inst["InstanceId"], address["public_ip"], address["private_ip"]))
    except Exception:
        return False
    try:
        with socket.create_connection((host, int(port)), timeout=3.0) as sock:
            sock.settimeout(3.0)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


class Task(TaskBase):
    def __init__(self, spec: StepSpec) -> None:
        super().__init__(spec)
        self.seen = InstanceSeen()

    def brief(self, ctx: Context) -> Brief:
        self.seen.start(ctx)
        image = ctx.need("base_image_id")
        return Brief(
            goal=f"Launch one builder instance from the Ubuntu image {image} with your key "
                 f"pair and security group; wait until it runs.",
            commands=[run_instances_command(ctx, image, NAME)],
            console=f"EC2 console > Launch instance: image {image}, type "
                    f"{ctx.profile.instance_type}, key pair {ctx.need('key_name')}, security "
                    f"group {ctx.need('security_group_id')}, Advanced details > Metadata "
                    f"version: V2 only.",
            notes=["Running is not ready: the OS still boots; SSH answers a little later."],
        )

    def look(self, ctx: Context) -> Progress:
        image = ctx.need("base_image_id")
        found = [i for i in candidates(ctx, [image])
                 if not mine_elsewhere(ctx, i["InstanceId"], self.step_id)]
        if not found:
            return waiting("", f"an instance from {image} with key pair {ctx.get('key_name')}",
                           "none pending or running yet (aws ec2 run-instances)", "launched")
        for inst in found:
            self.seen.adopt(ctx, inst, role="builder", setup="builder", name=NAME)
        builder = found[0]
        iid = builder["InstanceId"]
        if state_of(builder) != "running":
            return waiting(f"builder {iid}", f"{iid} is running",
                           f"it is {state_of(builder)}", "running")
        groups = [g["GroupId"] for g in builder.get("SecurityGroups", [])]
        sg = ctx.need("security_group_id")
        lines = [
            CheckLine("running", f"{iid} is running", "passed"),
            CheckLine("imdsv2", "IMDSv2 is required (metadata only with a session token)",
                      "passed" if imdsv2(builder) else "failed",
                      "" if imdsv2(builder) else "the instance still answers IMDSv1",
                      "" if imdsv2(builder) else
                      f"aws ec2 modify-instance-metadata-options --instance-id {iid} "
                      "--http-tokens required"),
            CheckLine("group", f"it is in security group {sg}",
                      "passed" if sg in groups else "failed",
                      "" if sg in groups else f"its groups are {', '.join(groups) or 'none'}",
                      "" if sg in groups else "Terminate it and launch again with "
                      f"--security-group-ids {sg}."),
        ]
        answers = ssh_answers(ctx, builder)
        lines.append(CheckLine("ssh-answers", "SSH answers on port 22 (the OS has booted)",
                               "passed" if answers else "waiting",
                               "" if answers else "not yet: the OS is still booting"))
        done = all(line.status == "passed" for line in lines)
        if done:
            ctx.put("builder_id", iid)
            ctx.put("builder", {"id": iid, "image_id": image, **address_of(builder)})
        return Progress(done=done, found=f"builder {iid}", lines=lines)
