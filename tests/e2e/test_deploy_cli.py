"""`eventlake deploy` against moto's server (the one AWS stand-in): what it creates, what it
prints, what it leaves behind. Resources are read back with boto3 as a user would in the console.

moto ships AWS's public AMI parameters (/aws/service/ami-amazon-linux-latest/...) for most
regions, so the tests do not seed them; ap-southeast-7 is one it has none for. What the instance
would publish to SSM (CA, passwords) is put there by the test: that is the instance's side.
"""

from __future__ import annotations

import ast
import base64
import json
import stat
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization

from eventlake.broker.client_files import read_kcat_conf
from eventlake.broker.javaconf import load_properties
from eventlake.deploy.plan import AMI_PARAMETER
from tests.e2e.conftest import Run
from tests.fixtures_broker_tls import make_ca

pytestmark = pytest.mark.e2e

REGION = "eu-west-1"
TAG = "eventlake:deployment"
SECRET_KEY = "deploy-test-SECRET-7Qx9wLp2"  # the AWS secret key: must show up nowhere
PASSWORD = "app-pass-Vb83-Tq19-Xw7z"  # what the instance would publish for user app
CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))


def _env(endpoint: str) -> dict[str, str]:
    return {
        "EVENTLAKE_AWS__ENDPOINT_URL": endpoint,
        "EVENTLAKE_AWS__ACCESS_KEY_ID": "AKIDEVENTLAKETEST",
        "EVENTLAKE_AWS__SECRET_ACCESS_KEY": SECRET_KEY,
        "EVENTLAKE_AWS__REGION": REGION,
    }


@pytest.fixture
def aws(moto_endpoint: str) -> Iterator[dict[str, Any]]:
    kw = {
        "endpoint_url": moto_endpoint,
        "region_name": REGION,
        "aws_access_key_id": "AKIDEVENTLAKETEST",
        "aws_secret_access_key": SECRET_KEY,
    }
    clients = {name: boto3.client(name, **kw) for name in ("ec2", "iam", "ssm", "cloudformation")}
    yield clients
    for client in clients.values():
        client.close()


def _name() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def _tagged(name: str) -> list[dict[str, str]]:
    return [{"Key": TAG, "Value": name}]


def _has_tag(tags: list[dict[str, str]] | None, name: str) -> bool:
    return {"Key": TAG, "Value": name} in (tags or [])


