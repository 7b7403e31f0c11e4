"""Cluster health against the real single-node broker: healthy, and unreachable as one clear state.

A single node cannot be under-replicated; the derivation for brokers down is unit-tested on
confluent-kafka's metadata classes (tests/unit/test_cluster_health.py).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from confluent_kafka import Producer

from eventlake.broker import TopicAdmin, client_config
from eventlake.broker.health import HealthProbe, cluster_health, derive
from eventlake.runtime import free_port
from tests.fixtures_dashboard import TickLake, running_dashboard

pytestmark = pytest.mark.integration


def _gauge(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    assert match is not None, f"{name}{labels} not in:\n{text}"
    return float(match.group(1))


def test_the_single_broker_is_healthy_and_acks_all_writes_work(bootstrap: str, admin: TopicAdmin, topic: str) -> None:
    strict = f"{topic}-strict"
    admin.create(strict, partitions=1, configs={"min.insync.replicas": "1"})
    health = cluster_health(bootstrap, topics=[topic, strict])
    assert health.reachable and health.state == "healthy" and health.error is None
    [broker] = health.brokers
    assert broker.address == bootstrap and health.controller_id == broker.id
    assert {t.name for t in health.topics} == {topic, strict}
    for t in health.topics:
        assert t.replication_factor == 1 and t.min_insync == 1 and t.writable is True
        assert all(p.leader == broker.id and p.replicas == p.isr == (broker.id,) for p in t.partitions)
    assert len(health.partitions) == 4 and health.under_replicated == [] and health.offline == []
    # What health says, a producer with acks=all confirms.
    producer = Producer({**client_config(bootstrap), "acks": "all"})
    producer.produce(strict, b"x")
    assert producer.flush(15) == 0


def test_the_derivation_reads_the_real_metadata_answer(bootstrap: str, admin: TopicAdmin, topic: str) -> None:
    probe = HealthProbe(bootstrap)
    metadata = probe._admin.list_topics(timeout=10)
    derived = derive(bootstrap, metadata, probe.min_insync([topic]), topics=[topic])
    described = admin.describe(topic)
    [t] = derived.topics
    assert [(p.partition, p.leader, list(p.replicas), list(p.isr)) for p in t.partitions] == [
        (p.partition, p.leader, p.replicas, p.isr) for p in described.partitions
    ]
    assert t.min_insync == described.min_insync == 1  # the broker's default, read per topic


def test_an_unreachable_cluster_is_one_state_within_the_time_out() -> None:
    closed = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    health = cluster_health(closed, timeout_s=2.0)
    assert time.monotonic() - started < 10  # no hang: refused at once, or given up after its time-out
    assert health.state == "unreachable" and not health.reachable
    assert health.error is not None and f"no Kafka broker answered at {closed}" in health.error
    assert health.summary()["brokers"] == 0 and health.topics == ()


def test_metrics_and_pipeline_show_the_cluster(bootstrap: str, topic: str, tick_lake: TickLake) -> None:
    settings = tick_lake.settings.model_copy(update={"bootstrap_servers": bootstrap})
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        r = http.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert "# TYPE eventlake_kafka_brokers gauge" in text
        assert _gauge(text, "eventlake_kafka_up") == 1
        assert _gauge(text, "eventlake_kafka_brokers") == 1
        assert _gauge(text, "eventlake_kafka_under_replicated_partitions") == 0
        assert _gauge(text, "eventlake_kafka_offline_partitions") == 0
        assert _gauge(text, "eventlake_kafka_acks_all_writable", f'{{topic="{topic}"}}') == 1
        kafka = http.get("/api/pipeline").json()["kafka"]
        assert (kafka["state"], kafka["brokers"], kafka["under_replicated_partitions"]) == ("healthy", 1, 0)
        assert kafka["topics"][topic] == {
            "replication_factor": 1,
            "min_insync_replicas": 1,
            "writable": True,
            "under_replicated": [],
            "offline": [],
        }


def test_metrics_without_a_broker_say_down_and_claim_nothing_else(tick_lake: TickLake, tmp_path: Path) -> None:
    settings = tick_lake.settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        text = http.get("/metrics").text
        assert _gauge(text, "eventlake_kafka_up") == 0
        assert "eventlake_kafka_brokers" not in text  # 0 brokers would be a claim nothing was seen to support
        pipeline = http.get("/api/pipeline").json()
        assert pipeline["kafka"]["state"] == "unreachable" and pipeline["broker"]["reachable"] is False
        assert len(pipeline["errors"]) == 1 and "no Kafka broker answered" in pipeline["errors"][0]
