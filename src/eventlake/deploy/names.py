"""Allow-lists for what a user types into `eventlake deploy`, and the names derived from it.

Every value here ends up in an AWS API call, a resource name, an IAM policy or a shell script,
so each is checked against a narrow pattern before anything is sent.
"""

from __future__ import annotations

import ipaddress
import re

from eventlake.broker.credentials import shown
from eventlake.errors import UsageError

TAG_KEY = "eventlake:deployment"
NAME_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,30}")
# EC2 key pair names may hold more, but these are the ones we pass on without quoting worries.
KEY_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
INSTANCE_TYPE_PATTERN = re.compile(r"[a-z][a-z0-9-]*\.[a-z0-9]+")
APP_USER_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
MIN_VOLUME_GB, MAX_VOLUME_GB = 8, 16384  # gp3 sizes; AL2023's snapshot needs 8


def check_name(name: str) -> str:
    if NAME_PATTERN.fullmatch(name) is None:
        raise UsageError(
            f"the deployment name {shown(name)} is not allowed",
            hint="use 1-31 characters: a lowercase letter, then lowercase letters, digits or '-'",
        )
    return name


def check_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as exc:
        why = "has bits set after the prefix" if "host bits" in str(exc) else "is not a CIDR"
        raise UsageError(
            f"--allow-cidr {shown(text)} {why}",
            hint="give a network such as 203.0.113.0/24, 203.0.113.7/32 (one address) or 2001:db8::/64",
        ) from None


def is_anywhere(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return net.prefixlen == 0


def check_key_name(name: str) -> str:
    if KEY_NAME_PATTERN.fullmatch(name) is None:
        raise UsageError(f"the key pair name {shown(name)} is not allowed", hint="use letters, digits, '.', '_' or '-'")
    return name


def check_instance_type(value: str) -> str:
    if INSTANCE_TYPE_PATTERN.fullmatch(value) is None or len(value) > 32:
        raise UsageError(f"the instance type {shown(value)} is not one", hint="use e.g. t3.small or m7i.large")
    return value


def check_app_user(value: str) -> str:
    if APP_USER_PATTERN.fullmatch(value) is None:
        raise UsageError(
            f"the user name {shown(value)} is not allowed", hint="use 1-64 letters, digits, '.', '_' or '-'"
        )
    return value


def check_volume_gb(value: int) -> int:
    if not MIN_VOLUME_GB <= value <= MAX_VOLUME_GB:
        raise UsageError(f"--volume-gb {value} is out of range", hint=f"give {MIN_VOLUME_GB} to {MAX_VOLUME_GB} (GiB)")
    return value


def resource_name(name: str) -> str:
    """The name of the security group, IAM role and instance profile, and the instance's Name tag."""
    return f"eventlake-{name}"


def ssm_prefix(name: str) -> str:
    return f"/eventlake/{name}"


def tags(name: str) -> list[dict[str, str]]:
    return [{"Key": TAG_KEY, "Value": name}, {"Key": "Name", "Value": resource_name(name)}]
