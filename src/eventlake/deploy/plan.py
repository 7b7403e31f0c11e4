"""What `eventlake deploy ec2` will create, decided before any AWS call: the same plan drives
the boto3 calls (ec2.py), the CloudFormation template (template.py) and the --dry-run text."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any

from eventlake import __version__
from eventlake.deploy import names
from eventlake.deploy.user_data import UserDataPlan, render_user_data
from eventlake.errors import UsageError

# The public parameter AWS keeps pointing at the newest Amazon Linux 2023 AMI of each region.
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
DEFAULT_PORT = 9092
SSH_PORT = 22
DEFAULT_APP_USER = "app"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Rule:
    """One ingress rule: TCP from_port..to_port from cidr."""

    from_port: int
    to_port: int
    cidr: Network
    description: str

    def ip_permission(self) -> dict[str, Any]:
        ranges = "IpRanges" if self.cidr.version == 4 else "Ipv6Ranges"
        key = "CidrIp" if self.cidr.version == 4 else "CidrIpv6"
        return {
            "IpProtocol": "tcp",
            "FromPort": self.from_port,
            "ToPort": self.to_port,
            ranges: [{key: str(self.cidr), "Description": self.description}],
        }

    def shown(self) -> str:
        ports = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
        return f"tcp {ports} from {self.cidr} ({self.description})"


@dataclass(frozen=True)
class DeployPlan:
    name: str
    region: str
    cidrs: tuple[Network, ...]
    instance_type: str = "t3.small"
    nodes: int = 1
    ssh_key: str | None = None
    volume_gb: int = 50
    port: int = DEFAULT_PORT
    app_user: str = DEFAULT_APP_USER
    install_spec: str = f"eventlake=={__version__}"

    @property
    def resource_name(self) -> str:
        return names.resource_name(self.name)

    @property
    def ssm_prefix(self) -> str:
        return names.ssm_prefix(self.name)

    @property
    def broker_ports(self) -> tuple[int, int]:
        """The client ports of the brokers: one per node, consecutive from `port`."""
        return self.port, self.port + self.nodes - 1

    def rules(self) -> list[Rule]:
        low, high = self.broker_ports
        out = [Rule(low, high, cidr, "eventlake Kafka SASL_SSL") for cidr in self.cidrs]
        if self.ssh_key is not None:
            out += [Rule(SSH_PORT, SSH_PORT, cidr, "SSH") for cidr in self.cidrs]
        return out

    def user_data(self) -> str:
        return render_user_data(
            UserDataPlan(
                name=self.name,
                region=self.region,
                nodes=self.nodes,
                port=self.port,
                app_user=self.app_user,
                install_spec=self.install_spec,
                ssm_prefix=self.ssm_prefix,
            )
        )

    def tags(self) -> list[dict[str, str]]:
        return names.tags(self.name)


def make_plan(
    name: str,
    region: str,
    allow_cidr: list[str],
    *,
    allow_anywhere: bool = False,
    instance_type: str = "t3.small",
    nodes: int = 1,
    ssh_key: str | None = None,
    volume_gb: int = 50,
    port: int = DEFAULT_PORT,
    app_user: str = DEFAULT_APP_USER,
    install_spec: str | None = None,
) -> tuple[DeployPlan, list[str]]:
    """The checked plan and the warnings to show; bad input raises a one-line UsageError."""
    names.check_name(name)
    if not allow_cidr:
        raise UsageError(
            "no --allow-cidr given", hint="give the network your clients connect from, e.g. 203.0.113.7/32"
        )
    cidrs = tuple(dict.fromkeys(names.check_cidr(c) for c in allow_cidr))
    warnings: list[str] = []
    anywhere = [str(c) for c in cidrs if names.is_anywhere(c)]
    if anywhere and not allow_anywhere:
        raise UsageError(
            f"--allow-cidr {anywhere[0]} opens the broker to the whole internet",
            hint="give your own network (e.g. 203.0.113.7/32), or add --allow-anywhere if you mean it",
        )
    if anywhere:
        warnings.append(
            f"--allow-anywhere: the broker port is open to {', '.join(anywhere)}; only TLS and SCRAM passwords "
            "stand between it and anyone on the internet"
        )
    if nodes not in (1, 3):
        raise UsageError(f"--nodes {nodes} is not supported", hint="give 1 or 3")
    if not 1024 <= port <= 65535 - nodes:
        raise UsageError(f"--port {port} is out of range", hint="give 1024-65532")
    if install_spec is not None and (
        not install_spec.isprintable() or not install_spec.strip() or len(install_spec) > 512
    ):
        raise UsageError("--install-spec is not one pip requirement", hint="give e.g. eventlake==0.1.0")
    plan = DeployPlan(
        name=name,
        region=region,
        cidrs=cidrs,
        instance_type=names.check_instance_type(instance_type),
        nodes=nodes,
        ssh_key=None if ssh_key is None else names.check_key_name(ssh_key),
        volume_gb=names.check_volume_gb(volume_gb),
        port=port,
        app_user=names.check_app_user(app_user),
        install_spec=install_spec.strip() if install_spec is not None else f"eventlake=={__version__}",
    )
    plan.user_data()  # the instance side checks its values too: refuse them here, before any AWS call
    return plan, warnings


# ---- IAM: what the instance may do, and nothing else


def trust_policy() -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }


INSTANCE_ACTIONS = ("ssm:PutParameter", "ssm:GetParameter", "ssm:AddTagsToResource")


def instance_policy(parameter_arn_prefix: str) -> dict[str, Any]:
    """Write and read its own parameters only. AddTagsToResource: PutParameter with Tags (the
    deployment tag destroy finds them by) needs it; still limited to the same parameters."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OwnParametersOnly",
                "Effect": "Allow",
                "Action": list(INSTANCE_ACTIONS),
                "Resource": f"{parameter_arn_prefix}/*",
            }
        ],
    }


