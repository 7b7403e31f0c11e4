"""The pinned jar list that lets `broker fetch` work without Maven."""

from __future__ import annotations

from eventlake.broker.jars import artifact_url, locked_artifacts
from eventlake.config.broker import KAFKA_VERSION


def test_lock_pins_kafka_and_its_dependencies_with_checksums() -> None:
    rows = dict(locked_artifacts(KAFKA_VERSION))
    assert f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}" in rows
    assert f"org.apache.kafka:kafka-tools:{KAFKA_VERSION}" in rows
    assert len(rows) > 50
    assert all(len(sha) == 64 for sha in rows.values())


def test_artifact_url_follows_maven_layout() -> None:
    url, name = artifact_url("org.apache.kafka:kafka_2.13:4.1.1")
    assert url.endswith("/org/apache/kafka/kafka_2.13/4.1.1/kafka_2.13-4.1.1.jar")
    assert name == "kafka_2.13-4.1.1.jar"
