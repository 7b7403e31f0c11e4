"""The local broker as a user relies on it: real Kafka, data kept across restarts.

The cluster-id tests at the top need no broker; the rest are marked `integration`.
"""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from eventlake.broker import LocalBroker, TopicAdmin
from eventlake.broker.exceptions import PortInUse
from eventlake.broker.jars import resolve_jars
from eventlake.broker.server import new_cluster_id
from eventlake.config import BrokerSettings
from eventlake.runtime import find_java, free_port
from tests.conftest import require_tool

integration = pytest.mark.integration

# 0xF8..0xFB as the first byte: the first base64url character is '-' (index 62).
DASH_UUID = uuid.UUID(bytes=bytes([0xFA]) + bytes(range(1, 16)))


def test_cluster_ids_are_kafka_uuids_never_starting_with_a_dash() -> None:
    """As Kafka's Uuid.randomUuid(): 22 base64url characters of 16 bytes, never '-' first.

    Before the fix about one id in 64 started with '-', and Kafka's StorageTool read it as an option.
    """
    ids = [new_cluster_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    for cid in ids:
        assert len(cid) == 22 and re.fullmatch(r"[A-Za-z0-9_-]{22}", cid), cid
        assert not cid.startswith("-"), cid
        raw = base64.urlsafe_b64decode(cid + "==")
        assert len(raw) == 16
        assert base64.urlsafe_b64encode(raw).decode().rstrip("=") == cid
        assert raw not in (bytes(16), (1).to_bytes(16, "big"))
    # The property the old code lacked is reachable at all: ids from uuid4 do start with '-'.
    assert base64.urlsafe_b64encode(DASH_UUID.bytes).decode().startswith("-")


def _dash_first(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """Make the next uuid4() the unlucky one that encodes to '-...', then random ones."""
    handed: list[uuid.UUID] = []
    real = uuid.uuid4

    def fake() -> uuid.UUID:
        value = DASH_UUID if not handed else real()
        handed.append(value)
        return value

    monkeypatch.setattr(uuid, "uuid4", fake)  # the module object the server calls uuid4() on
    return handed


def test_cluster_id_rerolls_an_id_starting_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    handed = _dash_first(monkeypatch)
    cid = new_cluster_id()
    assert len(handed) == 2 and not cid.startswith("-")
    assert base64.urlsafe_b64decode(cid + "==") == handed[1].bytes


@integration
def test_kraft_storage_formats_in_fresh_data_dirs_again_and_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kafka's real StorageTool, several fresh data dirs in a row, each first offered a '-' id."""
    for i in range(4):
        _dash_first(monkeypatch)
        broker = LocalBroker(
            BrokerSettings(port=free_port(), controller_port=free_port(), data_dir=tmp_path / f"fresh-{i}")
        )
        broker.prepare()
        meta = (broker.log_dirs / "meta.properties").read_text()
        cluster_id = re.search(r"^cluster\.id=(.+)$", meta, re.M)
        assert cluster_id is not None and not cluster_id.group(1).startswith("-"), meta
        assert "StorageTool format (exit 0)" in broker.log_file.read_text()


@integration
def test_kraft_storage_formats_500_times_in_a_row(tmp_path: Path) -> None:
    """500 ids from new_cluster_id(), each formatted by Kafka's StorageTool in a fresh log dir.

    About 1 id in 64 used to start with '-', which the formatter read as an option: a fresh
    data dir failed to start about once in 64. One JVM runs all 500 (tests/integration/java)."""
    javac = require_tool("javac")
    broker = LocalBroker(BrokerSettings(port=free_port(), controller_port=free_port(), data_dir=tmp_path / "b"))
    template = tmp_path / "template.properties"
    template.write_text(broker.server_properties_text())
    classes = tmp_path / "classes"
    libs = f"{resolve_jars(broker.settings.kafka_version, broker.settings.cache_dir)}/*"
    subprocess.run(
        [javac, "-cp", libs, "-d", str(classes), str(Path(__file__).parent / "java" / "FormatMany.java")],
        check=True,
        timeout=120,
    )
    ids = [new_cluster_id() for _ in range(500)]
    run = subprocess.run(
        [str(find_java().executable), "-cp", f"{libs}:{classes}", "FormatMany", str(template), str(tmp_path / "w")],
        input="\n".join(ids) + "\n",
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    codes = dict(line.rsplit(" ", 1) for line in run.stdout.splitlines())
    assert len(codes) == 500 and set(codes.values()) == {"0"}, run.stderr[-2000:]
    metas = sorted((tmp_path / "w").glob("run-*/kraft/meta.properties"))
    assert len(metas) == 500
    found = [re.search(r"^cluster\.id=(.+)$", m.read_text(), re.M) for m in metas]
    assert None not in found and {f.group(1) for f in found if f is not None} == set(ids)


def _produce_with_kcat(bootstrap: str, topic: str, n: int) -> None:
    kcat = require_tool("kcat")
    payload = "".join(f'{{"n": {i}}}\n' for i in range(n))
    subprocess.run([kcat, "-P", "-b", bootstrap, "-t", topic], input=payload.encode(), check=True, timeout=60)


def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"read-{time.time_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(values) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=5000, timeout=0.5):
                if msg.error() is None:
                    values.append(msg.value() or b"")
    finally:
        consumer.close()
    return values


@integration
def test_messages_survive_stop_and_start(tmp_path: Path) -> None:
    broker = LocalBroker(BrokerSettings(port=free_port(), controller_port=free_port(), data_dir=tmp_path / "broker"))
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


@integration
def test_start_twice_is_harmless(kafka: LocalBroker) -> None:
    state, started = kafka.start()
    assert not started
    assert state.bootstrap == kafka.bootstrap
    assert kafka.status().running


@integration
def test_port_held_by_another_process_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        broker = LocalBroker(BrokerSettings(port=port, data_dir=tmp_path / "b"))
        with pytest.raises(PortInUse, match=f"port {port}"):
            broker.start()


@integration
def test_small_segments_are_deleted_by_retention(admin: TopicAdmin, bootstrap: str, unique_name: str) -> None:
    admin.create(unique_name, partitions=1, configs={"segment.bytes": "1048576", "retention.bytes": "1048576"})
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": "none", "batch.size": 2048}
    )
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