def _live_instances(ec2: Any, name: str) -> list[dict[str, Any]]:
    filters = [
        {"Name": f"tag:{TAG}", "Values": [name]},
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped", "shutting-down"]},
    ]
    return [i for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"]]


def _ingress(sg: dict[str, Any]) -> set[tuple[str, int, int, str]]:
    rules = set()
    for perm in sg["IpPermissions"]:
        for r in perm.get("IpRanges", []):
            rules.add((perm["IpProtocol"], perm["FromPort"], perm["ToPort"], r["CidrIp"]))
        for r in perm.get("Ipv6Ranges", []):
            rules.add((perm["IpProtocol"], perm["FromPort"], perm["ToPort"], r["CidrIpv6"]))
        assert not perm.get("UserIdGroupPairs") and not perm.get("PrefixListIds"), perm
    return rules


def _leftovers(aws: dict[str, Any], name: str) -> list[str]:
    """Everything of deployment `name` still there, as a user would look for it."""
    ec2, iam, ssm = aws["ec2"], aws["iam"], aws["ssm"]
    left = [i["InstanceId"] for i in _live_instances(ec2, name)]
    left += [
        g["GroupId"]
        for g in ec2.describe_security_groups(Filters=[{"Name": f"tag:{TAG}", "Values": [name]}])["SecurityGroups"]
    ]
    left += [v["VolumeId"] for v in ec2.describe_volumes(Filters=[{"Name": f"tag:{TAG}", "Values": [name]}])["Volumes"]]
    left += [r["RoleName"] for r in iam.list_roles()["Roles"] if name in r["RoleName"]]
    left += [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles()["InstanceProfiles"]
        if name in p["InstanceProfileName"]
    ]
    left += [p["Name"] for p in ssm.get_parameters_by_path(Path=f"/eventlake/{name}", Recursive=True)["Parameters"]]
    return left


def _publish_like_the_instance(ssm: Any, name: str) -> str:
    ca_pem = make_ca("deployed CA")[0].public_bytes(serialization.Encoding.PEM).decode()
    for param, value in ((f"/eventlake/{name}/ca.pem", ca_pem), (f"/eventlake/{name}/users/app", PASSWORD)):
        ssm.put_parameter(Name=param, Value=value, Type="SecureString", Tags=_tagged(name))
    return ca_pem


def test_deploy_creates_only_what_was_asked_and_destroy_removes_all_twice(
    cli: Run, aws: dict[str, Any], moto_endpoint: str, tmp_path: Path
) -> None:
    ec2, iam = aws["ec2"], aws["iam"]
    name = _name()
    key = f"key-{name}"
    ec2.create_key_pair(KeyName=key)
    env = _env(moto_endpoint)
    args = ["--allow-cidr", "203.0.113.7/32", "--allow-cidr", "2001:db8::/64", "--ssh-key", key, "--volume-gb", "20"]
    outputs: list[str] = []

    made = cli("deploy", "ec2", name, "--region", REGION, *args, env=env)
    outputs += [made.stdout, made.stderr]
    assert made.returncode == 0, made.stderr

    (instance,) = _live_instances(ec2, name)
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    assert instance["ImageId"] == aws["ssm"].get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    assert instance.get("KeyName") == key
    assert instance["InstanceId"] in made.stderr
    (sg,) = ec2.describe_security_groups(Filters=[{"Name": f"tag:{TAG}", "Values": [name]}])["SecurityGroups"]
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [sg["GroupId"]]
    assert _ingress(sg) == {
        ("tcp", 9092, 9092, "203.0.113.7/32"),
        ("tcp", 9092, 9092, "2001:db8::/64"),
        ("tcp", 22, 22, "203.0.113.7/32"),
        ("tcp", 22, 22, "2001:db8::/64"),
    }
    (mapping,) = instance["BlockDeviceMappings"]
    (volume,) = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"]
    assert (volume["Encrypted"], volume["VolumeType"], volume["Size"]) == (True, "gp3", 20)
    assert mapping["Ebs"]["DeleteOnTermination"] is True

    role = iam.get_role(RoleName=f"eventlake-{name}")["Role"]
    profile = iam.get_instance_profile(InstanceProfileName=f"eventlake-{name}")["InstanceProfile"]
    assert instance["IamInstanceProfile"]["Arn"] == profile["Arn"]
    assert [r["RoleName"] for r in profile["Roles"]] == [role["RoleName"]]
    for what, tags in [
        ("instance", instance.get("Tags")),
        ("volume", volume.get("Tags")),
        ("security group", sg.get("Tags")),
        ("role", role.get("Tags")),
        ("instance profile", profile.get("Tags")),
    ]:
        assert _has_tag(tags, name), f"{what} lacks the tag: {tags}"
    # Least privilege: the instance may touch its own parameters, nothing else.
    assert iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"] == []
    (policy_name,) = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
    document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=policy_name)["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Allow"
    assert set(statement["Action"]) <= {"ssm:PutParameter", "ssm:GetParameter", "ssm:AddTagsToResource"}
    assert statement["Resource"] == f"arn:aws:ssm:{REGION}:123456789012:parameter/eventlake/{name}/*"

    user_data = base64.b64decode(
        ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")["UserData"]["Value"]
    ).decode()
    assert user_data.startswith("#!") and name in user_data
    again = cli("deploy", "ec2", name, "--region", REGION, *args, env=env)
    assert again.returncode == 1 and again.stderr.count("\n") == 1, again.stderr
    assert f"deployment {name} already exists" in again.stderr
    outputs += [again.stdout, again.stderr]

    # What the instance publishes, fetched into client files a user hands to their clients.
    ca_pem = _publish_like_the_instance(aws["ssm"], name)
    out = tmp_path / "client"
    fetched = cli("deploy", "client-config", name, "--user", "app", "--out", str(out), env=env)
    outputs += [fetched.stdout, fetched.stderr]
    assert fetched.returncode == 0, fetched.stderr
    bootstrap = f"{instance['PublicDnsName']}:9092"
    for f in ("eventlake.toml", "client.properties", "librdkafka.conf", "ca.pem"):
        assert stat.S_IMODE((out / f).stat().st_mode) == 0o600, f
    assert (out / "ca.pem").read_text() == ca_pem
    settings = tomllib.loads((out / "eventlake.toml").read_text())
    assert settings["bootstrap_servers"] == bootstrap
    assert settings["kafka"]["sasl_password"] == PASSWORD
    assert settings["kafka"]["ssl_ca_location"] == str(out / "ca.pem")
    props = dict(load_properties((out / "client.properties").read_bytes()))
    assert props["bootstrap.servers"] == bootstrap and PASSWORD in props["sasl.jaas.config"]
    assert dict(read_kcat_conf((out / "librdkafka.conf").read_text()))["sasl.password"] == PASSWORD
    shown = cli("deploy", "status", name, "--region", REGION, env=env)
    outputs += [shown.stdout, shown.stderr]
    assert shown.returncode == 0, shown.stderr
    assert f"instance {instance['InstanceId']}: running" in shown.stdout
    assert f"endpoint: {bootstrap}" in shown.stdout
    assert "tcp 9092 from 203.0.113.7/32" in shown.stdout and "tcp 22 from 2001:db8::/64" in shown.stdout
    # moto's public names lead to no broker: said in one line, never as a TLS success.
    assert "broker: unreachable" in shown.stdout or "broker: TCP open" in shown.stdout, shown.stdout
    assert "TLS ok" not in shown.stdout

    removed = cli("deploy", "destroy", name, "--region", REGION, env=env)
    outputs += [removed.stdout, removed.stderr]
    assert removed.returncode == 0, removed.stderr
    for thing in (instance["InstanceId"], sg["GroupId"], f"IAM role eventlake-{name}", f"/eventlake/{name}/ca.pem"):
        assert thing in removed.stderr
    assert _leftovers(aws, name) == []
    second = cli("deploy", "destroy", name, "--region", REGION, env=env)
    assert second.returncode == 0 and "nothing to remove" in second.stderr, second.stderr
    assert _leftovers(aws, name) == []
    gone = cli("deploy", "status", name, "--region", REGION, env=env)
    assert gone.returncode == 1 and f"no deployment {name}" in gone.stderr

    described = [instance, volume, sg, role, profile]  # every resource as AWS describes it, tags included
    everything = "\n".join([*outputs, second.stderr, gone.stderr, user_data, json.dumps(described, default=str)])
    assert SECRET_KEY not in everything
    assert PASSWORD not in everything


def test_dry_run_prints_the_plan_and_calls_nothing(cli: Run, aws: dict[str, Any], moto_endpoint: str) -> None:
    name = _name()
    # An endpoint where nothing listens and no credentials: any AWS call would fail the command.
    env = {"EVENTLAKE_AWS__ENDPOINT_URL": "http://127.0.0.1:9", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    res = cli("deploy", "ec2", name, "--region", REGION, "--allow-cidr", "198.51.100.0/24", "--dry-run", env=env)
    assert res.returncode == 0, res.stderr
    assert "tcp 9092 from 198.51.100.0/24" in res.stdout and "tcp 22" not in res.stdout
    assert "HttpTokens=required" in res.stdout and "encrypted" in res.stdout
    assert "#!/bin/bash" in res.stdout and f"/eventlake/{name}" in res.stdout
    assert _leftovers(aws, name) == []

    anywhere = cli(
        "deploy", "ec2", name, "--allow-cidr", "0.0.0.0/0", "--allow-anywhere", "--dry-run", env=_env(moto_endpoint)
    )
    assert anywhere.returncode == 0 and "warning: --allow-anywhere" in anywhere.stderr
    assert "tcp 9092 from 0.0.0.0/0" in anywhere.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["Bad_Name", "--allow-cidr", "203.0.113.7/32"], "the deployment name 'Bad_Name' is not allowed"),
        (["ok", "--allow-cidr", "203.0.113.300/32"], "is not a CIDR"),
        (["ok", "--allow-cidr", "::/0"], "opens the broker to the whole internet"),
    ],
)
def test_bad_input_is_one_line_before_any_call(cli: Run, args: list[str], says: str) -> None:
    """The whole list of refused values is in tests/unit/test_deploy_plan.py; these are the CLI's lines."""
    res = cli("deploy", "ec2", *args, env={"EVENTLAKE_AWS__ENDPOINT_URL": "http://127.0.0.1:9"})
    assert res.returncode == 2, res.stderr
    assert res.stderr.count("\n") == 1 and says in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_aws_side_errors_are_one_line(cli: Run, moto_endpoint: str) -> None:
    no_ami = cli(
        "deploy",
        "ec2",
        _name(),
        "--region",
        "ap-southeast-7",
        "--allow-cidr",
        "203.0.113.7/32",
        env=_env(moto_endpoint),
    )
    assert no_ami.returncode == 1 and no_ami.stderr.count("\n") == 1, no_ami.stderr
    assert "region ap-southeast-7 has no Amazon Linux 2023 AMI parameter" in no_ami.stderr

    no_credentials = {
        "EVENTLAKE_AWS__ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SESSION_TOKEN": "",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    res = cli("deploy", "ec2", _name(), "--allow-cidr", "203.0.113.7/32", env=no_credentials)
    assert res.returncode == 1 and res.stderr.count("\n") == 1, res.stderr
    assert "no AWS credentials found" in res.stderr


def test_a_failed_deploy_rolls_back_its_own_resources_and_no_one_elses(
    cli: Run, aws: dict[str, Any], moto_endpoint: str
) -> None:
    name = _name()
    iam = aws["iam"]
    # Someone else's instance profile with the name the deployment needs (and not its tag).
    iam.create_instance_profile(InstanceProfileName=f"eventlake-{name}")
    try:
        res = cli("deploy", "ec2", name, "--allow-cidr", "203.0.113.7/32", env=_env(moto_endpoint))
        assert res.returncode == 1, res.stderr
        assert f"error: an IAM instance profile eventlake-{name} exists that is not deployment {name}'s" in res.stderr
        assert "rolled back: removed security group" in res.stderr and "rolled back: removed IAM role" in res.stderr
        assert _leftovers(aws, name) == [f"eventlake-{name}"]  # only the foreign profile is left
    finally:
        iam.delete_instance_profile(InstanceProfileName=f"eventlake-{name}")


def test_template_passes_cfn_lint_and_moto_builds_the_same_deployment(
    cli: Run, aws: dict[str, Any], moto_endpoint: str, tmp_path: Path
) -> None:
    name = _name()
    res = cli("deploy", "template", name, "--region", REGION, "--allow-cidr", "192.0.2.0/24", env=_env(moto_endpoint))
    assert res.returncode == 0, res.stderr
    stack_file = tmp_path / "stack.yaml"
    stack_file.write_text(res.stdout)
    lint = subprocess.run([CFN_LINT, str(stack_file)], capture_output=True, text=True, timeout=120, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    cfn = aws["cloudformation"]
    cfn.create_stack(StackName=name, TemplateBody=res.stdout, Capabilities=["CAPABILITY_IAM"])
    try:
        assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        ec2, iam = aws["ec2"], aws["iam"]
        (instance,) = _live_instances(ec2, name)
        assert instance["ImageId"] == aws["ssm"].get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
        (sg,) = ec2.describe_security_groups(Filters=[{"Name": f"tag:{TAG}", "Values": [name]}])["SecurityGroups"]
        assert _ingress(sg) == {("tcp", 9092, 9092, "192.0.2.0/24")}
        assert [g["GroupId"] for g in instance["SecurityGroups"]] == [sg["GroupId"]]
        resources = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
        }
        role = iam.get_role(RoleName=resources["Role"])["Role"]
        assert _has_tag(role.get("Tags"), name)
        profile = iam.get_instance_profile(InstanceProfileName=resources["InstanceProfile"])["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [role["RoleName"]]
        assert instance["IamInstanceProfile"]["Arn"] == profile["Arn"]
        (policy_name,) = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
        document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=policy_name)["PolicyDocument"]
        # moto keeps a policy given inline in a template as Python's repr of it, not JSON.
        document = ast.literal_eval(document) if isinstance(document, str) else document
        assert document["Statement"][0]["Resource"] == f"arn:aws:ssm:{REGION}:123456789012:parameter/eventlake/{name}/*"
        # moto's CloudFormation ignores an instance's MetadataOptions and volume encryption flags
        # (it creates the instance without them), so those are read from the template itself.
        properties = _template_instance(res.stdout)
        assert properties["MetadataOptions"]["HttpTokens"] == "required"
        assert properties["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
        assert SECRET_KEY not in res.stdout + res.stderr
    finally:
        cfn.delete_stack(StackName=name)


def _template_instance(text: str) -> dict[str, Any]:
    import yaml

    properties: dict[str, Any] = yaml.safe_load(text)["Resources"]["Instance"]["Properties"]
    return properties
