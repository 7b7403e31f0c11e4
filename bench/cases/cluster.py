"""cluster: eventlake's produce and sink on a local 3-node cluster (RF 3, min.insync.replicas 2) against the
single node, in the same run; and how long a partition cannot be written after its leader is SIGKILLed.

Throughput: the same commands as the `secure` case (`eventlake produce ... --output json`, then
`eventlake sink ... --until-idle 0.5` draining the topic just filled), into a 3-partition topic with
one replica on the bench's own broker and with three on the cluster. Two rounds in alternating
order; best of each, so a burst of load on a shared machine does not decide the ratio.

Failover: a producer as eventlake's (acks=all, idempotent) writes one message at a time to a partition
of an RF 3 topic; its leader is SIGKILLed (twice a node that is not the active controller, twice
the one that is) and the time from the kill to the first message
acknowledged after it is measured. The killed node is started again and the partition fully
replicated before the next trial. The controller fences a silent broker after
`broker.session.timeout.ms` (5,000 ms on eventlake's clusters, heartbeats every 1,000 ms; Kafka's
default is 9,000 and 2,000), and only
then elects new leaders for its partitions: that setting governs the figure. When the killed node
was also the active controller, a controller election comes first (`controller.quorum.fetch.timeout.ms`,
1 s on eventlake's clusters, Kafka's default 2 s, + up to `controller.quorum.election.timeout.ms` 1 s).
"""

from __future__ import annotations

import secrets
import shutil
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from bench.cases import cli_pair
from bench.context import Bench
from bench.results import EVENTLAKE_CLUSTER, EVENTLAKE_SINGLE, Run
from eventlake.broker import TopicAdmin, client_config
from eventlake.broker.cluster import LocalCluster
from eventlake.broker.server import QUORUM_FETCH_TIMEOUT_MS, SESSION_TIMEOUT_MS
from eventlake.config import BrokerSettings

ROUNDS = 2
NODES = 3
FAILOVER_TRIALS = 4


@contextmanager
def bench_cluster(data_dir: Path) -> Iterator[LocalCluster]:
    """A fresh 3-node cluster on free ports (wiping `data_dir` first), always stopped."""
    from tests.fixtures_cluster import free_port_block

    if data_dir.exists():
        shutil.rmtree(data_dir)
    settings = BrokerSettings(
        nodes=NODES, port=free_port_block(2 * NODES), data_dir=data_dir, heap="512m", start_timeout_s=180
    )
    cluster = LocalCluster(settings, NODES)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def _target(bootstrap: str, rf: int) -> cli_pair.Target:
    return cli_pair.Target(
        "cluster", EVENTLAKE_CLUSTER if rf > 1 else EVENTLAKE_SINGLE, bootstrap, env={}, what=f"(RF {rf})"
    )


def _leaders(admin: TopicAdmin, topic: str) -> dict[int, tuple[int, list[int]]]:
    return {p.partition: (p.leader, p.isr) for p in admin.describe(topic).partitions}


