"""Security group: SSH only from the student's address range, HTTP from anywhere.

Recognised by name in the default VPC (one DescribeSecurityGroups a tick) and
judged by its rules: port 22 must be open to the run's SSH CIDR and to nothing
wider (0.0.0.0/0 is the classic mistake: every scanner on the internet knocks
within minutes), port 80 open to 0.0.0.0/0.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from stemcell.engine.context import Context
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.handson.task_base import TaskBase, adopt, q, waiting
from stemcell.steps.step_create_security_group import default_vpc, ssh_cidr


def _open_to(perms: list[dict[str, Any]], port: int) -> list[str]:
    """The IPv4 ranges that may reach TCP ``port`` (all-traffic rules included)."""
    out = []
    for perm in perms:
        proto = str(perm.get("IpProtocol", ""))
        if proto == "-1" or (proto in ("tcp", "6") and
                             int(perm.get("FromPort", -1)) <= port <= int(perm.get("ToPort", -1))):
            out += [r["CidrIp"] for r in perm.get("IpRanges", []) if r.get("CidrIp")]
    return out


def judge(perms: list[dict[str, Any]], cidr: str, anywhere_ok: bool, group: str = "GROUP"
          ) -> list[CheckLine]:
    ssh = _open_to(perms, 22)
    mine = ipaddress.IPv4Network(cidr, strict=False)
    wide = [c for c in ssh if not ipaddress.IPv4Network(c, strict=False).subnet_of(mine)]
    lines = []
    if not any(mine.subnet_of(ipaddress.IPv4Network(c, strict=False)) for c in ssh):
        lines.append(CheckLine("ssh-from-you", f"SSH (22) is open to {cidr}", "failed",
                               f"port 22 is not open to {cidr}",
                               f"aws ec2 authorize-security-group-ingress with port 22 from "
                               f"{cidr} (console: Edit inbound rules, SSH, source {cidr})."))
    else:
        lines.append(CheckLine("ssh-from-you", f"SSH (22) is open to {cidr}", "passed"))
    if wide and not anywhere_ok:
        lines.append(CheckLine(
            "ssh-not-wider", f"SSH (22) is open to {cidr} only", "failed",
            f"port 22 is also open to {', '.join(wide)}: anyone there can try to log in",
            f"Revoke it: aws ec2 revoke-security-group-ingress --group-id {group} --protocol tcp "
            f"--port 22 --cidr {wide[0]} (console: Edit inbound rules, delete that rule)."))
    else:
        lines.append(CheckLine("ssh-not-wider", f"SSH (22) is open to {cidr} only", "passed"))
    http_ok = "0.0.0.0/0" in _open_to(perms, 80)
    lines.append(CheckLine("http-open", "HTTP (80) is open to everyone (0.0.0.0/0)",
                           "passed" if http_ok else "failed",
                           "" if http_ok else "customers cannot reach port 80",
                           "" if http_ok else "Add an inbound rule: HTTP, TCP 80, source "
                           "0.0.0.0/0."))
    return lines


class Task(TaskBase):
    def brief(self, ctx: Context) -> Brief:
        cidr = ssh_cidr(ctx.config, ctx.simulated)
        vpc = default_vpc(ctx)
        ctx.put("vpc_id", vpc)
        name = f"stemcell-{ctx.run_id}"
        rules = [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": cidr, "Description": "SSH from the student"}]},
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
             "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTP"}]},
        ]
        return Brief(
            goal=f"Create a security group {name} in the default VPC ({vpc}) that lets SSH "
                 f"in from {cidr} only and HTTP from anywhere.",
            commands=[
                f"aws ec2 create-security-group --group-name {q(name)} --vpc-id {q(vpc)} "
                f"--description {q(f'stemcell lab: SSH from {cidr}, HTTP open')}",
                f"aws ec2 authorize-security-group-ingress --group-name {q(name)} "
                f"--ip-permissions {q(json.dumps(rules, separators=(',', ':')))}",
            ],
            console=f"EC2 console > Security groups > Create security group: name {name}, "
                    f"VPC {vpc}, inbound rules SSH from {cidr} and HTTP from 0.0.0.0/0.",
        )

    def look(self, ctx: Context) -> Progress:
        name = f"stemcell-{ctx.run_id}"
        vpc = ctx.get("vpc_id")
        groups = ctx.cloud.ec2.describe_security_groups(Filters=[
            {"Name": "group-name", "Values": [name]},
            {"Name": "vpc-id", "Values": [vpc]}]).get("SecurityGroups", [])
        if not groups:
            return waiting("", f"a security group named {name} in {vpc}",
                           "not created yet (aws ec2 create-security-group)", "group-exists")
        group = groups[0]
        gid = group["GroupId"]
        adopt(ctx, "security_group", gid, name, vpc=vpc)
        lines = judge(group.get("IpPermissions", []), ssh_cidr(ctx.config, ctx.simulated),
                      ctx.config.allow_ssh_from_anywhere, gid)
        done = all(line.status == "passed" for line in lines)
        if done:
            ctx.put("security_group_id", gid)
        return Progress(done=done, found=f"security group {gid}", lines=lines)
