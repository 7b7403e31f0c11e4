"""Kafka's own performance tools, from the same jars eventlake's broker runs: the ceilings.

ProducerPerformance sends as fast as the Java client can; ConsumerPerformance reads
without writing anything. Both run in a JVM started for the run, so their wall time
includes JVM start-up (about a second); their own reported rates exclude it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from eventlake.broker.jars import resolve_jars
from eventlake.runtime import find_java

_PRODUCED = re.compile(r"(\d+) records sent, ([\d.]+) records/sec")


@dataclass(frozen=True)
class KafkaTools:
    java: str
    libs: Path

    @classmethod
    def resolve(cls, kafka_version: str) -> KafkaTools:
        return cls(java=str(find_java().executable), libs=resolve_jars(kafka_version))

    def _base(self, heap: str = "512m") -> list[str]:
        return [self.java, f"-Xmx{heap}", "-Djava.awt.headless=true", "-cp", f"{self.libs}/*"]

    def producer_perf(
        self,
        bootstrap: str,
        topic: str,
        records: int,
        *,
        payload_file: Path | None = None,
        record_size: int = 200,
        throughput: int = -1,
    ) -> list[str]:
        payload = ["--payload-file", str(payload_file)] if payload_file else ["--record-size", str(record_size)]
        return [
            *self._base(),
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic",
            topic,
            "--num-records",
            str(records),
            *payload,
            "--throughput",
            str(throughput),
            "--producer-props",
            f"bootstrap.servers={bootstrap}",
            "acks=all",
            "compression.type=lz4",
            "linger.ms=20",
            "batch.size=262144",
        ]

    def consumer_perf(self, bootstrap: str, topic: str, messages: int, group: str) -> list[str]:
        return [
            *self._base(),
            "org.apache.kafka.tools.ConsumerPerformance",
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--messages",
            str(messages),
            "--group",
            group,
            "--timeout",
            "30000",
        ]


def parse_producer_perf(output: str) -> tuple[int, float]:
    """(records sent, records/s) from ProducerPerformance's final summary line."""
    found = _PRODUCED.findall(output)
    if not found:
        raise ValueError(f"no summary in ProducerPerformance output: {output.strip()[-300:]!r}")
    sent, rate = found[-1]
    return int(sent), float(rate)


def parse_consumer_perf(output: str) -> dict[str, str]:
    """ConsumerPerformance prints a CSV header then one row; return them as a dict."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if line.startswith("start.time"):
            keys = [k.strip() for k in line.split(",")]
            values = [v.strip() for v in lines[i + 1].split(",")]
            if len(keys) == len(values):
                return dict(zip(keys, values, strict=True))
    raise ValueError(f"no summary in ConsumerPerformance output: {output.strip()[-300:]!r}")
