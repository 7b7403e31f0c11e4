"""A 3-node cluster losing nodes: what happens to a user's acknowledged events, and what they are told.

Real brokers (tests/fixtures_cluster.py), eventlake's own producer and sink as a user runs them
(`eventlake produce`, `eventlake sink`), nodes killed and stopped through the broker package.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from eventlake.broker import TopicAdmin
from eventlake.broker.cluster import LocalCluster
from eventlake.catalog import CatalogStore
from eventlake.lake import open_lake
from tests.fixtures_cluster import NODES, all_nodes_back, end_offsets, partitions_of, wait_isr
from tests.fixtures_sink import landed_by_coord, read_landed

pytestmark = pytest.mark.integration

EVENTLAKE = str(Path(sys.executable).with_name("eventlake"))
KILLS = 5  # of the leader of partition 0, then the active controller once
RATE = 2_000  # events/s: the run spans the kills; the producer is paused if a restart falls behind
# Kill i comes once LEAD + i * SEGMENT events are in the topic; while the node restarts the
# producer may go on up to the next kill's mark. A segment is 12.5 s of traffic at RATE, longer
# than a dead node takes to be fenced (5 s) and its partitions' leaders moved: events are sent
# all through each failover. Before the first kill and after the last hold only a little traffic
# is needed (a full segment there was ~20 s of waiting for nothing).
LEAD, SEGMENT, TAIL = 5_000, 25_000, 5_000
EVENTS = LEAD + (KILLS + 1) * SEGMENT + TAIL


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env.update(extra)
    return env


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EVENTLAKE, *args], capture_output=True, text=True, timeout=timeout, env=env or _env(), check=False
    )


def _summary(stdout: str) -> dict[str, Any]:
    assert "{" in stdout, f"no JSON summary in {stdout[-500:]!r}"
    summary: dict[str, Any] = json.loads(stdout[stdout.index("{") :])
    return summary


def _topic_seqs(bootstrap: str, topic: str, partitions: int) -> list[int]:
    """Every `seq` (the producer's own id) in the topic, beginning to end."""
    ends = end_offsets(bootstrap, topic, partitions)
    group = f"read-{time.time_ns()}"
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False, "log_level": 0}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
    seqs: list[int] = []
    done = {p for p, end in ends.items() if end == 0}
    deadline = time.monotonic() + 120
    try:
        while len(done) < partitions and time.monotonic() < deadline:
            for m in consumer.consume(5000, 0.5):
                if m.error() is not None:
                    continue
                seqs.append(orjson.loads(m.value() or b"{}")["seq"])
                p, off = m.partition(), m.offset()
                assert p is not None and off is not None
                if off + 1 >= ends[p]:
                    done.add(p)
    finally:
        consumer.close()
    return seqs


def _sink(topic: str, lake: Path, bootstrap: str, *extra: str) -> list[str]:
    group = f"sink-{topic}"
    return [EVENTLAKE, "sink", topic, "--lake", str(lake), "--group", group, "--bootstrap-servers", bootstrap, *extra]


def _landed(lake: Path, topic: str) -> dict[tuple[int, int], dict[str, Any]]:
    catalog = lake / "_eventlake" / "catalog.sqlite"
    if not catalog.is_file():
        return {}
    with CatalogStore(catalog) as store:
        return landed_by_coord(read_landed(store, open_lake(str(lake)), topic))  # fails on a row landed twice


