"""Kafka ACLs for one user and one topic (or topic prefix), in the roles eventlake's users need.

A role is a fixed set of (resource, operation) grants, so `grant` and `revoke` with the same
arguments are exact inverses and `list` shows what they made:

- produce: WRITE and DESCRIBE on the topic (Kafka 3+ implies IDEMPOTENT_WRITE from WRITE);
  with `exactly_once`, also what `eventlake produce --exactly-once` uses: WRITE and DESCRIBE
  on transactional ids starting `eventlake-produce-`, and the progress topic.
- consume: READ and DESCRIBE on the topic, READ on the consumer group (given literally or as
  a prefix; Kafka has no default group, so one is required).
- sink: consume, plus what `eventlake sink` does besides reading: DESCRIBE_CONFIGS on the
  topic, and CREATE, WRITE, DESCRIBE and DESCRIBE_CONFIGS on its dead-letter topic `<topic>.dlq`.

Every name is checked against Kafka's own legal characters before it reaches the broker, and
`*` (Kafka's "every resource") is refused: a grant on everything is a super user, which is
deliberately the broker's setting (`super.users`), not a side effect of a typo or a shell glob.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from eventlake.broker.clients import AdminConnection, raise_for_auth
from eventlake.broker.credentials import shown
from eventlake.broker.exceptions import BrokerError
from eventlake.broker.users import checked_user
from eventlake.errors import UsageError
from eventlake.types import dlq_topic

log = logging.getLogger(__name__)

# Kafka's org.apache.kafka.common.internals.Topic: legal characters and the longest name.
_LEGAL = re.compile(r"[A-Za-z0-9._-]+")
MAX_NAME = 249
TRANSACTIONAL_PREFIX = "eventlake-produce-"  # produce/progress.py: Replay.transactional_id
PROGRESS_TOPIC = "__eventlake_produce_progress"  # config/produce.py: progress_topic's default
PROGRESS_GROUP_PREFIX = "eventlake-progress-"  # produce/progress_log.py: its assign-only readers
ANY_HOST = "*"


class AclError(BrokerError):
    """ACLs could not be created, listed or deleted."""


class AclNotFound(AclError):
    """None of the ACLs to revoke existed."""

    http_status = 404


class Role(StrEnum):
    produce = "produce"
    consume = "consume"
    sink = "sink"


def check_name(kind: str, name: str, *, prefix: bool = False) -> str:
    """`name` if Kafka accepts it as a topic or group name (or the start of one), else UsageError."""
    if not isinstance(name, str) or _LEGAL.fullmatch(name) is None or len(name) > MAX_NAME:
        raise UsageError(
            f"the {kind} {'prefix' if prefix else 'name'} {shown(str(name))} is not allowed",
            hint=f"use 1 to {MAX_NAME} letters, digits, '.', '_' or '-' (Kafka's rule; '*' is never granted)",
        )
    if not prefix and name in (".", ".."):
        raise UsageError(f"the {kind} name {shown(name)} is not allowed", hint="Kafka refuses '.' and '..' as names")
    return name


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL, as shown by `acl list`."""

    user: str
    resource: str  # topic, group, transactional_id
    pattern: str  # literal, prefixed
    name: str
    operation: str  # READ, WRITE, ...
    permission: str = "ALLOW"  # eventlake grants only ALLOW; `list` also shows DENY made elsewhere
    host: str = ANY_HOST

    def binding(self) -> AclBinding:
        return AclBinding(
            ResourceType[self.resource.upper()],
            self.name,
            ResourcePatternType[self.pattern.upper()],
            _principal(self.user),
            self.host,
            AclOperation[self.operation],
            AclPermissionType[self.permission],
        )

    def filter(self) -> AclBindingFilter:
        return AclBindingFilter(
            ResourceType[self.resource.upper()],
            self.name,
            ResourcePatternType[self.pattern.upper()],
            _principal(self.user),
            self.host,
            AclOperation[self.operation],
            AclPermissionType[self.permission],
        )


def grants_for(
    user: str,
    role: Role,
    *,
    topic: str,
    prefix: bool = False,
    group: str | None = None,
    group_prefix: bool = False,
    exactly_once: bool = False,
) -> list[Grant]:
    """The ACLs `role` needs for `user` on `topic` (a prefix with `prefix`), checked and sorted."""
    user = checked_user(user)
    topic = check_name("topic", topic, prefix=prefix)
    pattern = "prefixed" if prefix else "literal"
    out: list[Grant] = []

    def add(resource: str, pat: str, name: str, *operations: str) -> None:
        out.extend(Grant(user, resource, pat, name, op) for op in operations)

    if exactly_once and role is not Role.produce:
        raise UsageError("--exactly-once goes with --produce", hint="drop it, or grant --produce --exactly-once")
    if role is Role.produce:
        if group is not None:
            raise UsageError("--produce takes no consumer group", hint="drop --group/--group-prefix")
        add("topic", pattern, topic, "WRITE", "DESCRIBE")
        if exactly_once:
            add("transactional_id", "prefixed", TRANSACTIONAL_PREFIX, "WRITE", "DESCRIBE")
            add("topic", "literal", PROGRESS_TOPIC, "CREATE", "READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS")
            add("group", "prefixed", PROGRESS_GROUP_PREFIX, "READ")
    else:
        if group is None:
            flag = "--sink" if role is Role.sink else "--consume"
            raise UsageError(
                f"{flag} needs the consumer group the user reads in",
                hint="add --group NAME (or --group-prefix PREFIX for every group starting with it)",
            )
        group = check_name("group", group, prefix=group_prefix)
        add("topic", pattern, topic, "READ", "DESCRIBE")
        add("group", "prefixed" if group_prefix else "literal", group, "READ")
        if role is Role.sink:
            add("topic", pattern, topic, "DESCRIBE_CONFIGS")
            # A prefix already covers `<prefix>...dlq`; a literal topic needs its DLQ by name.
            if not prefix:
                add("topic", "literal", check_name("topic", dlq_topic(topic)), "CREATE", "WRITE", "DESCRIBE")
                add("topic", "literal", dlq_topic(topic), "DESCRIBE_CONFIGS")
            else:
                add("topic", pattern, topic, "CREATE", "WRITE")
    return sorted(set(out))


