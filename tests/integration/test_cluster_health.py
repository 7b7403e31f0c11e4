"""Cluster health on a real 3-node cluster, as a user reads it: `topics describe`, `status --cluster`
and `topics reassign` while a node is down or a partition moves.

The session's cluster (tests/fixtures_cluster.py) is shared; each test brings its nodes back.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from eventlake.broker import TopicAdmin
from eventlake.broker.cluster import LocalCluster
from eventlake.broker.health import ClusterHealth, cluster_health
from eventlake.broker.reassign import Reassigner
from tests.e2e.conftest import EVENTLAKE
from tests.fixtures_cluster import all_nodes_back
from tests.fixtures_dashboard import TickLake, running_dashboard

pytestmark = pytest.mark.integration


def _until(
    check: Callable[[], ClusterHealth], ok: Callable[[ClusterHealth], bool], timeout_s: float = 60
) -> ClusterHealth:
    deadline = time.monotonic() + timeout_s
    while True:
        health = check()
        if ok(health) or time.monotonic() > deadline:
            return health
        time.sleep(0.5)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    return subprocess.run([EVENTLAKE, *args], capture_output=True, text=True, timeout=180, env=env, check=False)


def _pipeline_kafka(http: httpx.Client, ok: Callable[[dict[str, Any]], bool], timeout_s: float = 60) -> dict[str, Any]:
    """The Pipeline page's cluster view, polled as the page does until `ok` holds (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    while True:
        kafka: dict[str, Any] = http.get("/api/pipeline").json()["kafka"]
        if ok(kafka) or time.monotonic() > deadline:
            return kafka
        time.sleep(0.5)


def test_topics_get_three_copies_and_describe_and_status_show_a_node_down(
    cluster: LocalCluster, unique_name: str, tick_lake: TickLake
) -> None:
    boot = cluster.local_bootstrap
    bs = ("--bootstrap-servers", boot)
    rf3 = ("--replication-factor", "3", "--min-insync", "2")
    made = cli("topics", "create", unique_name, "--partitions", "2", *rf3, *bs)
    assert made.returncode == 0, made.stderr
    refused = cli("topics", "create", f"{unique_name}-x", "--replication-factor", "4", *bs)
    assert refused.returncode == 2 and "--replication-factor 4 needs 4 brokers; 3 are up" in refused.stderr
    plain = cli("topics", "create", f"{unique_name}-d", "--partitions", "1", *bs)  # no --replication-factor
    assert plain.returncode == 0, plain.stderr
    assert [len(p.replicas) for p in TopicAdmin(boot).describe(f"{unique_name}-d").partitions] == [3]
    # So does a topic `eventlake produce` makes for itself (and the dead letter topics made the same way).
    produced = cli("produce", f"{unique_name}-p", "--source", "synthetic:ticks", "--limit", "10", "--create-topic", *bs)
    assert produced.returncode == 0, produced.stderr
    assert {len(p.replicas) for p in TopicAdmin(boot).describe(f"{unique_name}-p").partitions} == {3}
    node = 3
    assert cluster.stop_node(node)
    try:
        _until(lambda: cluster_health(boot, topics=[unique_name]), lambda h: len(h.under_replicated) == 2)
        described = json.loads(cli("topics", "describe", unique_name, "--format", "json", *bs).stdout)
        assert described["under_replicated"] == [0, 1] and described["writable_acks_all"] is True
        assert all(node not in p["isr"] and node in p["replicas"] for p in described["partitions"])
        status = json.loads(cli("status", "--cluster", "--format", "json", *bs).stdout)
        # Not "healthy"; "offline" too if another test left a one-copy topic on that node.
        assert status["state"] in ("under-replicated", "offline") and status["missing_brokers"] == [node]
        assert status["brokers"] == 2 and status["under_replicated_partitions"] >= 2
        # The dashboard (its Pipeline page and /metrics) shows the node down, then its return, live.
        settings = tick_lake.settings.model_copy(update={"bootstrap_servers": boot})
        with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
            down = _pipeline_kafka(http, lambda k: k["brokers"] == 2)
            assert down["state"] in ("under-replicated", "offline") and down["missing_brokers"] == [node], down
            assert down["topics"][unique_name]["under_replicated"] == [0, 1]
            assert down["topics"][unique_name]["writable"] is True
            assert "eventlake_kafka_brokers 2" in http.get("/metrics").text.splitlines()
            all_nodes_back(cluster, [unique_name])
            up = _pipeline_kafka(http, lambda k: k["state"] == "healthy")
            assert (up["state"], up["brokers"], up["under_replicated_partitions"]) == ("healthy", 3, 0), up
    finally:
        all_nodes_back(cluster, [unique_name])
    back = _until(lambda: cluster_health(boot, topics=[unique_name]), lambda h: h.state == "healthy", 120)
    assert back.state == "healthy" and all(len(p.isr) == 3 for p in back.partitions)


def test_reassign_moves_a_partition_to_other_brokers(cluster: LocalCluster, unique_name: str) -> None:
    boot = cluster.local_bootstrap
    TopicAdmin(boot).create(unique_name, partitions=1, replication_factor=1)
    [before] = TopicAdmin(boot).describe(unique_name).partitions
    target = [n for n in (1, 2, 3) if n not in before.replicas][:2]
    moved = cli(
        "topics", "reassign", unique_name, "--partition", "0", "--replicas", ",".join(map(str, target)),
        "--wait", "--bootstrap-servers", boot,
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    [after] = TopicAdmin(boot).describe(unique_name).partitions
    assert after.replicas == target and sorted(after.isr) == sorted(target) and after.leader in target
    assert Reassigner(boot).ongoing() == []
