"""The deployment of `deploy ec2` as a CloudFormation template, for infrastructure kept as code.

Same plan, same resources: security group with the same rules, role with the same policy
(its ARN prefix filled in by CloudFormation: ${AWS::Partition}, ${AWS::Region}, ${AWS::AccountId}),
instance profile, instance with IMDSv2 required and an encrypted gp3 root volume, the same tags,
the same user data. The AMI comes from AWS's public SSM parameter through a parameter of type
AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>, so the stack picks the newest at creation.
Intrinsic functions are written in their long form ({"Ref": ...}): plain YAML, no custom tags.
"""

from __future__ import annotations

from typing import Any

import yaml

from eventlake.deploy.plan import AMI_PARAMETER, DeployPlan, instance_policy, trust_policy

ROOT_DEVICE = "/dev/xvda"  # Amazon Linux 2023's root device name


def template(plan: DeployPlan) -> dict[str, Any]:
    tags = plan.tags()
    own_parameters = {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/"
        + plan.ssm_prefix.lstrip("/")
        + "/*"
    }
    ingress = []
    for rule in plan.rules():
        entry: dict[str, Any] = {
            "IpProtocol": "tcp",
            "FromPort": rule.from_port,
            "ToPort": rule.to_port,
            "Description": rule.description,
        }
        entry["CidrIp" if rule.cidr.version == 4 else "CidrIpv6"] = str(rule.cidr)
        ingress.append(entry)
    instance: dict[str, Any] = {
        "ImageId": {"Ref": "LatestAmiId"},
        "InstanceType": {"Ref": "InstanceType"},
        "IamInstanceProfile": {"Ref": "InstanceProfile"},
        # The default VPC's way: a group without VpcId, named here (Ref gives its name there).
        "SecurityGroups": [{"Ref": "SecurityGroup"}],
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
        "BlockDeviceMappings": [
            {
                "DeviceName": ROOT_DEVICE,
                "Ebs": {
                    "VolumeSize": plan.volume_gb,
                    "VolumeType": "gp3",
                    "Encrypted": True,
                    "DeleteOnTermination": True,
                },
            }
        ],
        "DisableApiTermination": False,
        "PropagateTagsToVolumeOnCreation": True,
        "UserData": {"Fn::Base64": plan.user_data()},
        "Tags": tags,
    }
    if plan.ssh_key is not None:
        instance["KeyName"] = plan.ssh_key
    policy = instance_policy("ARN")
    policy["Statement"][0]["Resource"] = own_parameters
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"eventlake deployment {plan.name}: one Kafka broker host, SASL_SSL from the allowed networks",
        "Parameters": {
            "LatestAmiId": {
                "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
                "Default": AMI_PARAMETER,
                "Description": "Amazon Linux 2023 AMI, from AWS's public SSM parameter",
            },
            "InstanceType": {"Type": "String", "Default": plan.instance_type, "Description": "EC2 instance type"},
        },
        "Resources": {
            "SecurityGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "GroupDescription": f"eventlake deployment {plan.name}: broker port from the allowed networks only",
                    "SecurityGroupIngress": ingress,
                    "Tags": tags,
                },
            },
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": trust_policy(),
                    "Description": f"eventlake deployment {plan.name}: its own SSM parameters only",
                    "Policies": [{"PolicyName": "eventlake-own-parameters", "PolicyDocument": policy}],
                    "Tags": tags,
                },
            },
            # AWS::IAM::InstanceProfile takes no Tags; the stack's own tags (aws cloudformation
            # deploy --tags) are the way to tag it.
            "InstanceProfile": {"Type": "AWS::IAM::InstanceProfile", "Properties": {"Roles": [{"Ref": "Role"}]}},
            "Instance": {"Type": "AWS::EC2::Instance", "Properties": instance},
        },
        "Outputs": {
            "InstanceId": {"Value": {"Ref": "Instance"}},
            "PublicDnsName": {"Value": {"Fn::GetAtt": ["Instance", "PublicDnsName"]}},
            "SsmPrefix": {"Value": plan.ssm_prefix, "Description": "where the instance publishes the CA and passwords"},
        },
    }


class _NoAliases(yaml.SafeDumper):  # type: ignore[misc]  # yaml ships no type hints
    """CloudFormation rejects YAML anchors and aliases: repeat shared values (the tags) in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def template_yaml(plan: DeployPlan) -> str:
    text = yaml.dump(template(plan), Dumper=_NoAliases, sort_keys=False, default_flow_style=False, width=120)
    return str(text)
