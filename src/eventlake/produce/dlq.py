"""Bad rows into `<topic>.dlq`: the original bytes as the value, why and where in headers.

Headers (all UTF-8 text): `reason`, `source` (file, `stdin`, ...), `line` (1-based, when
known), `topic` (where the row was meant to go). The DLQ topic is created on the first
bad row, so a clean run leaves no empty DLQ behind.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from eventlake.broker import TopicAdmin
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
        headers: list[tuple[str, Any]] = [
            ("reason", bad.reason.encode()),
            ("source", bad.source.encode()),
            ("topic", self.topic.encode()),
        ]
        if bad.line is not None:
            headers.append(("line", str(bad.line).encode()))
        raw = bad.raw
        if len(raw) > MAX_RAW_BYTES:
            headers.append(("truncated_from", str(len(raw)).encode()))
            raw = raw[:MAX_RAW_BYTES]
        while True:
            try:
                self.producer.produce(self.dlq_topic, raw, None, on_delivery=self._on_delivery, headers=headers)
                return
            except BufferError:
                self.producer.poll(0.05)
            except KafkaException as exc:
                report.dlq_failed += 1
                report.add_error(f"{self.dlq_topic}: {exc}")
                return
