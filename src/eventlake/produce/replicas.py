"""Why acks=all messages timed out, when the cause is too few in-sync replicas.

librdkafka retries a write the partition leader refuses with NOT_ENOUGH_REPLICAS until the
message times out, and then reports only "Local: Message timed out". This asks the cluster,
once, after the run: the partitions whose messages timed out and whose in-sync replicas are
fewer than the topic's `min.insync.replicas` are named, so the user reads the real cause.
"""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import ConfigResource, ResourceType

from eventlake.broker.clients import admin_client
from eventlake.config.broker import KafkaClientSettings

_TIMEOUT_S = 5.0


def not_enough_replicas(
    bootstrap_servers: str, kafka: KafkaClientSettings, topic: str, partitions: set[int]
) -> str | None:
    """A one-line cause if any of `partitions` of `topic` is below its min.insync.replicas, else None."""
    if not partitions:
        return None
    try:
        admin = admin_client(bootstrap_servers, kafka)
        meta = admin.list_topics(topic, timeout=_TIMEOUT_S).topics.get(topic)
        resource = ConfigResource(ResourceType.TOPIC, topic)
        configs = admin.describe_configs([resource])[resource].result(timeout=_TIMEOUT_S)
        min_isr = int(configs["min.insync.replicas"].value)
    except (KafkaException, KeyError, ValueError):
        return None  # the cluster cannot say: keep librdkafka's own message
    if meta is None or meta.error is not None:
        return None
    short = sorted(
        (pid, len(p.isrs), len(p.replicas))
        for pid, p in meta.partitions.items()
        if pid in partitions and len(p.isrs) < min_isr
    )
    if not short:
        return None
    names = ", ".join(str(pid) for pid, _, _ in short)
    isr = min(n for _, n, _ in short)
    return (
        f"not enough in-sync replicas (NOT_ENOUGH_REPLICAS): partition{'s' if len(short) > 1 else ''} {names} "
        f"of {topic} {'have' if len(short) > 1 else 'has'} {isr} in-sync replica{'s' if isr != 1 else ''}, "
        f"fewer than min.insync.replicas {min_isr}, so acks=all writes are refused until a replica returns "
        "(see `eventlake broker status`)"
    )