def _wait_landed(lake: Path, topic: str, count: int, timeout_s: float = 90) -> dict[tuple[int, int], dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    landed: dict[tuple[int, int], dict[str, Any]] = {}
    while time.monotonic() < deadline:
        landed = _landed(lake, topic)
        if len(landed) >= count:
            return landed
        time.sleep(0.5)
    raise AssertionError(f"{len(landed)} of {count} events landed in {timeout_s}s")


@pytest.fixture
def rf3_topic(cluster: LocalCluster, unique_name: str) -> Iterator[str]:
    TopicAdmin(cluster.local_bootstrap).create(unique_name, partitions=3, replication_factor=NODES)
    wait_isr(cluster.local_bootstrap, unique_name, NODES)
    yield unique_name
    all_nodes_back(cluster, [unique_name])


class _Paced:
    """Pauses the producer (SIGSTOP) when it would finish before the kills are done, resumes it after."""

    def __init__(self, proc: subprocess.Popen[str], bootstrap: str, topic: str) -> None:
        self.proc, self.bootstrap, self.topic = proc, bootstrap, topic
        self.paused = False
        self.last = 0

    def progress(self) -> int:
        try:
            self.last = sum(end_offsets(self.bootstrap, self.topic, 3).values())
        except Exception:  # a leader moving: keep the last figure
            pass
        return self.last

    def hold_below(self, limit: int) -> None:
        if not self.paused and self.progress() >= limit and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.proc.send_signal(signal.SIGCONT)
            self.paused = False


def _kill_and_restart(
    cluster: LocalCluster, node: int, topic: str, paced: _Paced, hold: int, *, cli: bool = False
) -> None:
    """SIGKILL `node`, start it again, wait until the topic is fully replicated; the producer held below `hold`.

    With `cli`, as a user drills it: `eventlake broker kill --node N`, then `broker start --node N`.
    """
    data = ["--node", str(node), "--data-dir", str(cluster.data_dir)]
    if cli:
        killed = _run("broker", "kill", *data)
        assert killed.returncode == 0 and f"node {node} killed (SIGKILL)" in killed.stderr, killed.stderr
    else:
        assert cluster.kill_node(node)
    errors: list[BaseException] = []

    def restart() -> None:
        try:
            if cli:
                started = _run("broker", "start", *data)
                assert started.returncode == 0 and f"node {node} started" in started.stderr, started.stderr
            else:
                cluster.start_nodes([node])
            wait_isr(cluster.local_bootstrap, topic, NODES, timeout_s=120)
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    worker = threading.Thread(target=restart)
    worker.start()
    while worker.is_alive():
        paced.hold_below(hold)
        worker.join(0.5)
    assert not errors, errors[0]


def test_acknowledged_events_survive_leader_and_controller_kills_and_land_once(
    cluster: LocalCluster, rf3_topic: str, tmp_path: Path
) -> None:
    bootstrap = cluster.bootstrap
    producer = subprocess.Popen(
        [EVENTLAKE, "produce", rf3_topic, "--source", "synthetic:ticks", "--limit", str(EVENTS),
         "--rate", str(RATE), "--output", "json", "--bootstrap-servers", bootstrap],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Longer than any failover here: an event fails only if the cluster really cannot take it.
        env=_env(EVENTLAKE_PRODUCE__DELIVERY_TIMEOUT_S="120"),
    )  # fmt: skip
    paced = _Paced(producer, cluster.local_bootstrap, rf3_topic)
    killed: list[tuple[str, int]] = []
    try:
        for i in range(KILLS + 1):
            start_at = LEAD + i * SEGMENT  # evenly over the run, the last well before its end
            while paced.progress() < start_at:
                assert producer.poll() is None, f"the producer ended before kill {i + 1}: {producer.stderr}"
                time.sleep(0.3)
            if i < KILLS:
                node, what = partitions_of(cluster.local_bootstrap, rf3_topic)[0][0], "leader of partition 0"
            else:
                quorum = cluster.status().quorum
                assert quorum is not None and quorum.leader_id is not None, quorum
                node, what = quorum.leader_id, "active controller"
            assert producer.poll() is None, "every kill happens while the producer sends"
            killed.append((what, node))
            hold = start_at + SEGMENT
            _kill_and_restart(cluster, node, rf3_topic, paced, hold, cli=i == KILLS)
            paced.resume()
            if i < KILLS:
                assert partitions_of(cluster.local_bootstrap, rf3_topic)[0][0] >= 0
        out, err = producer.communicate(timeout=300)
    finally:
        paced.resume()
        if producer.poll() is None:
            producer.kill()
            producer.communicate()
    assert len(killed) == KILLS + 1, killed
    summary = _summary(out)
    assert summary["sent"] == EVENTS, err[-1000:]
    assert summary["delivered"] + summary["failed"] == summary["sent"]
    assert summary["failed"] == 0, summary  # every failover finished within the delivery timeout
    assert producer.returncode == 0, err[-1000:]

    # In the topic: every acknowledged event, each once (the producer is idempotent: retries never repeat).
    seqs = _topic_seqs(cluster.local_bootstrap, rf3_topic, 3)
    assert len(seqs) == EVENTS
    assert sorted(seqs) == list(range(1, EVENTS + 1))

    # In the lake: each of them exactly once, at its own offset.
    lake = tmp_path / "lake"
    sink = _run(*_sink(rf3_topic, lake, bootstrap, "--until-idle", "3")[1:], timeout=300)
    assert sink.returncode == 0, sink.stderr[-2000:]
    landed = _landed(lake, rf3_topic)
    assert len(landed) == EVENTS  # distinct (partition, offset) pairs; a duplicate fails in landed_by_coord
    assert sorted(row["seq"] for row in landed.values()) == list(range(1, EVENTS + 1))


def _status(cluster: LocalCluster) -> tuple[int, dict[str, Any]]:
    res = _run("broker", "status", "--format", "json", "--data-dir", str(cluster.data_dir))
    return res.returncode, json.loads(res.stdout)


def test_two_nodes_down_refuse_acks_all_writes_clearly_the_sink_resumes_and_a_returning_node_catches_up(
    cluster: LocalCluster, rf3_topic: str, tmp_path: Path
) -> None:
    bootstrap = cluster.bootstrap
    data = ["--data-dir", str(cluster.data_dir)]
    lake = tmp_path / "lake"
    sink = subprocess.Popen(
        _sink(rf3_topic, lake, bootstrap), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env()
    )
    try:
        first = _run("produce", rf3_topic, "--source", "synthetic:ticks", "--limit", "1000",
                     "--bootstrap-servers", bootstrap)  # fmt: skip
        assert first.returncode == 0, first.stderr
        _wait_landed(lake, rf3_topic, 1000)

        # `broker stop --node`, gracefully, one after the other: the controller takes each node out
        # of the in-sync replicas as it goes, so the last one knows it is alone.
        leader_node = partitions_of(cluster.local_bootstrap, rf3_topic)[0][0]
        down = [k for k in range(1, NODES + 1) if k != leader_node]
        for k in down:
            stopped = _run("broker", "stop", "--node", str(k), *data)
            assert stopped.returncode == 0 and f"node {k} stopped" in stopped.stderr, stopped.stderr
        code, status = _status(cluster)
        assert code == 1 and not status["running"]  # no quorum: the cluster does not serve
        assert [n["state"] == "up" for n in status["nodes"]] == [k == leader_node for k in range(1, NODES + 1)]

        short = _env(EVENTLAKE_PRODUCE__DELIVERY_TIMEOUT_S="5")
        refused = _run("produce", rf3_topic, "--source", "synthetic:ticks", "--limit", "100",
                       "--bootstrap-servers", bootstrap, env=short)  # fmt: skip
        assert refused.returncode == 1
        error = refused.stderr.strip().splitlines()[-1]
        assert error.startswith("error: 100 events were not delivered: not enough in-sync replicas (NOT_ENOUGH_"), error
        assert "fewer than min.insync.replicas 2" in error
        assert "0 delivered, 100 failed" in refused.stderr
        assert sink.poll() is None, "the sink waits for the cluster instead of exiting"

        back = _run("broker", "start", "--node", str(down[0]), *data)  # two of three: a quorum, two in-sync replicas
        assert back.returncode == 0, back.stderr
        wait_isr(cluster.local_bootstrap, rf3_topic, 2)
        more = _run("produce", rf3_topic, "--source", "synthetic:ticks", "--limit", "500",
                    "--bootstrap-servers", bootstrap)  # fmt: skip
        assert more.returncode == 0, more.stderr
        assert "500 delivered, 0 failed" in more.stderr
        landed = _wait_landed(lake, rf3_topic, 1500)
    finally:
        sink.send_signal(signal.SIGINT)
        sink_out, _ = sink.communicate(timeout=60)
    # Nothing refused was written after all: the topic and the lake hold exactly the 1,500 delivered.
    assert sum(end_offsets(cluster.local_bootstrap, rf3_topic, 3).values()) == 1500
    assert len(landed) == len(_landed(lake, rf3_topic)) == 1500, sink_out[-2000:]

    # The last node missed 500 events: it comes back, catches up, and `broker status` says so.
    code, status = _status(cluster)
    assert code == 0 and [n["state"] for n in status["nodes"]].count("down") == 1
    assert status["partitions"]["under_replicated"] >= 3  # at least this topic's three
    assert _run("broker", "start", "--node", str(down[1]), *data).returncode == 0
    wait_isr(cluster.local_bootstrap, rf3_topic, NODES)  # caught up: back in every partition's ISR
    deadline = time.monotonic() + 60
    while True:  # the offsets topic's partitions catch up too
        code, status = _status(cluster)
        if status["partitions"]["under_replicated"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert code == 0
    assert [n["state"] for n in status["nodes"]] == ["up"] * NODES
    assert status["partitions"]["under_replicated"] == 0 and status["partitions"]["offline"] == 0
    quorum = status["quorum"]
    assert quorum["error"] is None and quorum["voters"] == [1, 2, 3] and quorum["leader_id"] in (1, 2, 3)
    text = _run("broker", "status", *data).stdout
    assert text.startswith("up: ") and "3 of 3 nodes up" in text, text
    assert "under-replicated 0, offline 0" in text
