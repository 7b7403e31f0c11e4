"""The health derivation on the metadata classes confluent-kafka's list_topics() returns.

The first shape is what the single-node test broker answered for a 2-partition topic (captured
with list_topics and describe_configs); the others are the same classes as a 3-node cluster
answers them with brokers down (what Kafka reports then: a down broker is no longer registered,
it leaves every ISR, and a partition whose ISR emptied has leader -1).
"""

from __future__ import annotations

from confluent_kafka import KafkaError
from confluent_kafka.admin import BrokerMetadata, ClusterMetadata, PartitionMetadata, TopicMetadata

from eventlake.broker.health import derive

BOOT = "127.0.0.1:9092"


def _metadata(
    brokers: list[int], topics: dict[str, list[tuple[int, list[int], list[int]]]], controller: int = 1
) -> ClusterMetadata:
    md = ClusterMetadata()
    md.cluster_id = "lLsU0XTyRDe6UbbvBwUfUA"  # type: ignore[assignment]  # typed None in the stubs
    md.controller_id = controller
    for i in brokers:
        b = BrokerMetadata()
        b.id, b.host, b.port = i, "127.0.0.1", 9090 + 2 * i  # type: ignore[assignment]
        md.brokers[i] = b
    for name, parts in topics.items():
        t = TopicMetadata()
        t.topic = name
        for pid, (leader, replicas, isr) in enumerate(parts):
            p = PartitionMetadata()
            p.id, p.leader, p.replicas, p.isrs = pid, leader, replicas, isr
            t.partitions[pid] = p
        md.topics[name] = t
    return md


def test_the_single_node_broker_is_healthy_with_replication_factor_1() -> None:
    # As captured: controller 1, brokers {1: 127.0.0.1:39092}, partitions 0 and 1: leader 1, [1], [1].
    md = _metadata([1], {"orders": [(1, [1], [1]), (1, [1], [1])]})
    health = derive(BOOT, md, {"orders": 1})
    assert health.state == "healthy"
    assert [b.id for b in health.brokers] == [1] and health.controller_id == 1
    assert health.under_replicated == [] and health.offline == [] and health.not_writable == []
    [topic] = health.topics
    assert topic.replication_factor == 1 and topic.writable is True
    assert health.summary()["under_replicated_partitions"] == 0


def test_one_of_three_down_under_replicates_but_acks_all_still_writes() -> None:
    md = _metadata(
        [1, 2],
        {"orders": [(1, [1, 2, 3], [1, 2]), (2, [2, 3, 1], [2, 1]), (1, [1, 2, 3], [1, 2])]},
    )
    health = derive(BOOT, md, {"orders": 2})
    assert health.state == "under-replicated"
    assert [(p.topic, p.partition) for p in health.under_replicated] == [("orders", 0), ("orders", 1), ("orders", 2)]
    assert health.missing_brokers == [3]
    assert health.topics[0].writable is True  # ISR 2 >= min.insync.replicas 2
    assert health.summary()["brokers"] == 2


def test_two_of_three_down_refuses_acks_all_writes() -> None:
    md = _metadata([1], {"orders": [(1, [1, 2, 3], [1]), (1, [3, 1, 2], [1])], "logs": [(1, [1], [1])]})
    health = derive(BOOT, md, {"orders": 2, "logs": 1})
    assert health.state == "not-writable"
    assert health.not_writable == ["orders"]  # RF 1 with min.insync 1 still writes
    orders = next(t for t in health.topics if t.name == "orders")
    assert [p.as_dict(orders.min_insync)["writable"] for p in orders.partitions] == [False, False]
    assert health.missing_brokers == [2, 3]


def test_a_partition_without_leader_is_offline_and_not_writable() -> None:
    md = _metadata([1, 2], {"orders": [(-1, [3], [3]), (1, [1, 2, 3], [1, 2])]})
    health = derive(BOOT, md, {"orders": 1})
    assert health.state == "offline"
    assert [(p.partition, p.leader) for p in health.offline] == [(0, None)]
    assert health.topics[0].writable is False
    assert health.topics[0].as_dict()["offline"] == [0]


def test_a_partition_reported_with_an_error_counts_as_offline() -> None:
    md = _metadata([1], {"orders": [(1, [1], [1])]})
    md.topics["orders"].partitions[0].error = KafkaError(KafkaError.LEADER_NOT_AVAILABLE)
    assert derive(BOOT, md, {"orders": 1}).state == "offline"


def test_an_unknown_min_insync_leaves_writability_unknown_not_true() -> None:
    md = _metadata([1, 2, 3], {"orders": [(1, [1, 2, 3], [1, 2, 3])]})
    health = derive(BOOT, md, {})
    assert health.topics[0].writable is None
    assert health.state == "healthy"  # nothing is known to be wrong


def test_min_insync_above_the_replication_factor_can_never_write() -> None:
    md = _metadata([1], {"orders": [(1, [1], [1])]})
    assert derive(BOOT, md, {"orders": 2}).not_writable == ["orders"]


def test_only_the_asked_topics_are_judged() -> None:
    md = _metadata([1], {"a": [(-1, [2], [])], "b": [(1, [1], [1])]})
    health = derive(BOOT, md, {"b": 1}, topics=["b"])
    assert [t.name for t in health.topics] == ["b"] and health.state == "healthy"


def test_a_topic_that_answered_with_an_error_and_no_partitions_is_left_out() -> None:
    md = _metadata([1], {"gone": []})
    md.topics["gone"].error = KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)
    assert derive(BOOT, md, {}).topics == ()


def test_a_registered_broker_that_refuses_connections_counts_as_down() -> None:
    # Two of three combined nodes SIGKILLed: no controller quorum, so the survivor's metadata still
    # lists broker 3 and keeps it in every ISR (as a real cluster answered); only broker 3's refused
    # connection shows it is gone. Its partitions have no leader, and RF 3 / min.insync 2 cannot write.
    md = _metadata(
        [1, 3],
        {"t3": [(3, [2, 3, 1], [1, 3]), (1, [3, 1, 2], [1, 3]), (1, [1, 2, 3], [1, 3])]},
    )
    assert derive(BOOT, md, {"t3": 2}).state == "under-replicated"  # what the frozen metadata alone says
    health = derive(BOOT, md, {"t3": 2}, silent=[3])
    assert health.state == "offline" and [b.id for b in health.brokers] == [1]
    assert health.missing_brokers == [2, 3]
    assert [(p.partition, p.leader, p.isr) for p in health.partitions] == [(0, None, (1,)), (1, 1, (1,)), (2, 1, (1,))]
    assert health.not_writable == ["t3"]
