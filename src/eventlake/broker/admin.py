"""Topic administration through Kafka's Admin API: create, list, describe, delete."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import ClusterMetadata, ConfigResource, NewTopic, ResourceType

from eventlake.broker.clients import (
    AdminConnection,
    client_config,
    raise_for_auth,
    unreachable,
)
from eventlake.broker.exceptions import TopicError, TopicNotFound
from eventlake.errors import UsageError

# Topic configs users ask for most, under Kafka's own names.
SHOWN_CONFIGS = ("retention.ms", "retention.bytes", "segment.bytes", "cleanup.policy", "min.insync.replicas")


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    leader: int
    replicas: list[int]
    isr: list[int]
    log_start_offset: int
    log_end_offset: int

    @property
    def messages(self) -> int:
        return self.log_end_offset - self.log_start_offset

    @property
    def offsets_known(self) -> bool:
        return self.log_end_offset >= 0

    @property
    def offline(self) -> bool:
        """No leader: nobody can read or write this partition."""
        return self.leader < 0

    @property
    def under_replicated(self) -> bool:
        """Fewer replicas in sync than assigned: a broker is down or behind."""
        return len(self.isr) < len(self.replicas)

    def as_dict(self) -> dict[str, object]:
        return {
            "partition": self.partition,
            "leader": self.leader if self.leader >= 0 else None,
            "replicas": self.replicas,
            "isr": self.isr,
            "under_replicated": self.under_replicated,
            "offline": self.offline,
            "log_start_offset": self.log_start_offset if self.offsets_known else None,
            "log_end_offset": self.log_end_offset if self.offsets_known else None,
            "messages": self.messages if self.offsets_known else None,
        }


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: list[PartitionInfo] = field(default_factory=list)
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(p.messages for p in self.partitions)

    @property
    def min_insync(self) -> int | None:
        value = self.configs.get("min.insync.replicas")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def writable(self) -> bool | None:
        """Whether a producer with acks=all can write to every partition (None: min.insync unknown)."""
        if any(p.offline for p in self.partitions):
            return False
        if self.min_insync is None:
            return None
        return all(len(p.isr) >= self.min_insync for p in self.partitions)


class TopicAdmin(AdminConnection):
    """Topic operations against any Kafka cluster reachable at `bootstrap_servers`."""

    def _metadata(self, topic: str | None = None) -> ClusterMetadata:
        self._reachable()
        try:
            return self._admin.list_topics(topic=topic, timeout=self.timeout_s)
        except KafkaException as exc:
            self._admin.poll(0)  # serves error_cb
            failure = self._errors.auth_failure(self.bootstrap_servers, self.kafka)
            if failure is not None:
                raise failure from exc
            raise unreachable(self.bootstrap_servers, self._errors.last_reason()) from exc

    def _refused(self, exc: KafkaException, doing: str) -> None:
        """Raise AuthenticationFailed / AuthorizationFailed when that is why `exc` happened."""
        raise_for_auth(exc, self.bootstrap_servers, self.kafka, doing=doing)

    def names(self, include_internal: bool = False) -> list[str]:
        names = sorted(self._metadata().topics)
        return [n for n in names if include_internal or not n.startswith("__")]

    def exists(self, name: str) -> bool:
        return name in self._metadata().topics

    def broker_ids(self) -> list[int]:
        """The ids of the brokers registered now (a stopped broker is not)."""
        return sorted(self._metadata().brokers)

    def create(
        self,
        name: str,
        partitions: int = 3,
        replication_factor: int | None = None,
        configs: dict[str, str] | None = None,
        *,
        exist_ok: bool = False,
    ) -> bool:
        """Create a topic; return False if it existed and `exist_ok` is set.

        Without a replication factor a topic gets three copies, or one per broker when there are
        fewer: on a cluster no topic eventlake makes (a produced topic, a dead letter topic) is
        silently single-copy, and one broker can only hold one.
        """
        brokers = sorted(self._metadata().brokers)  # also fails fast and clearly when no broker answers
        if replication_factor is None:
            replication_factor = max(1, min(3, len(brokers)))
        check_replication(replication_factor, (configs or {}).get("min.insync.replicas"), brokers)
        new = NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=replication_factor,
            config={k: str(v) for k, v in (configs or {}).items()},
        )
        future = self._admin.create_topics([new], operation_timeout=self.timeout_s)[name]
        try:
            future.result(timeout=self.timeout_s)
        except KafkaException as exc:
            err = exc.args[0]
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                if exist_ok:
                    return False
                raise TopicError(f"topic {name} already exists") from exc
            self._refused(exc, f"create topic {name}")
            raise TopicError(f"could not create topic {name}: {_reason(exc)}") from exc
        self._wait_for_leaders(name, partitions)
        return True

    def _wait_for_leaders(self, name: str, partitions: int) -> None:
        """A new topic is usable once every partition has a leader."""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            md = self._metadata(name).topics.get(name)
            if (
                md
                and md.error is None
                and len(md.partitions) == partitions
                and all(p.leader >= 0 for p in md.partitions.values())
            ):
                return
            time.sleep(0.05)

    def delete(self, name: str) -> None:
        if not self.exists(name):
            raise TopicNotFound(f"topic {name} does not exist", hint="`eventlake topics list` shows them")
        future = self._admin.delete_topics([name], operation_timeout=self.timeout_s)[name]
        try:
            future.result(timeout=self.timeout_s)
        except KafkaException as exc:
            self._refused(exc, f"delete topic {name}")
            raise TopicError(f"could not delete topic {name}: {_reason(exc)}") from exc

    def alter_configs(self, name: str, configs: dict[str, str]) -> None:
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

        res = ConfigResource(
            ResourceType.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(k, str(v), incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()
            ],
        )
        for fut in self._admin.incremental_alter_configs([res]).values():
            try:
                fut.result(timeout=self.timeout_s)
            except KafkaException as exc:
                self._refused(exc, f"change the configs of topic {name}")
                raise TopicError(f"could not change configs of {name}: {_reason(exc)}") from exc

    def describe(self, name: str) -> TopicInfo:
        md = self._metadata(name).topics.get(name)
        if md is None or md.error is not None:
            raise TopicNotFound(
                f"topic {name} does not exist",
                hint=f"create it with `eventlake topics create {name} --partitions N`",
            )
        # A partition without a leader has no offsets to give: shown as unknown (-1), not waited for.
        led = sorted(pid for pid, p in md.partitions.items() if p.leader >= 0)
        offsets = dict.fromkeys(md.partitions, (-1, -1)) | self.offsets(name, led)
        parts = [
            PartitionInfo(
                partition=pid,
                leader=p.leader,
                replicas=list(p.replicas),
                isr=list(p.isrs),
                log_start_offset=offsets[pid][0],
                log_end_offset=offsets[pid][1],
            )
            for pid, p in sorted(md.partitions.items())
        ]
        return TopicInfo(name=name, partitions=parts, configs=self.configs(name))

    def _watermarks(self, consumer: Consumer, name: str, pid: int) -> tuple[int, int]:
        # Right after a topic is created or a broker restarts, leadership takes a moment.
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(name, pid), timeout=self.timeout_s, cached=False
                )
                return int(low), int(high)
            except KafkaException as exc:
                err = exc.args[0]
                transient = isinstance(err, KafkaError) and err.code() in _TRANSIENT
                if not transient or time.monotonic() > deadline:
                    self._refused(exc, f"read the offsets of topic {name}")
                    raise unreachable(self.bootstrap_servers, _reason(exc)) from exc
                time.sleep(0.1)

    def configs(self, name: str) -> dict[str, str]:
        res = ConfigResource(ResourceType.TOPIC, name)
        try:
            entries = self._admin.describe_configs([res])[res].result(timeout=self.timeout_s)
        except KafkaException as exc:
            self._refused(exc, f"read the configs of topic {name}")
            raise TopicError(f"could not read configs of {name}: {_reason(exc)}") from exc
        return {k: entries[k].value for k in SHOWN_CONFIGS if k in entries}

    def offsets(self, name: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
        """Per partition: (log start offset, log end offset)."""
        conf = client_config(self.bootstrap_servers, self.kafka)
        conf.update({"group.id": "eventlake-admin", "enable.auto.commit": False})
        consumer = Consumer(conf)
        try:
            return {pid: self._watermarks(consumer, name, pid) for pid in partitions}
        finally:
            with contextlib.suppress(Exception):
                consumer.close()


def check_replication(replication_factor: int, min_insync: str | int | None, brokers: list[int]) -> None:
    """Refuse a replication factor the cluster cannot place, and a min.insync.replicas no write could meet."""
    if replication_factor > len(brokers):
        raise UsageError(
            f"--replication-factor {replication_factor} needs {replication_factor} brokers; "
            f"{len(brokers)} {'is' if len(brokers) == 1 else 'are'} up (ids {','.join(map(str, brokers)) or 'none'})",
            hint=f"use --replication-factor {max(1, len(brokers))} or start more brokers "
            "(`eventlake broker start --nodes 3`)",
        )
    if min_insync is None:
        return
    n = int(min_insync)
    if not 1 <= n <= replication_factor:
        raise UsageError(
            f"--min-insync {n} must be between 1 and the replication factor {replication_factor}: "
            "with more, no acks=all write could ever succeed",
            hint=f"use --min-insync {replication_factor} or less, or a larger --replication-factor "
            "(3 with --min-insync 2 keeps writing with one broker down)",
        )


_TRANSIENT = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TIMED_OUT,
}


def _reason(exc: KafkaException) -> str:
    err = exc.args[0] if exc.args else exc
    return err.str() if isinstance(err, KafkaError) else str(err)
