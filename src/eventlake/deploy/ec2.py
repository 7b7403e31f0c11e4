"""Create, inspect and remove one deployment on EC2 through boto3.

Everything created carries the tag eventlake:deployment=NAME, and `destroy` finds what to remove
by that tag (and by the names derived from NAME, checked to carry the tag), so a deployment half
made by an interrupted `deploy ec2` is removed as completely as a whole one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eventlake.deploy import names
from eventlake.deploy.aws import Clients, aws_errors, error_code
from eventlake.deploy.exceptions import AlreadyDeployed, DeployError, NotDeployed
from eventlake.deploy.plan import (
    AMI_PARAMETER,
    SSH_PORT,
    DeployPlan,
    instance_policy,
    parameter_arn_prefix,
    policy_json,
    trust_policy,
)

T = TypeVar("T")
LIVE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]
POLICY_NAME = "eventlake-own-parameters"
# A new instance profile takes a few seconds to be usable by RunInstances (IAM is eventually
# consistent); these bound the retries, and the waits on instance termination and SG deletion.
PROFILE_WAIT_S = 60.0
TERMINATE_WAIT_S = 600.0
RUNNING_WAIT_S = 300.0
POLL_S = 3.0
FIRST_POLL_S = 0.25


def _poll(read: Callable[[], T], done: Callable[[T], bool], timeout: float, what: str) -> T:
    """read() until done(value), the pause growing from FIRST_POLL_S to POLL_S; DeployError at timeout."""
    deadline = time.monotonic() + timeout
    pause = FIRST_POLL_S
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise DeployError(f"gave up waiting for {what} after {timeout:g} s", hint="run the command again")
        time.sleep(pause)
        pause = min(pause * 2, POLL_S)


def _instance(clients: Clients, instance_id: str) -> dict[str, Any]:
    return dict(clients.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0])


def _tag_filter(name: str) -> dict[str, Any]:
    return {"Name": f"tag:{names.TAG_KEY}", "Values": [name]}


def _has_tag(tags: list[dict[str, str]] | None, name: str) -> bool:
    return any(t.get("Key") == names.TAG_KEY and t.get("Value") == name for t in tags or [])


def latest_ami(clients: Clients) -> str:
    """The region's newest Amazon Linux 2023 AMI, from AWS's public SSM parameter."""
    with aws_errors():
        try:
            value = clients.ssm.get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
        except Exception as exc:
            if error_code(exc) in ("ParameterNotFound", "InvalidParameter"):
                raise DeployError(
                    f"region {clients.region} has no Amazon Linux 2023 AMI parameter {AMI_PARAMETER}",
                    hint="deploy to a region that offers Amazon Linux 2023 (e.g. us-east-1, eu-west-1)",
                ) from None
            raise
    if not (isinstance(value, str) and value.startswith("ami-")):
        raise DeployError(f"{AMI_PARAMETER} holds no AMI id", hint="try another region")
    return value


def live_instances(clients: Clients, name: str) -> list[dict[str, Any]]:
    filters = [_tag_filter(name), {"Name": "instance-state-name", "Values": LIVE_STATES}]
    with aws_errors():
        pages = clients.ec2.get_paginator("describe_instances").paginate(Filters=filters)
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def security_groups(clients: Clients, name: str) -> list[dict[str, Any]]:
    with aws_errors():
        return list(clients.ec2.describe_security_groups(Filters=[_tag_filter(name)])["SecurityGroups"])


def _role(clients: Clients, name: str) -> dict[str, Any] | None:
    with aws_errors():
        try:
            role: dict[str, Any] = clients.iam.get_role(RoleName=names.resource_name(name))["Role"]
        except Exception as exc:
            if error_code(exc) == "NoSuchEntity":
                return None
            raise
    return role


def check_not_deployed(clients: Clients, name: str) -> None:
    found = []
    if live_instances(clients, name):
        found.append("an instance")
    if security_groups(clients, name):
        found.append("a security group")
    if _role(clients, name) is not None:
        found.append(f"the IAM role {names.resource_name(name)}")
    if found:
        raise AlreadyDeployed(
            f"deployment {name} already exists ({', '.join(found)} in {clients.region})",
            hint=f"see `eventlake deploy status {name}`, remove it with `eventlake deploy destroy {name}`, "
            "or choose another name",
        )


def _default_vpc(clients: Clients) -> str:
    with aws_errors():
        vpcs = clients.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise DeployError(
            f"region {clients.region} has no default VPC", hint="create one with `aws ec2 create-default-vpc`"
        )
    return str(vpcs[0]["VpcId"])


def _check_key_pair(clients: Clients, key: str) -> None:
    with aws_errors():
        try:
            clients.ec2.describe_key_pairs(KeyNames=[key])
        except Exception as exc:
            if error_code(exc) == "InvalidKeyPair.NotFound":
                raise DeployError(
                    f"the key pair {key} does not exist in {clients.region}",
                    hint="create or import it with `aws ec2 import-key-pair`, or leave out --ssh-key",
                ) from None
            raise


@dataclass
class Created:
    """What `deploy ec2` made, for its report (no secret in it)."""

    instance_id: str = ""
    security_group_id: str = ""
    role: str = ""
    instance_profile: str = ""
    ami: str = ""
    public_dns: str = ""
    public_ip: str = ""
    state: str = ""


def create(clients: Clients, plan: DeployPlan, say: Callable[[str], None] | None = None) -> Created:
    """Create the deployment; on any failure, remove what was made so far (told to `say`) and re-raise."""
    ami = latest_ami(clients)
    check_not_deployed(clients, plan.name)
    if plan.ssh_key is not None:
        _check_key_pair(clients, plan.ssh_key)
    account, partition = clients.account_and_partition()
    vpc = _default_vpc(clients)
    done = Created(ami=ami)
    try:
        _create(clients, plan, done, vpc, account, partition)
    except BaseException:
        tell = say or (lambda _: None)
        try:
            destroy(clients, plan.name, say=lambda what: tell(f"rolled back: removed {what}"))
        except Exception:  # the first failure is the one to report; this one only leaves work
            tell(f"rollback incomplete: run `eventlake deploy destroy {plan.name} --region {clients.region}`")
        raise
    return done


def _tag_specs(plan: DeployPlan, *kinds: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": plan.tags()} for kind in kinds]


def _create(clients: Clients, plan: DeployPlan, done: Created, vpc: str, account: str, partition: str) -> None:
    ec2, iam = clients.ec2, clients.iam
    with aws_errors():
        sg = ec2.create_security_group(
            GroupName=plan.resource_name,
            Description=f"eventlake deployment {plan.name}: broker port from the allowed networks only",
            VpcId=vpc,
            TagSpecifications=_tag_specs(plan, "security-group"),
        )
        done.security_group_id = sg["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=done.security_group_id,
            IpPermissions=[r.ip_permission() for r in plan.rules()],
            TagSpecifications=_tag_specs(plan, "security-group-rule"),
        )
        iam.create_role(
            RoleName=plan.resource_name,
            AssumeRolePolicyDocument=policy_json(trust_policy()),
            Description=f"eventlake deployment {plan.name}: its own SSM parameters only",
            Tags=plan.tags(),
        )
        done.role = plan.resource_name
        arn_prefix = parameter_arn_prefix(partition, clients.region, account, plan.ssm_prefix)
        iam.put_role_policy(
            RoleName=plan.resource_name, PolicyName=POLICY_NAME, PolicyDocument=policy_json(instance_policy(arn_prefix))
        )
        try:
            iam.create_instance_profile(InstanceProfileName=plan.resource_name, Tags=plan.tags())
        except Exception as exc:
            if error_code(exc) == "EntityAlreadyExists":
                raise AlreadyDeployed(
                    f"an IAM instance profile {plan.resource_name} exists that is not deployment {plan.name}'s",
                    hint="remove it (aws iam delete-instance-profile) or choose another name",
                ) from None
            raise
        done.instance_profile = plan.resource_name
        iam.add_role_to_instance_profile(InstanceProfileName=plan.resource_name, RoleName=plan.resource_name)
        root = ec2.describe_images(ImageIds=[done.ami])["Images"][0].get("RootDeviceName") or "/dev/xvda"
    args: dict[str, Any] = {
        "ImageId": done.ami,
        "InstanceType": plan.instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "SecurityGroupIds": [done.security_group_id],
        "IamInstanceProfile": {"Name": plan.resource_name},
        "UserData": plan.user_data(),
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
        "BlockDeviceMappings": [
            {
                "DeviceName": root,
                "Ebs": {
                    "VolumeSize": plan.volume_gb,
                    "VolumeType": "gp3",
                    "Encrypted": True,
                    "DeleteOnTermination": True,
                },
            }
        ],
        "DisableApiTermination": False,
        "TagSpecifications": _tag_specs(plan, "instance", "volume", "network-interface"),
    }
    if plan.ssh_key is not None:
        args["KeyName"] = plan.ssh_key
    instance = _run_instance(clients, args)
    done.instance_id = instance["InstanceId"]
    with aws_errors():
        running = _poll(
            lambda: _instance(clients, done.instance_id),
            lambda i: i["State"]["Name"] != "pending",
            RUNNING_WAIT_S,
            f"instance {done.instance_id} to start",
        )
    done.public_dns = running.get("PublicDnsName") or ""
    done.public_ip = running.get("PublicIpAddress") or ""
    done.state = running["State"]["Name"]


def _run_instance(clients: Clients, args: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + PROFILE_WAIT_S
    while True:
        with aws_errors():
            try:
                return dict(clients.ec2.run_instances(**args)["Instances"][0])
            except Exception as exc:
                young_profile = error_code(exc) == "InvalidParameterValue" and "iamInstanceProfile" in str(exc)
                if not young_profile or time.monotonic() > deadline:
                    raise
        time.sleep(POLL_S)  # IAM has not spread the new profile to EC2 yet


# ---- status


@dataclass
class Status:
    name: str
    region: str
    instances: list[dict[str, Any]] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    broker_ports: tuple[int, int] | None = None  # the open port range that is not SSH

    def bootstrap(self) -> str | None:
        """HOST:PORT[,HOST:PORT...] of the brokers, when there is a public address and a broker port."""
        host = self.endpoint
        if host is None or self.broker_ports is None:
            return None
        low, high = self.broker_ports
        return ",".join(f"{host}:{p}" for p in range(low, high + 1))

    @property
    def endpoint(self) -> str | None:
        for i in self.instances:
            host = i.get("PublicDnsName") or i.get("PublicIpAddress")
            if host:
                return str(host)
        return None


def status(clients: Clients, name: str) -> Status:
    found = Status(name, clients.region, live_instances(clients, name))
    for sg in security_groups(clients, name):
        for perm in sg.get("IpPermissions", []):
            low, high = perm.get("FromPort"), perm.get("ToPort")
            ports = f"{low}" if low == high else f"{low}-{high}"
            cidrs = [r["CidrIp"] for r in perm.get("IpRanges", [])] + [
                r["CidrIpv6"] for r in perm.get("Ipv6Ranges", [])
            ]
            found.rules += [f"{perm.get('IpProtocol')} {ports} from {c}" for c in cidrs]
            if perm.get("IpProtocol") == "tcp" and low != SSH_PORT and isinstance(low, int) and isinstance(high, int):
                found.broker_ports = (low, high)
    if not found.instances and not found.rules:
        raise NotDeployed(
            f"no deployment {name} in {clients.region}",
            hint="check the name and --region, or create it with `eventlake deploy ec2`",
        )
    return found


# ---- destroy


def destroy(clients: Clients, name: str, say: Callable[[str], None] | None = None) -> list[str]:
    """Remove every resource of deployment `name`; return what was removed (empty: nothing was)."""
    removed: list[str] = []

    def note(what: str) -> None:
        removed.append(what)
        if say is not None:
            say(what)

    with aws_errors():
        _terminate_instances(clients, name, note)
        _delete_volumes(clients, name, note)
        _delete_security_groups(clients, name, note)
        _delete_iam(clients, name, note)
        _delete_parameters(clients, name, note)
    return removed


def _terminate_instances(clients: Clients, name: str, note: Callable[[str], None]) -> None:
    ids = [i["InstanceId"] for i in live_instances(clients, name) if i["State"]["Name"] != "shutting-down"]
    waiting = [i["InstanceId"] for i in live_instances(clients, name)]
    if ids:
        clients.ec2.terminate_instances(InstanceIds=ids)
        for i in ids:
            note(f"instance {i}")
    if waiting:
        # The security group cannot go while an instance (its network interface) still uses it.
        _poll(
            lambda: live_instances(clients, name),
            lambda live: not live,
            TERMINATE_WAIT_S,
            f"the instances of {name} to terminate",
        )


def _delete_volumes(clients: Clients, name: str, note: Callable[[str], None]) -> None:
    # Root volumes go with their instance; a tagged volume left over (detached) goes here.
    volumes = clients.ec2.describe_volumes(
        Filters=[_tag_filter(name), {"Name": "status", "Values": ["available", "error"]}]
    )["Volumes"]
    for v in volumes:
        clients.ec2.delete_volume(VolumeId=v["VolumeId"])
        note(f"volume {v['VolumeId']}")


def _delete_security_groups(clients: Clients, name: str, note: Callable[[str], None]) -> None:
    for sg in security_groups(clients, name):
        deadline = time.monotonic() + TERMINATE_WAIT_S
        while True:
            try:
                clients.ec2.delete_security_group(GroupId=sg["GroupId"])
                break
            except Exception as exc:
                # A terminated instance's network interface lingers for a while after it.
                if error_code(exc) != "DependencyViolation" or time.monotonic() > deadline:
                    raise
            time.sleep(POLL_S)
        note(f"security group {sg['GroupId']} ({sg.get('GroupName', '')})")


def _delete_iam(clients: Clients, name: str, note: Callable[[str], None]) -> None:
    iam = clients.iam
    rname = names.resource_name(name)
    try:
        profile = iam.get_instance_profile(InstanceProfileName=rname)["InstanceProfile"]
    except Exception as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        profile = None
    # A profile or role of that name without our tag is someone else's: left alone.
    if profile is not None and _has_tag(profile.get("Tags"), name):
        for role in profile.get("Roles", []):
            iam.remove_role_from_instance_profile(InstanceProfileName=rname, RoleName=role["RoleName"])
        iam.delete_instance_profile(InstanceProfileName=rname)
        note(f"instance profile {rname}")
    role = _role(clients, name)
    if role is not None and _has_tag(role.get("Tags"), name):
        for policy in iam.list_role_policies(RoleName=rname)["PolicyNames"]:
            iam.delete_role_policy(RoleName=rname, PolicyName=policy)
        for attached in iam.list_attached_role_policies(RoleName=rname)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=rname, PolicyArn=attached["PolicyArn"])
        for left in iam.list_instance_profiles_for_role(RoleName=rname)["InstanceProfiles"]:
            iam.remove_role_from_instance_profile(InstanceProfileName=left["InstanceProfileName"], RoleName=rname)
        iam.delete_role(RoleName=rname)
        note(f"IAM role {rname}")


def _delete_parameters(clients: Clients, name: str, note: Callable[[str], None]) -> None:
    ssm = clients.ssm
    found: set[str] = set()
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=names.ssm_prefix(name), Recursive=True):
        found.update(p["Name"] for p in page["Parameters"])
    tagged = ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": f"tag:{names.TAG_KEY}", "Values": [name]}]
    )
    for page in tagged:
        found.update(p["Name"] for p in page["Parameters"])
    ordered = sorted(found)
    for start in range(0, len(ordered), 10):  # DeleteParameters takes at most 10 names
        ssm.delete_parameters(Names=ordered[start : start + 10])
    for p in ordered:
        note(f"SSM parameter {p}")
