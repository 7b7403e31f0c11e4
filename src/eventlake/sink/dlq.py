"""Dead letters: bad records go to `<topic>.dlq` with the reason and source coordinates in headers."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaException, Producer

from eventlake.broker import TopicAdmin
from eventlake.broker.clients import client_config, unreachable
from eventlake.config import Settings
from eventlake.sink.exceptions import SinkError
from eventlake.sink.ledger import DeadLetter
from eventlake.types import dlq_topic

log = logging.getLogger(__name__)


class DeadLetterProducer:
    """Produces dead letters and waits until the broker has them (before the ledger entry)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: Producer | None = None
        self._partitions: dict[str, int] = {}
        self.sent = 0

    def _ensure_topic(self, source: str) -> tuple[str, int]:
        """The DLQ topic (created like its source if missing) and its partition count."""
        name = dlq_topic(source)
        if name not in self._partitions:
            s = self.settings
            admin = TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=s.kafka.connect_timeout_s)
            if not admin.exists(name):
                partitions = len(admin.describe(source).partitions) or 1
                admin.create(name, partitions=partitions, exist_ok=True)
            self._partitions[name] = max(1, len(admin.describe(name).partitions))
        return name, self._partitions[name]

    def __call__(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        if self._producer is None:
            conf: dict[str, Any] = client_config(self.settings.bootstrap_servers, self.settings.kafka)
            conf.update({"enable.idempotence": True, "linger.ms": 5})
            self._producer = Producer(conf)
        failures: list[str] = []

        def delivered(err: Any, _msg: Any) -> None:
            if err is not None:
                failures.append(str(err))

        for letter in letters:
            topic, partitions = self._ensure_topic(letter.topic)
            headers: list[tuple[str, str | bytes | None]] = [
                ("reason", letter.reason.encode()),
                ("source.topic", letter.topic.encode()),
                ("source.partition", str(letter.partition).encode()),
                ("source.offset", str(letter.offset).encode()),
            ]
            try:
                self._producer.produce(topic, value=letter.value, key=letter.key, headers=headers,
                                       partition=letter.partition % partitions,
                                       on_delivery=delivered)
            except BufferError:
                self._producer.flush(10)
                self._producer.produce(topic, value=letter.value, key=letter.key, headers=headers,
                                       on_delivery=delivered)
            except KafkaException as exc:
                raise unreachable(self.settings.bootstrap_servers, exc) from exc
        remaining = self._producer.flush(self.settings.kafka.connect_timeout_s * 4)
        if remaining or failures:
            raise SinkError(f"could not write {remaining or len(failures)} dead letters to Kafka: "
                            f"{failures[:1] or 'timed out'}", hint="the flush is retried after a restart")
        self.sent += len(letters)
        log.info("sent %d records to the dead letter topic", len(letters))