class AclAdmin(AdminConnection):
    """ALLOW ACLs of the Kafka cluster at `bootstrap_servers` (a super user's connection)."""

    def _fail(self, exc: KafkaException, doing: str) -> AclError:
        raise_for_auth(exc, self.bootstrap_servers, self.kafka, doing=doing)
        err = exc.args[0] if exc.args else exc
        if isinstance(err, KafkaError) and err.code() == KafkaError.SECURITY_DISABLED:
            return AclError(
                f"could not {doing}: that Kafka has no authorizer",
                hint="set authorizer.class.name on the broker (eventlake's own broker always has one)",
            )
        return AclError(f"could not {doing}: {err.str() if isinstance(err, KafkaError) else err}")

    def grant(self, grants: Sequence[Grant]) -> None:
        """Create every ACL in `grants` (creating one that exists changes nothing)."""
        self._reachable()
        if not grants:
            return
        log.info("granting %d ACLs to %s", len(grants), sorted({g.user for g in grants}))
        futures = self._admin.create_acls([g.binding() for g in grants], request_timeout=self.timeout_s)
        for future in futures.values():
            try:
                future.result(timeout=self.timeout_s)
            except KafkaException as exc:
                raise self._fail(exc, f"grant ACLs to user {grants[0].user}") from exc

    def revoke(self, grants: Sequence[Grant]) -> list[Grant]:
        """Delete exactly the ACLs in `grants`; return the ones that existed."""
        self._reachable()
        if not grants:
            return []
        log.info("revoking %d ACLs of %s", len(grants), sorted({g.user for g in grants}))
        futures = self._admin.delete_acls([g.filter() for g in grants], request_timeout=self.timeout_s)
        deleted: list[Grant] = []
        for future in futures.values():
            try:
                deleted.extend(_grant(b) for b in future.result(timeout=self.timeout_s))
            except KafkaException as exc:
                raise self._fail(exc, f"revoke ACLs of user {grants[0].user}") from exc
        return sorted(set(deleted))

    def list(self, *, user: str | None = None, topic: str | None = None) -> list[Grant]:
        """Every ACL, or those of `user`, or those that apply to `topic` (literal, prefix or `*`)."""
        self._reachable()
        principal = f"User:{checked_user(user)}" if user is not None else None
        if topic is not None:
            check_name("topic", topic)
        # MATCH finds what applies to the topic: its literal ACLs, prefixes of it, and '*'.
        # None matches any principal, host or name (the stubs say str; the library takes None).
        flt = AclBindingFilter(
            ResourceType.TOPIC if topic is not None else ResourceType.ANY,
            cast(str, topic),
            ResourcePatternType.MATCH if topic is not None else ResourcePatternType.ANY,
            cast(str, principal),
            cast(str, None),
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        try:
            bindings = self._admin.describe_acls(flt, request_timeout=self.timeout_s).result(timeout=self.timeout_s)
        except KafkaException as exc:
            raise self._fail(exc, "list ACLs") from exc
        return sorted(_grant(b) for b in bindings)


def _principal(user: str) -> str:
    return user if ":" in user else f"User:{user}"


def _enum_name(value: object) -> str:
    """The enum member's name (the library types these as enum | str | int; it hands back enums)."""
    return str(getattr(value, "name", value))


def _grant(binding: AclBinding) -> Grant:
    """`binding` as a Grant: a `User:` principal shows as its name, any other one in full."""
    principal = str(binding.principal)
    return Grant(
        user=principal.removeprefix("User:"),
        resource=_enum_name(binding.restype).lower(),
        pattern=_enum_name(binding.resource_pattern_type).lower(),
        name=str(binding.name),
        operation=_enum_name(binding.operation),
        permission=_enum_name(binding.permission_type),
        host=str(binding.host),
    )


COLUMNS = ("user", "resource", "pattern", "name", "operation", "permission", "host")


def rows(grants: Iterable[Grant]) -> list[tuple[str, ...]]:
    return [tuple(getattr(g, c) for c in COLUMNS) for g in grants]
