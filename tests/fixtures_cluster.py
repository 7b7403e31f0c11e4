"""A real 3-node KRaft cluster for the session, started lazily through eventlake's own broker package.

Three JVMs, each broker and controller, on a block of free loopback ports (the cluster's
ports are consecutive: client P..P+2, controller P+3..P+5). Tests that stop or kill nodes
bring them back before they end (`all_nodes_back`), so the next test finds three nodes and
every partition fully replicated.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from eventlake.broker.cluster import LocalCluster
from eventlake.config import BrokerSettings

NODES = 3


def free_port_block(count: int, tries: int = 200) -> int:
    """The first of `count` consecutive ports nothing listens on, below the kernel's ephemeral range."""
    for _ in range(tries):
        base = random.randrange(20_000, 32_000 - count)
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError(f"no block of {count} free ports found")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A real 3-node Apache Kafka cluster (RF 3, min.insync.replicas 2) for the whole session."""
    settings = BrokerSettings(
        nodes=NODES,
        port=free_port_block(2 * NODES),
        data_dir=tmp_path_factory.mktemp("cluster"),
        heap="384m",
        start_timeout_s=180,
        stop_timeout_s=10,  # all nodes stop together; one may wait out the quorum it was part of
    )
    cluster = LocalCluster(settings, NODES)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def partitions_of(bootstrap: str, topic: str) -> dict[int, tuple[int, list[int], list[int]]]:
    """partition -> (leader, replicas, in-sync replicas), as the cluster's metadata says now."""
    md = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(topic, timeout=10).topics[topic]
    return {pid: (p.leader, list(p.replicas), list(p.isrs)) for pid, p in md.partitions.items()}


def wait_isr(bootstrap: str, topic: str, size: int, timeout_s: float = 90) -> None:
    """Until every partition of `topic` has `size` in-sync replicas and a leader."""
    deadline = time.monotonic() + timeout_s
    seen: dict[int, tuple[int, list[int], list[int]]] = {}
    while time.monotonic() < deadline:
        try:
            seen = partitions_of(bootstrap, topic)
        except Exception:  # a node restarting: ask again
            seen = {}
        if seen and all(leader >= 0 and len(isr) == size for leader, _, isr in seen.values()):
            return
        time.sleep(0.3)
    raise AssertionError(f"{topic}: in-sync replicas did not reach {size} in {timeout_s}s: {seen}")


def all_nodes_back(cluster: LocalCluster, topics: list[str]) -> None:
    """Start any node that is down and wait until the topics are fully replicated again."""
    down = [k for k, m in cluster.members.items() if m.running_state() is None]
    if down:
        cluster.start_nodes(down)
    for topic in topics:
        wait_isr(cluster.local_bootstrap, topic, NODES)


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    # log_level 0: a node down on purpose is not news.
    conf = {"bootstrap.servers": bootstrap, "group.id": "end-offsets", "enable.auto.commit": False, "log_level": 0}
    consumer = Consumer(conf)
    try:
        return {
            p: int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1])
            for p in range(partitions)
        }
    finally:
        consumer.close()
