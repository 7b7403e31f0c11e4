"""Bad rows into `<topic>.dlq`, in the format of `broker.dead_letters` (stage `produce`, the
input and line in headers, the original bytes as the value).

They go through the run's own producer, so with --exactly-once a dead letter is part of the
transaction of the rows around it. The DLQ topic is created on the first bad row, so a clean
run leaves no empty DLQ behind.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from eventlake.broker import TopicAdmin
from eventlake.broker.dead_letters import DeadLetter, shape
from eventlake.produce.report import BadRow, ProduceReport
from eventlake.types import dlq_topic

# Kafka's default max message size is 1 MB; a longer bad row is kept in part (a header says so).
MAX_RAW_BYTES = 256 * 1024


class DeadLetters:
    def __init__(
        self,
        producer: Producer,
        admin: TopicAdmin,
        topic: str,
        report: ProduceReport,
        partitions: int = 1,
        keep: int = 100,
    ) -> None:
        self.producer = producer
        self.admin = admin
        self.topic = topic
        self.dlq_topic = dlq_topic(topic)
        self.report = report
        self.partitions = partitions
        self.keep = keep
        self._ready = False

    def _ensure_topic(self) -> None:
        if not self._ready:
            self.admin.create(self.dlq_topic, partitions=self.partitions, exist_ok=True)
            self._ready = True

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.report.dlq += 1
        else:
            self.report.dlq_failed += 1
            self.report.add_error(f"{self.dlq_topic}: {err.str()}")

    def send(self, bad: BadRow) -> None:
        self._ensure_topic()
        report = self.report
        report.bad_rows_total += 1
        if len(report.bad_rows) < self.keep:
            report.bad_rows.append(bad)
        letter = shape(
            DeadLetter("produce", self.topic, bad.reason, bad.raw, input=bad.source, line=bad.line), cap=MAX_RAW_BYTES
        )
        headers: list[tuple[str, Any]] = list(letter.headers)
        while True:
            try:
                self.producer.produce(
                    self.dlq_topic, letter.value, None, on_delivery=self._on_delivery, headers=headers
                )
                return
            except BufferError:
                self.producer.poll(0.05)
            except KafkaException as exc:
                report.dlq_failed += 1
                report.add_error(f"{self.dlq_topic}: {exc}")
                return
