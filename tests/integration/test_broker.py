"""The local broker as a user relies on it: real Kafka, data kept across restarts."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from eventlake.broker import BrokerSettings, LocalBroker, TopicAdmin, free_port
from eventlake.broker.exceptions import PortInUse
from tests.conftest import require_tool

pytestmark = pytest.mark.integration


def _produce_with_kcat(bootstrap: str, topic: str, n: int) -> None:
    kcat = require_tool("kcat")
    payload = "".join(f'{{"n": {i}}}\n' for i in range(n))
    subprocess.run([kcat, "-P", "-b", bootstrap, "-t", topic], input=payload.encode(), check=True,
                   timeout=60)


def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{time.time_ns()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(values) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=5000, timeout=0.5):
                if msg.error() is None:
                    values.append(msg.value())
    finally:
        consumer.close()
    return values


def test_messages_survive_stop_and_start(tmp_path: Path) -> None:
    broker = LocalBroker(BrokerSettings(port=free_port(), controller_port=free_port(),
                                        data_dir=tmp_path / "broker"))
    _, started = broker.start()
    assert started
    try:
        TopicAdmin(broker.bootstrap).create("durable", partitions=2)
        _produce_with_kcat(broker.bootstrap, "durable", 10_000)
        assert sorted(_read_all(broker.bootstrap, "durable", 10_000)) == sorted(
            f'{{"n": {i}}}'.encode() for i in range(10_000)
        )

        assert broker.stop()
        status = broker.status()
        assert not status.running

        _, started = broker.start()
        assert started
        info = TopicAdmin(broker.bootstrap).describe("durable")
        assert info.messages == 10_000
        assert len(_read_all(broker.bootstrap, "durable", 10_000)) == 10_000
    finally:
        broker.stop()


def test_start_twice_is_harmless(kafka: LocalBroker) -> None:
    state, started = kafka.start()
    assert not started
    assert state.bootstrap == kafka.bootstrap
    assert kafka.status().running


def test_port_held_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        broker = LocalBroker(BrokerSettings(port=port, data_dir=tmp_path / "b"))
        with pytest.raises(PortInUse, match=f"port {port}"):
            broker.start()


def test_small_segments_are_deleted_by_retention(admin: TopicAdmin, bootstrap: str, unique_name: str) -> None:
    admin.create(unique_name, partitions=1,
                 configs={"segment.bytes": "1048576", "retention.bytes": "1048576"})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": "none",
                         "batch.size": 2048})
    for i in range(40_000):  # ~4 MB: several 1 MiB segments (Kafka's smallest)
        producer.produce(unique_name, value=b"x" * 100 + str(i).encode())
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0
    start = admin.describe(unique_name).partitions[0]
    assert start.log_end_offset == 40_000
    # Retention is checked every few seconds: old segments go, the log start moves up.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        part = admin.describe(unique_name).partitions[0]
        if part.log_start_offset > 0:
            break
        time.sleep(1)
    assert part.log_start_offset > 0
    assert part.log_end_offset == 40_000
    assert part.messages < 40_000
