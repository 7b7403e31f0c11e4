"""Cluster health from Kafka's Admin API: brokers, leaders, replicas, ISR, and what they mean.

`cluster_health()` asks the cluster once (a metadata request and one describe-configs for
every topic's effective `min.insync.replicas`) and `derive()` turns those answers into a typed
`ClusterHealth`. `derive()` is pure: it reads confluent-kafka's own metadata classes, so tests
build the shapes of a degraded 3-node cluster without one.

What is derived, per partition:

- **offline**: no leader (leader id -1, or the partition reported with an error): nobody can
  read or write it;
- **under-replicated**: fewer in-sync replicas than replicas (a replica's broker is down or
  lagging); the data is at risk of one more failure, but it is still served;
- **writable with acks=all**: a leader and at least `min.insync.replicas` replicas in sync.
  Below that, Kafka refuses every acks=all produce with NOT_ENOUGH_REPLICAS: producers fail
  loudly rather than write data only one broker holds.

An unreachable cluster is not an exception here: it is one state (`unreachable`), found within
the time-out, so `eventlake status`, /metrics and the dashboard keep answering.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Literal

from confluent_kafka import KafkaException
from confluent_kafka.admin import ClusterMetadata, ConfigResource, ResourceType

from eventlake.broker.clients import AdminConnection, unreachable
from eventlake.config.broker import KafkaClientSettings
from eventlake.errors import EventlakeError

MIN_INSYNC = "min.insync.replicas"
# The last min.insync.replicas read per (cluster, topic): a topic's config rarely changes, and a
# long-running reader (the dashboard) keeps judging writability while one request times out.
_LAST_MIN_INSYNC: dict[tuple[str, str], int | None] = {}
_REMEMBERED = 10_000

State = Literal["healthy", "under-replicated", "not-writable", "offline", "unreachable"]


@dataclass(frozen=True)
class BrokerNode:
    id: int
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class PartitionHealth:
    topic: str
    partition: int
    leader: int | None  # None: no leader (offline)
    replicas: tuple[int, ...]
    isr: tuple[int, ...]

    @property
    def offline(self) -> bool:
        return self.leader is None

    @property
    def under_replicated(self) -> bool:
        return len(self.isr) < len(self.replicas)

    def writable(self, min_insync: int | None) -> bool | None:
        """Whether an acks=all produce succeeds; None when min.insync.replicas is unknown."""
        if self.offline:
            return False
        return None if min_insync is None else len(self.isr) >= min_insync

    def as_dict(self, min_insync: int | None) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "leader": self.leader,
            "replicas": list(self.replicas),
            "isr": list(self.isr),
            "under_replicated": self.under_replicated,
            "offline": self.offline,
            "writable": self.writable(min_insync),
        }


@dataclass(frozen=True)
class TopicHealth:
    name: str
    partitions: tuple[PartitionHealth, ...]
    min_insync: int | None  # the effective min.insync.replicas; None: could not be read

    @property
    def internal(self) -> bool:
        return self.name.startswith("__")

    @property
    def replication_factor(self) -> int:
        return max((len(p.replicas) for p in self.partitions), default=0)

    @property
    def under_replicated(self) -> list[int]:
        return [p.partition for p in self.partitions if p.under_replicated]

    @property
    def offline(self) -> list[int]:
        return [p.partition for p in self.partitions if p.offline]

    @property
    def writable(self) -> bool | None:
        """acks=all writes succeed on every partition (False if one refuses; None: unknown)."""
        answers = [p.writable(self.min_insync) for p in self.partitions]
        if False in answers:
            return False
        return None if None in answers else True

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.name,
            "replication_factor": self.replication_factor,
            "min_insync_replicas": self.min_insync,
            "writable": self.writable,
            "under_replicated": self.under_replicated,
            "offline": self.offline,
            "partitions": [p.as_dict(self.min_insync) for p in self.partitions],
        }


@dataclass(frozen=True)
class ClusterHealth:
    bootstrap_servers: str
    reachable: bool
    brokers: tuple[BrokerNode, ...] = ()
    # In KRaft, Kafka's metadata names a live broker that forwards to the active controller,
    # not the quorum leader itself (`eventlake broker status` shows the quorum).
    controller_id: int | None = None
    topics: tuple[TopicHealth, ...] = ()
    error: str | None = None
    checked_at: float = field(default_factory=time.time)

    @property
    def partitions(self) -> list[PartitionHealth]:
        return [p for t in self.topics for p in t.partitions]

    @property
    def under_replicated(self) -> list[PartitionHealth]:
        return [p for p in self.partitions if p.under_replicated]

    @property
    def offline(self) -> list[PartitionHealth]:
        return [p for p in self.partitions if p.offline]

    @property
    def not_writable(self) -> list[str]:
        """Topics an acks=all producer cannot write to (all of them, or some partitions)."""
        return [t.name for t in self.topics if t.writable is False]

    @property
    def missing_brokers(self) -> list[int]:
        """Broker ids some partition names as a replica that are not registered (down)."""
        known = {b.id for b in self.brokers}
        return sorted({r for p in self.partitions for r in p.replicas} - known)

    @property
    def state(self) -> State:
        """The worst thing that is true, in the order a user must act on it."""
        if not self.reachable:
            return "unreachable"
        if self.offline:
            return "offline"
        if self.not_writable:
            return "not-writable"
        if self.under_replicated:
            return "under-replicated"
        return "healthy"

    def summary(self) -> dict[str, Any]:
        """The figures `eventlake status`, /metrics and the Pipeline page show."""
        return {
            "state": self.state,
            "reachable": self.reachable,
            "brokers": len(self.brokers),
            "broker_ids": [b.id for b in self.brokers],
            "missing_brokers": self.missing_brokers,
            "controller_id": self.controller_id,
            "partitions": len(self.partitions),
            "under_replicated_partitions": len(self.under_replicated),
            "offline_partitions": len(self.offline),
            "not_writable_topics": self.not_writable,
            "error": self.error,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "bootstrap_servers": self.bootstrap_servers,
            "checked_at": self.checked_at,
            "broker_nodes": [{"id": b.id, "host": b.host, "port": b.port} for b in self.brokers],
            "topics": [t.as_dict() for t in self.topics],
        }


# ---- the pure part


def derive(
    bootstrap_servers: str,
    metadata: ClusterMetadata,
    min_insync: Mapping[str, int | None],
    *,
    topics: Iterable[str] | None = None,
    silent: Iterable[int] = (),
) -> ClusterHealth:
    """The health a metadata answer and the topics' min.insync.replicas show (`topics`: only these).

    `silent`: registered brokers that refused a connection just now. Kafka's metadata can lag
    behind a death (until the broker's session times out) or freeze (no controller quorum, e.g.
    two of three combined nodes down); a silent broker counts as down, out of every ISR, and a
    partition it leads as offline.
    """
    wanted = set(topics) if topics is not None else None
    dead = set(silent)
    brokers = tuple(
        sorted(
            (BrokerNode(b.id, str(b.host), int(b.port)) for b in metadata.brokers.values() if b.id not in dead),
            key=lambda b: b.id,
        )
    )
    topic_health = []
    for name in sorted(metadata.topics):
        if wanted is not None and name not in wanted:
            continue
        md = metadata.topics[name]
        if md.error is not None and not md.partitions:  # deleted or not readable: nothing to judge
            continue
        parts = tuple(
            PartitionHealth(
                topic=name,
                partition=int(pid),
                # A partition reported with an error (LEADER_NOT_AVAILABLE) has no usable leader either.
                leader=int(p.leader) if p.leader >= 0 and p.error is None and p.leader not in dead else None,
                replicas=tuple(int(r) for r in p.replicas),
                isr=tuple(int(r) for r in p.isrs if r not in dead),
            )
            for pid, p in sorted(md.partitions.items())
        )
        topic_health.append(TopicHealth(name=name, partitions=parts, min_insync=min_insync.get(name)))
    controller = metadata.controller_id if metadata.controller_id is not None and metadata.controller_id >= 0 else None
    return ClusterHealth(
        bootstrap_servers=bootstrap_servers,
        reachable=True,
        brokers=brokers,
        controller_id=controller,
        topics=tuple(topic_health),
    )


def unreachable_health(bootstrap_servers: str, error: EventlakeError) -> ClusterHealth:
    return ClusterHealth(bootstrap_servers=bootstrap_servers, reachable=False, error=error.one_line())


# ---- asking the cluster


class HealthProbe(AdminConnection):
    """Reads cluster health through the Admin API; never raises for an unreachable cluster."""

    def check(self, topics: Iterable[str] | None = None) -> ClusterHealth:
        try:
            self._reachable()
            metadata = self._admin.list_topics(timeout=self.timeout_s)
        except KafkaException:
            self._admin.poll(0)
            failure = self._errors.auth_failure(self.bootstrap_servers, self.kafka)
            return unreachable_health(
                self.bootstrap_servers, failure or unreachable(self.bootstrap_servers, self._errors.last_reason())
            )
        except EventlakeError as exc:  # BrokerUnreachable, AuthenticationFailed: one state with its reason
            return unreachable_health(self.bootstrap_servers, exc)
        names = [n for n in metadata.topics if topics is None or n in set(topics)]
        silent = self.silent_brokers(metadata)
        return derive(self.bootstrap_servers, metadata, self.min_insync(names), topics=topics, silent=silent)

    def silent_brokers(self, metadata: ClusterMetadata) -> list[int]:
        """Registered brokers whose advertised address refuses a TCP connection now (nothing listens).

        Only a refusal counts: it is certain at once, while a slow answer may be the network.
        Kafka clients reach brokers at these same addresses, so a refusal here is one for them too.
        """
        silent = []
        for b in metadata.brokers.values():
            try:
                with socket.create_connection((str(b.host), int(b.port)), timeout=min(1.0, self.timeout_s)):
                    pass
            except ConnectionRefusedError:
                silent.append(int(b.id))
            except OSError:  # a time-out or an unreachable network: not proof that it is down
                continue
        return silent

    def min_insync(self, topics: list[str]) -> dict[str, int | None]:
        """Each topic's effective min.insync.replicas (its own, else the broker's default).

        In the seconds between a broker's death and its fencing (broker.session.timeout.ms), the
        client may still send the request to it and time out: the topics that failed are asked
        once more, and what still fails takes the value last read for it (None if never read).
        """
        out: dict[str, int | None] = {}
        pending = list(topics)
        for timeout in (self.timeout_s, self.timeout_s / 2):
            if not pending:
                break
            pending = self._describe_min_insync(pending, timeout, out)
        for name in pending:
            out[name] = _LAST_MIN_INSYNC.get((self.bootstrap_servers, name))
        return out

    def _describe_min_insync(self, topics: list[str], timeout_s: float, out: dict[str, int | None]) -> list[str]:
        """Fill `out` with what was read; return the topics whose request failed."""
        resources = [ConfigResource(ResourceType.TOPIC, name) for name in topics]
        futures = self._admin.describe_configs(resources, request_timeout=timeout_s)
        failed = []
        for res, future in futures.items():
            try:
                entries = future.result(timeout=timeout_s)
            except (KafkaException, FutureTimeout):  # not allowed, the topic went away, or no answer in time
                failed.append(res.name)
                continue
            value = entries[MIN_INSYNC].value if MIN_INSYNC in entries else None
            out[res.name] = int(value) if value is not None and value.isdigit() else None
            if len(_LAST_MIN_INSYNC) < _REMEMBERED or (self.bootstrap_servers, res.name) in _LAST_MIN_INSYNC:
                _LAST_MIN_INSYNC[(self.bootstrap_servers, res.name)] = out[res.name]
        return failed


def cluster_health(
    bootstrap_servers: str,
    kafka: KafkaClientSettings | None = None,
    *,
    timeout_s: float = 3.0,
    topics: Iterable[str] | None = None,
) -> ClusterHealth:
    """The cluster's health now; `unreachable` (with the reason) within about `timeout_s`."""
    try:
        probe = HealthProbe(bootstrap_servers, kafka, timeout_s=timeout_s)
    except EventlakeError as exc:  # a client configuration that cannot be used (a missing CA file)
        return unreachable_health(bootstrap_servers, exc)
    return probe.check(topics)


__all__ = [
    "BrokerNode",
    "ClusterHealth",
    "HealthProbe",
    "PartitionHealth",
    "TopicHealth",
    "cluster_health",
    "derive",
]
