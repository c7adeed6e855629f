"""Load balancer: the student builds the target group, the ALB and its listener.

Recognised by name (one DescribeTargetGroups, DescribeLoadBalancers,
DescribeListeners and DescribeTargetHealth a tick), adopted as they appear
(target group, then load balancer, then listener: cleanup deletes them newest
first, as the guided step's), and done once every web server of the setup is a
healthy target; each healthy target gets its ``lb_healthy`` mark.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from stemcell.cloud.tags import ctx_tags
from stemcell.content.models import LoadBalancerParams, StepSpec
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.instance_records import need_role_servers
from stemcell.engine.statuses import Actor
from stemcell.engine.student_desk import Brief, CheckLine, Progress
from stemcell.handson.task_base import TaskBase, q, waiting
from stemcell.steps.step_create_load_balancer import balancer_subnets
from stemcell.steps.step_create_security_group import default_vpc

MISSING = ("TargetGroupNotFound", "LoadBalancerNotFound", "ListenerNotFound")


def _arn(kind: str, name: str) -> str:
    """A shell substitution that looks an ARN up by name (self-contained commands)."""
    if kind == "tg":
        return (f'"$(aws elbv2 describe-target-groups --names {q(name)} '
                "--query 'TargetGroups[0].TargetGroupArn' --output text)\"")
    return (f'"$(aws elbv2 describe-load-balancers --names {q(name)} '
            "--query 'LoadBalancers[0].LoadBalancerArn' --output text)\"")


class Task(TaskBase):
    def __init__(self, spec: StepSpec) -> None:
        super().__init__(spec)
        self.targets: list[str] = []
        self.with_lb = True

    def name(self, ctx: Context) -> str:
        params = self.spec.typed_params(LoadBalancerParams)
        return f"stemcell-{ctx.run_id.rsplit('-', 1)[-1]}-s{params.setup}"[:32]

    def brief(self, ctx: Context) -> Brief:
        params = self.spec.typed_params(LoadBalancerParams)
        instances = need_role_servers(ctx.state)
        self.targets = sorted(iid for iid, info in instances.items()
                              if info["role"] in params.roles
                              and info["setup"] == str(params.setup))
        if not self.targets:
            raise StepFailed(f"no running {', '.join(params.roles)} instances of setup "
                             f"#{params.setup} to put behind the load balancer")
        health = ctx.profile.roles[params.roles[0]].health
        vpc = str(ctx.get("vpc_id") or default_vpc(ctx))
        subnets = balancer_subnets(ctx, vpc, self.targets)
        self.with_lb = bool(subnets)
        name = self.name(ctx)
        commands = [
            f"aws elbv2 create-target-group --name {q(name)} --protocol HTTP "
            f"--port {health.port} --vpc-id {q(vpc)} --target-type instance "
            f"--health-check-protocol HTTP --health-check-path {q(health.path)} "
            "--health-check-interval-seconds 10 --healthy-threshold-count 2",
            f"aws elbv2 register-targets --target-group-arn {_arn('tg', name)} --targets "
            + " ".join(f"Id={iid}" for iid in self.targets),
        ]
        if subnets:
            commands += [
                f"aws elbv2 create-load-balancer --name {q(name)} --subnets "
                f"{' '.join(q(s) for s in subnets)} --security-groups "
                f"{q(ctx.need('security_group_id'))} --scheme internet-facing "
                "--type application --ip-address-type ipv4",
                f"aws elbv2 create-listener --load-balancer-arn {_arn('lb', name)} "
                "--protocol HTTP --port 80 --default-actions "
                f"Type=forward,TargetGroupArn={_arn('tg', name)}",
            ]
        return Brief(
            goal=f"Put the {', '.join(params.roles)} server(s) of setup #{params.setup} "
                 f"behind an Application Load Balancer {name}, which calls them healthy "
                 f"on {health.path}.",
            commands=commands,
            console="EC2 console > Target groups > Create (instances, HTTP 80, health check "
                    f"{health.path}), register the servers; then Load balancers > Create "
                    f"Application Load Balancer {name} in two zones, listener HTTP 80 "
                    "forwarding to the group.",
        )

    def look(self, ctx: Context) -> Progress:
        elb, name = ctx.cloud.elbv2, self.name(ctx)
        params = self.spec.typed_params(LoadBalancerParams)
        tags = ctx_tags(ctx, name=name, role="+".join(params.roles), setup=str(params.setup))
        try:
            tg = elb.describe_target_groups(Names=[name])["TargetGroups"][0]["TargetGroupArn"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                return waiting("", f"target group {name}", "not created yet", "target-group")
            raise
        self._adopt(ctx, "target_group", tg, name, tags)
        lines = [CheckLine("target-group", f"target group {name}", "passed")]
        found = f"target group {name}"
        if self.with_lb:
            listener = self._load_balancer(ctx, name, tg, tags, lines)
            if listener:
                found += f", load balancer {name}"
        states = {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in
                  elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]}
        for iid in self.targets:
            state = states.get(iid, "")
            if state == "healthy":
                ctx.mark(iid, "lb_healthy")
            lines.append(CheckLine(
                f"target-{iid}", f"{iid} is a healthy target",
                "passed" if state == "healthy" else ("failed" if not state else "waiting"),
                "" if state == "healthy" else (f"it is {state}" if state else "not registered"),
                "" if state else f"aws elbv2 register-targets ... --targets Id={iid}"))
        done = all(line.status == "passed" for line in lines)
        if done:
            ctx.put("target_group_arn", tg)
        return Progress(done=done, found=found, lines=lines)

    def _load_balancer(self, ctx: Context, name: str, tg: str, tags: list[dict[str, str]],
                       lines: list[CheckLine]) -> str:
        elb = ctx.cloud.elbv2
        try:
            lb = elb.describe_load_balancers(Names=[name])["LoadBalancers"][0]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in MISSING:
                raise
            lines.append(CheckLine("load-balancer", f"load balancer {name}", "waiting",
                                   "not created yet"))
            return ""
        arn = lb["LoadBalancerArn"]
        self._adopt(ctx, "load_balancer", arn, name, tags, dns=lb.get("DNSName", ""))
        ctx.put("load_balancer_dns", lb.get("DNSName", ""))
        lines.append(CheckLine("load-balancer", f"load balancer {name}", "passed"))
        forwards = [li for li in elb.describe_listeners(LoadBalancerArn=arn)["Listeners"]
                    if int(li.get("Port", 0)) == 80 and any(
                        a.get("TargetGroupArn") == tg for a in li.get("DefaultActions", []))]
        if not forwards:
            lines.append(CheckLine("listener", "a listener on port 80 forwards to the group",
                                   "waiting", "no such listener yet"))
            return ""
        self._adopt(ctx, "listener", forwards[0]["ListenerArn"], name, None)
        lines.append(CheckLine("listener", "a listener on port 80 forwards to the group",
                               "passed"))
        return str(forwards[0]["ListenerArn"])

    def _adopt(self, ctx: Context, rtype: str, arn: str, name: str,
               tags: list[dict[str, str]] | None, **extra: Any) -> None:
        if ctx.state.find(rtype, arn) is not None:
            return
        if tags:
            ctx.cloud.elbv2.add_tags(ResourceArns=[arn], Tags=tags)
        ctx.record_resource(rtype, arn, name, made_by=Actor.STUDENT, **extra)
        ctx.log(f"recognised your {rtype.replace('_', ' ')} {name}: adopted into this run")