def parameter_arn_prefix(partition: str, region: str, account: str, prefix: str) -> str:
    # A parameter's ARN is arn:...:parameter/NAME-WITHOUT-ITS-LEADING-SLASH.
    return f"arn:{partition}:ssm:{region}:{account}:parameter/{prefix.lstrip('/')}"


# ---- --dry-run

_SECRET_ASSIGNMENT = re.compile(
    r"(?im)^(\s*(?:export\s+)?[A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|PRIVATE_KEY)[A-Z0-9_]*\s*=\s*)(.+)$"
)


def mask_secrets(text: str) -> str:
    """The user data for display: any assignment to a *PASSWORD*/*SECRET*/*TOKEN* variable masked.
    The user data is built to hold none (the instance makes its own); this guards the display
    against a future change that slips one in."""
    # A value built from other variables ("$ETC/secrets") names where a secret is, not the secret.
    return _SECRET_ASSIGNMENT.sub(lambda m: m.group(0) if "$" in m.group(2) else m.group(1) + "****", text)


def describe(plan: DeployPlan, ami: str | None = None) -> str:
    """The --dry-run text: every resource, every rule, the user data (masked)."""
    tags = ", ".join(f"{t['Key']}={t['Value']}" for t in plan.tags())
    lines = [
        f"deployment {plan.name} in {plan.region} would create (each tagged {tags}):",
        f"  security group {plan.resource_name} in the default VPC, inbound only:",
        *(f"    {r.shown()}" for r in plan.rules()),
        f"  IAM role and instance profile {plan.resource_name}: the instance may only "
        f"{', '.join(INSTANCE_ACTIONS)} on {plan.ssm_prefix}/*",
        f"  instance {plan.instance_type} from {ami or AMI_PARAMETER}, IMDSv2 required (HttpTokens=required), "
        f"termination protection off" + (f", key pair {plan.ssh_key}" if plan.ssh_key else ", no SSH"),
        f"  root volume: gp3, {plan.volume_gb} GiB, encrypted, deleted with the instance",
        f"  the instance writes {plan.ssm_prefix}/ca.pem and {plan.ssm_prefix}/users/<user> (SecureString)",
        f"  brokers: {plan.nodes}, SASL_SSL (SCRAM-SHA-512) on port "
        + (f"{plan.port}" if plan.nodes == 1 else f"{plan.broker_ports[0]}-{plan.broker_ports[1]}")
        + f", users: the admin and {plan.app_user}",
        "user data (secrets masked):",
        mask_secrets(plan.user_data()).rstrip("\n"),
    ]
    return "\n".join(lines) + "\n"


def policy_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"))
