"""The EC2 instance's user data: bootstrap.sh filled with one deployment's plan.

Every plan value is checked against an allow-list and then shell-quoted: the script is run as
root by cloud-init, so a value must never be able to become a command. The script holds no
secret; the instance makes its passwords itself and publishes them to SSM Parameter Store.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from importlib import resources

from eventlake.errors import UsageError

ADMIN_USER = "eventlake"  # broker.sasl_username's default: the super user the instance's broker has
TEMPLATE = "bootstrap.sh"

_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
# us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1, ap-southeast-7 ...
_REGION = re.compile(r"[a-z]{2}(-[a-z]+){1,2}-[0-9]{1,2}")
_USER = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")
# A pip requirement or URL (name, extras, version specifiers, `@ url`-less direct URLs): no blank,
# quote, `$`, backquote, `;`, `&`, `|`, redirection or backslash, and no leading `-` (a pip option).
_SPEC = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\-\[\],=<>!~:/@#%]{0,299}")
# SSM parameter names: segments of letters, digits, `.`, `_`, `-` (SSM's own rule), under a leading /.
_SSM_PREFIX = re.compile(r"(/[A-Za-z0-9_.-]{1,128}){1,10}")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,200}")
NODES = (1, 3)


@dataclass(frozen=True)
class UserDataPlan:
    name: str  # deployment name, already validated ([a-z][a-z0-9-]{0,30})
    region: str
    nodes: int  # 1 or 3 (`eventlake broker start --nodes 3`)
    port: int  # the SASL_SSL port the security group opens
    app_user: str  # the application SCRAM user to create (besides the admin)
    install_spec: str  # pip requirement for eventlake on the instance
    ssm_prefix: str  # e.g. "/eventlake/NAME": <prefix>/ca.pem, <prefix>/users/<user> as SecureString
    # Topics (and consumer groups) the application user may produce to and consume from: every one
    # starting with this. None: "<app_user>." (Kafka refuses no prefix at all, and "*" is a super user).
    topic_prefix: str | None = None

    @property
    def topics(self) -> str:
        return self.topic_prefix if self.topic_prefix is not None else f"{self.app_user}."


def _match(field: str, value: object, pattern: re.Pattern[str], hint: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        shown = repr(value)[:60] if isinstance(value, str) else type(value).__name__
        raise UsageError(f"the deployment's {field} {shown} is not allowed", hint=hint)
    return value


def _number(field: str, value: object, allowed: range | tuple[int, ...], hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise UsageError(f"the deployment's {field} {value!r} is not allowed", hint=hint)
    return value


def check_plan(plan: UserDataPlan) -> dict[str, str]:
    """The plan's values, each checked against its allow-list, as the strings the script gets."""
    name = _match("name", plan.name, _NAME, "use a lower-case letter, then up to 30 letters, digits or '-'")
    region = _match("region", plan.region, _REGION, "use an AWS region code such as us-east-1")
    nodes = _number("node count", plan.nodes, NODES, "use 1 or 3 nodes")
    # Kafka runs as an unprivileged user (no port below 1024), and the controller and the loopback
    # listener take port + 1 and port + 2.
    port = _number("port", plan.port, range(1024, 65534), "use a port from 1024 to 65533")
    app_user = _match(
        "application user", plan.app_user, _USER, "use a letter, then up to 63 letters, digits, '.', '_' or '-'"
    )
    if app_user == ADMIN_USER:
        raise UsageError(
            f"the application user cannot be {ADMIN_USER}, the broker's admin", hint="choose another name, e.g. app"
        )
    spec = _match(
        "install spec",
        plan.install_spec,
        _SPEC,
        "give a pip requirement such as eventlake==1.2.0 or an https URL, without blanks or shell characters",
    )
    prefix = _match(
        "SSM prefix", plan.ssm_prefix, _SSM_PREFIX, "use /segment[/segment...] of letters, digits, '.', '_' or '-'"
    )
    if prefix.lower().startswith(("/aws", "/ssm")):
        raise UsageError(f"the SSM prefix {prefix} is reserved by AWS", hint="use one such as /eventlake/NAME")
    topics = _match("topic prefix", plan.topics, _TOPIC, "use 1 to 200 letters, digits, '.', '_' or '-' (Kafka's rule)")
    return {
        "NAME": name,
        "REGION": region,
        "NODES": str(nodes),
        "PORT": str(port),
        "APP_USER": app_user,
        "ADMIN_USER": ADMIN_USER,
        "INSTALL_SPEC": spec,
        "SSM_PREFIX": prefix,
        "TOPIC_PREFIX": topics,
    }


_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


def render_user_data(plan: UserDataPlan) -> str:
    """The whole cloud-init shell script for `plan`; it contains no secret."""
    values = check_plan(plan)
    template = resources.files("eventlake.deploy").joinpath(TEMPLATE).read_text(encoding="utf-8")

    def fill(match: re.Match[str]) -> str:
        # Allow-listed above; quoted all the same, so the script never depends on that alone.
        return shlex.quote(values[match.group(1)])

    return _PLACEHOLDER.sub(fill, template)
