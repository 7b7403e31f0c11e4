"""The poison corpus (tests/unit/test_sink_poison.py) mixed into good traffic, through a real broker
and the real sink: every good record lands exactly once, every bad one is in the DLQ alone with
its reason, the sink never fails, and the table stays readable with SELECT *."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaException, Producer

from eventlake.broker.dead_letters import read_headers
from eventlake.catalog import open_catalog
from eventlake.config import load_settings
from eventlake.lake import open_lake
from eventlake.query import connect
from eventlake.sink import run_sink
from eventlake.types import table_name_for_topic
from tests.fixtures_sink import landed_by_coord, read_landed, read_topic
from tests.unit.test_sink_poison import CORPUS, MAX_RECORD, Poison, good

pytestmark = pytest.mark.integration

BROKER_LIMIT = 1_048_588  # Kafka's default message.max.bytes


Item = tuple[bytes | None, bytes | None, Any]  # value, key, the good event or the Poison


def _produce(bootstrap: str, topic: str, items: Sequence[Item]) -> dict[tuple[int, int], Any]:
    """Plain confluent-kafka producer, uncompressed, up to the broker's limit; (partition, offset) -> item."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "enable.idempotence": True,
            "message.max.bytes": BROKER_LIMIT,
            "compression.type": "none",
        }
    )
    coords: dict[tuple[int, int], Any] = {}
    failures: list[str] = []

    def delivered(err: Any, msg: Any, item: Any) -> None:
        if err is not None:
            failures.append(str(err))
        else:
            coords[(msg.partition(), msg.offset())] = item

    def report(item: Any) -> Any:
        return lambda err, msg: delivered(err, msg, item)

    for n, (value, key, item) in enumerate(items):  # round robin: every partition gets poisons
        producer.produce(topic, value=value, key=key, partition=n % 3, on_delivery=report(item))
        producer.poll(0)
    assert producer.flush(60) == 0 and not failures, failures[:3]
    return coords


def test_poison_corpus_through_a_real_broker_and_sink(bootstrap: str, topic: str, tmp_path: Path) -> None:
    # The table as good traffic made it (ts a timestamp column), then the poisons among more of it.
    first = [(orjson.dumps(good(i)), str(i).encode(), good(i)) for i in range(300)]
    items: list[Item] = []
    for i in range(300, 1500):
        items.append((orjson.dumps(good(i)), str(i).encode(), good(i)))
        if i % 20 == 10 and i // 20 - 15 < len(CORPUS):
            p = CORPUS[i // 20 - 15]
            items.append((p.value, p.key, p))
    assert sum(isinstance(it[2], Poison) for it in items) == len(CORPUS)
    settings = load_settings(
        overrides={
            "bootstrap_servers": bootstrap,
            "lake": str(tmp_path / "lake"),
            "sink": {
                "group": f"g-{topic}",
                "until_idle": 3.0,
                "orphan_grace_seconds": 0.0,
                "time_field": "ts",
                "max_record_bytes": MAX_RECORD,
                "flush_rows": 300,
            },
        }
    )
    sent = _produce(bootstrap, topic, first)
    assert run_sink(settings, [topic]).rows == len(first)
    sent.update(_produce(bootstrap, topic, items))
    # A record over the broker's limit never reaches the topic (so the sink never meets one).
    big = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 4 * BROKER_LIMIT})
    refused: list[Any] = []
    try:
        big.produce(topic, value=b"z" * (BROKER_LIMIT + 10), on_delivery=lambda err, _m: refused.append(err))
        big.flush(30)
    except KafkaException as exc:
        refused.append(exc)
    assert refused and refused[0] is not None

    report = run_sink(settings, [topic])  # returns only once idle: it never stopped on a record
    bad = {c: p for c, p in sent.items() if isinstance(p, Poison) and not p.lands}
    lands = {c: it for c, it in sent.items() if c not in bad}
    assert (report.rows, report.dlq) == (len(lands) - len(first), len(bad))

    with open_catalog(settings) as store:
        landed = landed_by_coord(read_landed(store, open_lake(settings.lake), topic))
        assert store.dlq_count(topic) == len(bad)
    assert set(landed) == set(lands), "every good record lands exactly once, no bad one does"
    for coord, item in lands.items():
        row = landed[coord]
        if isinstance(item, Poison):
            assert item.check is not None and item.check(row), f"{item.name} landed wrong: {row}"
        else:
            assert (row["id"], row["amount"], row["sym"], row["_key"]) == (
                item["id"],
                item["amount"],
                item["sym"],
                str(item["id"]).encode().decode(),
            )

    dead = read_topic(bootstrap, f"{topic}.dlq")
    assert len(dead) == len(bad)
    letters = [(read_headers(m.headers()), m) for m in dead]
    for h, m in letters:
        assert h.partition is not None and h.offset is not None
        p = bad[(h.partition, h.offset)]
        assert (h.stage, h.topic) == ("sink", topic)
        assert p.reason in (h.reason or ""), (p.name, h.reason)
        if h.truncated_from is not None:  # cut to fit the broker, its size said
            assert h.truncated_from == len(p.value or b"") and (p.value or b"").startswith(m.value())
        else:
            assert m.value() == p.value and m.key() == p.key
    assert any(h.truncated_from is not None for h, _ in letters), "the ~1 MB record was cut to fit"

    with connect(settings) as engine:
        result = engine.execute(f"SELECT * FROM {table_name_for_topic(topic)}")
    assert len(result.rows) == len(lands)
    # A restart finds nothing new and does not fail: no crash loop.
    again = run_sink(settings, [topic])
    assert (again.rows, again.dlq) == (0, 0)
