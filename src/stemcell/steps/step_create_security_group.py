"""A security group: SSH only from the student's address, HTTP from anywhere."""

from __future__ import annotations

import ipaddress

from botocore.exceptions import ClientError

from stemcell.cloud.aws_errors import explain
from stemcell.cloud.consistency_retry import retry_not_found
from stemcell.cloud.tags import ctx_tags, tag_spec
from stemcell.engine.context import Context, RunConfig
from stemcell.engine.errors import ConfigError, StepFailed
from stemcell.engine.step import BaseStep

SANDBOX_SSH_CIDR = "127.0.0.1/32"


def ssh_cidr(config: RunConfig, simulated: bool) -> str:
    """The CIDR allowed to SSH in; 0.0.0.0/0 only when explicitly allowed."""
    raw = config.ssh_cidr or (SANDBOX_SSH_CIDR if simulated else "")
    if not raw:
        raise ConfigError(
            "SSH access needs your address: pass --ssh-cidr YOUR.IP.ADDRESS/32",
            hint="Find your public address with `curl https://checkip.amazonaws.com`.")
    try:
        net = ipaddress.ip_network(raw, strict=False)
    except ValueError:
        raise ConfigError(f"--ssh-cidr {raw!r} is not an IP network (like 203.0.113.7/32)"
                          ) from None
    if net.prefixlen == 0 and not config.allow_ssh_from_anywhere:
        raise ConfigError(
            f"refusing to open SSH to the whole internet ({net})",
            hint="Use your own address/32, or pass --allow-ssh-from-anywhere if you must.")
    if net.version != 4:
        raise ConfigError(f"--ssh-cidr {net}: only IPv4 is supported by this lab")
    return str(net)


def default_vpc(ctx: Context) -> str:
    """The region's default VPC, where the lab's resources go; an error if it has none."""
    vpc = ctx.cloud.default_vpc()
    if vpc is None:
        raise StepFailed(f"this account has no default VPC in {ctx.cloud.region}",
                         hint="Create one with `aws ec2 create-default-vpc` and resume.")
    return vpc


class SecurityGroupStep(BaseStep):
    def run(self, ctx: Context) -> None:
        cidr = ssh_cidr(ctx.config, ctx.simulated)
        vpc = default_vpc(ctx)
        name = f"stemcell-{ctx.run_id}"
        ec2 = ctx.cloud.ec2
        try:
            group = ec2.create_security_group(
                GroupName=name, VpcId=vpc,
                Description=f"stemcell lab run {ctx.run_id}: SSH from {cidr}, HTTP open",
                TagSpecifications=tag_spec(ctx_tags(ctx, name=name), "security-group"),
            )["GroupId"]
        except ClientError as exc:
            raise explain(exc, "creating the security group") from None
        ctx.record_resource("security_group", group, name, vpc=vpc)
        rules = [
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": cidr, "Description": "SSH from the student"}]},
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
             "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "HTTP"}]},
        ]
        try:
            # Right after CreateSecurityGroup the group may not be visible yet.
            retry_not_found(ctx, f"opening ports on {group}",
                            lambda: ec2.authorize_security_group_ingress(
                                GroupId=group, IpPermissions=rules),
                            codes=("InvalidGroup.NotFound",))
        except ClientError as exc:
            raise explain(exc, "opening ports 22 and 80") from None
        ctx.put("security_group_id", group)
        ctx.put("vpc_id", vpc)
        ctx.log(f"security group {group}: SSH from {cidr}, HTTP from anywhere")
