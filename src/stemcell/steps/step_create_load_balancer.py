"""Put the web servers behind a load balancer and wait until it calls them healthy.

A target group checks the role's health path; an Application Load Balancer (it
needs two subnets in different zones of the default VPC) forwards port 80 to
it. One DescribeTargetHealth per tick covers every target.

An ALB only routes to targets in the zones it is given; a target anywhere else
stays ``unused`` (``Target.NotInUse``) forever ("Availability Zones for your
Application Load Balancer", Elastic Load Balancing User Guide,
https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-subnets.html).
So the ALB gets one subnet in every zone a target is in, plus the run's
placement zones (the launches used them) until it has two.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import explain
from stemcell.cloud.tags import ctx_tags
from stemcell.content.models import LoadBalancerParams
from stemcell.engine.context import Context
from stemcell.engine.errors import StepFailed
from stemcell.engine.instance_records import need_role_servers
from stemcell.engine.step import BaseStep
from stemcell.steps.step_create_security_group import default_vpc

HEALTHY_TIMEOUT = 900.0


def balancer_subnets(ctx: Context, vpc: str, targets: list[str]) -> list[str]:
    """One subnet per zone holding a target, then placement zones until there are two."""
    by_zone: dict[str, str] = {}
    for subnet in ctx.cloud.subnets(vpc):
        if subnet.get("DefaultForAz", True):
            by_zone.setdefault(subnet["AvailabilityZone"], subnet["SubnetId"])
    wanted: dict[str, str] = {}
    for inst in ctx.cloud.instances_of_run(ctx.run_id):
        if inst["InstanceId"] not in targets:
            continue
        zone = inst.get("Placement", {}).get("AvailabilityZone", "")
        chosen = inst.get("SubnetId") or by_zone.get(zone, "")
        if zone and chosen:
            wanted.setdefault(zone, chosen)
    for place in ctx.get("placement") or []:
        if len(wanted) >= 2:
            break
        wanted.setdefault(place["zone"], place["subnet"])
    for zone in sorted(by_zone):
        if len(wanted) >= 2:
            break
        wanted.setdefault(zone, by_zone[zone])
    return [wanted[z] for z in sorted(wanted)] if len(wanted) >= 2 else []


class LoadBalancerStep(BaseStep):
    def run(self, ctx: Context) -> None:
        params = self.spec.typed_params(LoadBalancerParams)
        instances = need_role_servers(ctx.state)
        targets = sorted(iid for iid, info in instances.items()
                         if info["role"] in params.roles and info["setup"] == str(params.setup))
        if not targets:
            raise StepFailed(f"no running {', '.join(params.roles)} instances of setup "
                             f"#{params.setup} to put behind the load balancer")
        health = ctx.profile.roles[params.roles[0]].health
        vpc = str(ctx.get("vpc_id") or default_vpc(ctx))
        elb = ctx.cloud.elbv2
        short = ctx.run_id.rsplit("-", 1)[-1]
        name = f"stemcell-{short}-s{params.setup}"[:32]
        tags = ctx_tags(ctx, name=name, role="+".join(params.roles), setup=str(params.setup))
        try:
            tg = elb.create_target_group(
                Name=name, Protocol="HTTP", Port=health.port, VpcId=vpc, TargetType="instance",
                HealthCheckProtocol="HTTP", HealthCheckPath=health.path,
                HealthCheckIntervalSeconds=10, HealthyThresholdCount=2, Tags=tags,
            )["TargetGroups"][0]["TargetGroupArn"]
        except ClientError as exc:
            raise explain(exc, "creating the target group") from None
        ctx.record_resource("target_group", tg, name)
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in targets])
        subnets = balancer_subnets(ctx, vpc, targets)
        if not subnets:
            ctx.log("the default VPC has no two subnets in different zones: no load "
                    "balancer, so nothing checks the targets' health", "warning")
            ctx.put("target_group_arn", tg)
            return
        try:
            lb = elb.create_load_balancer(
                Name=name, Subnets=subnets, SecurityGroups=[ctx.need("security_group_id")],
                Scheme="internet-facing", Type="application", IpAddressType="ipv4", Tags=tags,
            )["LoadBalancers"][0]
        except ClientError as exc:
            raise explain(exc, "creating the load balancer") from None
        ctx.record_resource("load_balancer", lb["LoadBalancerArn"], name,
                            dns=lb.get("DNSName", ""))
        listener = elb.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}], Tags=tags,
        )["Listeners"][0]["ListenerArn"]
        ctx.record_resource("listener", listener, name)
        ctx.put("target_group_arn", tg)
        ctx.put("load_balancer_dns", lb.get("DNSName", ""))

        def all_healthy() -> bool:
            health_list = elb.describe_target_health(TargetGroupArn=tg)[
                "TargetHealthDescriptions"]
            states = {h["Target"]["Id"]: h["TargetHealth"]["State"] for h in health_list}
            for h in health_list:
                health = h["TargetHealth"]
                # Target.NotInUse also means "no listener yet" (passing); only the zone
                # case is final: fail now, not after the whole deadline.
                if health.get("Reason") == "Target.NotInUse" and \
                        "Availability Zone" in str(health.get("Description", "")):
                    raise StepFailed(
                        f"target {h['Target']['Id']} is unused by the load balancer: "
                        f"{h['TargetHealth'].get('Description', 'not in its zones')}",
                        hint="The load balancer must be given a subnet in every zone its "
                        "targets run in.")
            for iid, state in states.items():
                if state == "healthy":
                    ctx.mark(iid, "lb_healthy")
            return all(states.get(i) == "healthy" for i in targets)

        ctx.wait_for("the load balancer's targets to be healthy", all_healthy,
                     HEALTHY_TIMEOUT, first=2.0, longest=10.0)
        zones = sorted(z.get("ZoneName", "") for z in lb.get("AvailabilityZones", []))
        ctx.put("load_balancer_zones", zones)
        ctx.log(f"load balancer {lb.get('DNSName', name)} in {', '.join(zones)}: "
                f"{len(targets)} healthy target(s)")