def _wait_isr(admin: TopicAdmin, topic: str, size: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if all(leader >= 0 and len(isr) == size for leader, isr in _leaders(admin, topic).values()):
                return
        except Exception:  # a node starting: ask again
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{topic}: partitions did not get {size} in-sync replicas in {timeout_s:.0f}s")


def _failover_trial(cluster: LocalCluster, admin: TopicAdmin, topic: str, controller: bool) -> dict[str, Any]:
    """Kill the leader of a partition (led by the active controller, or by another node); seconds until
    a message sent to that partition after the kill is acknowledged."""
    quorum = cluster.status().quorum
    active = quorum.leader_id if quorum is not None else None
    leaders = {p: leader for p, (leader, _) in _leaders(admin, topic).items()}
    picked = [p for p, leader in sorted(leaders.items()) if (leader == active) == controller]
    if not picked:
        raise RuntimeError(f"no partition of {topic} is led by {'the' if controller else 'a non'}-controller node")
    partition, leader = picked[0], leaders[picked[0]]
    conf = client_config(cluster.bootstrap)
    conf.update({"acks": "all", "enable.idempotence": True, "linger.ms": 0, "message.timeout.ms": 120_000})
    producer = Producer(conf)
    acked: list[float] = []

    def delivered(err: KafkaError | None, msg: Message) -> None:
        if err is None:
            acked.append(time.monotonic())

    producer.produce(topic, b"warm-up", partition=partition, on_delivery=delivered)
    producer.flush(30)
    acked.clear()
    cluster.kill_node(leader)
    killed_at = time.monotonic()
    while not acked and time.monotonic() - killed_at < 120:
        producer.produce(topic, b"after-kill", partition=partition, on_delivery=delivered)
        producer.poll(0.05)
    producer.flush(30)
    if not acked:
        raise RuntimeError("no message was acknowledged within 120 s of the leader's kill")
    seconds = acked[0] - killed_at
    new_leader = _leaders(admin, topic)[partition][0]
    cluster.start_nodes([leader])
    _wait_isr(admin, topic, NODES)
    return {
        "seconds": round(seconds, 2),
        "killed_node": leader,
        "was_active_controller": leader == active,
        "new_leader": new_leader,
    }


def run(bench: Bench) -> None:
    events = bench.sizes.produce_events
    measured: dict[tuple[str, bool], list[Run]] = {}
    with bench_cluster(bench.work / "cluster-broker") as cluster:
        targets = {
            False: (bench.bootstrap, bench.broker.admin, 1),
            True: (cluster.bootstrap, TopicAdmin(cluster.local_bootstrap), NODES),
        }
        for round_ in range(ROUNDS):
            order = (False, True) if round_ % 2 == 0 else (True, False)
            for clustered in order:
                bootstrap, admin, rf = targets[clustered]
                label = f"{'rf3' if clustered else 'single'}-{round_}"
                topic = f"bench-cluster-{label}-{secrets.token_hex(4)}"
                target = _target(bootstrap, rf)
                admin.create(topic, partitions=3, replication_factor=rf)
                measured.setdefault(("produce", clustered), []).append(
                    cli_pair.produce(bench, target, admin, topic, events)
                )
                measured.setdefault(("sink", clustered), []).append(cli_pair.sink(bench, target, topic, events, label))
                admin.delete(topic)
        for case in ("produce", "sink"):
            for clustered in (False, True):
                bench.add(cli_pair.best(measured[(case, clustered)]))

        admin = TopicAdmin(cluster.local_bootstrap)
        topic = f"bench-failover-{secrets.token_hex(4)}"
        admin.create(topic, partitions=NODES, replication_factor=NODES)  # one partition led by each node
        _wait_isr(admin, topic, NODES)
        # A crashed leader that was also the active controller (combined nodes) waits for an election too.
        trials = [_failover_trial(cluster, admin, topic, controller=i % 2 == 1) for i in range(FAILOVER_TRIALS)]
        worst = max(t["seconds"] for t in trials)
        bench.sections["cluster_failover"] = {
            "trials": trials,
            "median_s": statistics.median(t["seconds"] for t in trials),
            "max_s": worst,
            "governed_by": f"broker.session.timeout.ms ({SESSION_TIMEOUT_MS} ms on eventlake's clusters), "
            f"+ controller.quorum.fetch.timeout.ms ({QUORUM_FETCH_TIMEOUT_MS} ms) when the leader was the controller",
        }
        bench.add(
            Run(
                "cluster_failover",
                EVENTLAKE_CLUSTER,
                len(trials),
                worst,
                note="seconds from a leader's SIGKILL to the first acks=all write acknowledged after it (worst of "
                + ", ".join(f"{t['seconds']:.1f}" for t in trials)
                + "); governed by broker.session.timeout.ms (+ controller.quorum.fetch.timeout.ms when the leader"
                + " was the active controller)",
            )
        )
