"""Dead letters of the sink: bad records go to `<topic>.dlq` in the format of
`broker.dead_letters` (stage `sink`, the record's partition and offset in headers).

A dead letter must always be deliverable, or the sink would stop on the same record at every
start (a crash loop). So the producer's `message.max.bytes` is what the broker accepts for the
DLQ topic (its `max.message.bytes`), which `shape` cuts letters to; a record the broker still
refuses as too large is sent again cut shorter, down to an empty value. Letters are
acknowledged before the flush's ledger entry is written.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

from eventlake.broker import TopicAdmin
from eventlake.broker.clients import client_config, raise_for_auth, unreachable
from eventlake.broker.dead_letters import DEFAULT_LIMIT, DeadLetter, shape
from eventlake.config import Settings
from eventlake.sink.exceptions import DeadLettersUnavailable, SinkError
from eventlake.types import dlq_topic

log = logging.getLogger(__name__)


class DeadLetterProducer:
    """Produces dead letters and waits until the broker has them (before the ledger entry)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: Producer | None = None
        self._topics: dict[str, tuple[int, int]] = {}  # DLQ topic -> (partitions, max message bytes)
        self._producer_limit = DEFAULT_LIMIT
        self.sent = 0
        self.truncated = 0

    def _ensure_topic(self, source: str) -> tuple[str, int, int]:
        """The DLQ topic (created like its source if missing), its partition count and size limit."""
        name = dlq_topic(source)
        if name not in self._topics:
            s = self.settings
            admin = TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=s.kafka.connect_timeout_s)
            if not admin.exists(name):
                partitions = len(admin.describe(source).partitions) or 1
                admin.create(name, partitions=partitions, exist_ok=True)
            self._topics[name] = (max(1, len(admin.describe(name).partitions)), self._max_message_bytes(name))
        partitions, limit = self._topics[name]
        return name, partitions, limit

    def _max_message_bytes(self, topic: str) -> int:
        """What the broker accepts for `topic` (its max.message.bytes, the broker's default unless set)."""
        s = self.settings
        res = ConfigResource(ResourceType.TOPIC, topic)
        try:
            admin = AdminClient(client_config(s.bootstrap_servers, s.kafka))
            entries = admin.describe_configs([res])[res].result(timeout=s.kafka.connect_timeout_s)
            return int(entries["max.message.bytes"].value)
        except (KafkaException, KeyError, ValueError, TypeError) as exc:
            log.warning(
                "could not read max.message.bytes of %s (%s); dead letters kept under %d bytes",
                topic,
                exc,
                DEFAULT_LIMIT,
            )
            return DEFAULT_LIMIT

    def _producer_for(self, limit: int) -> Producer:
        if self._producer is None:
            self._producer_limit = max(1000, limit)
            conf: dict[str, Any] = client_config(self.settings.bootstrap_servers, self.settings.kafka)
            conf.update(
                {
                    "enable.idempotence": True,
                    "linger.ms": 5,
                    "message.max.bytes": self._producer_limit,
                    "batch.size": min(1_000_000, self._producer_limit),
                }
            )
            self._producer = Producer(conf)
        return self._producer

    def __call__(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        caps: dict[int, int | None] = {}
        pending = list(range(len(letters)))
        for _ in range(16):  # a quarter each round: 1 MB reaches 0 bytes in 10
            too_large = self._send([(i, letters[i]) for i in pending], caps)
            if not too_large:
                break
            for i in too_large:  # the broker's limit is lower than it said: cut harder
                cap = caps.get(i)
                if cap == 0:
                    raise SinkError(
                        f"the broker refuses even an empty dead letter for {letters[i].topic}",
                        hint="check max.message.bytes of the DLQ topic",
                    )
                caps[i] = (len(letters[i].value or b"") if cap is None else cap) // 4
            pending = too_large
        self.sent += len(letters)
        log.info("sent %d records to the dead letter topic", len(letters))

    def _send(self, items: list[tuple[int, DeadLetter]], caps: dict[int, int | None]) -> list[int]:
        """Produce and wait; the positions the broker refused as too large."""
        failures: list[str] = []
        too_large: list[int] = []

        def delivered(i: int, err: Any) -> None:
            if err is None:
                return
            if err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                too_large.append(i)
            else:
                failures.append(str(err))

        producer: Producer | None = None
        for i, letter in items:
            topic, partitions, limit = self._ensure_topic(letter.topic)
            producer = self._producer_for(limit)
            msg = shape(letter, min(limit, self._producer_limit), caps.get(i))
            if msg.value is not None and len(msg.value) < len(letter.value or b""):
                self.truncated += 1
            kwargs: dict[str, Any] = {
                "value": msg.value,
                "key": msg.key,
                "headers": msg.headers,
                "partition": (letter.partition or 0) % partitions,
                "on_delivery": lambda err, _m, i=i: delivered(i, err),
            }
            while True:
                try:
                    producer.produce(topic, **kwargs)
                    break
                except BufferError:
                    producer.flush(10)
                except KafkaException as exc:
                    if exc.args and getattr(exc.args[0], "code", lambda: None)() == KafkaError.MSG_SIZE_TOO_LARGE:
                        too_large.append(i)
                        break
                    raise_for_auth(exc, self.settings.bootstrap_servers, self.settings.kafka, doing="produce")
                    raise DeadLettersUnavailable(
                        unreachable(self.settings.bootstrap_servers, exc).message, hint="the flush is retried"
                    ) from exc
        remaining = producer.flush(self.settings.kafka.connect_timeout_s * 4) if producer is not None else 0
        if remaining or failures:
            raise DeadLettersUnavailable(
                f"could not write {remaining or len(failures)} dead letters to Kafka: {failures[:1] or 'timed out'}",
                hint="the flush is retried",
            )
        return too_large
