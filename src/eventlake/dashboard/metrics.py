"""GET /metrics: the Kafka cluster's health as Prometheus gauges (text format 0.0.4).

    eventlake_kafka_up                            1 when a broker answered, else 0
    eventlake_kafka_brokers                       brokers registered (up)
    eventlake_kafka_under_replicated_partitions   partitions with fewer in-sync replicas than replicas
    eventlake_kafka_offline_partitions            partitions without a leader
    eventlake_kafka_acks_all_writable{topic=...}  1 if a producer with acks=all can write to it now

While no broker answers, only eventlake_kafka_up (0) is given: a count of 0 brokers would read
as a fact about the cluster, when it is only that nothing was seen.
"""

from __future__ import annotations

from eventlake.broker.health import ClusterHealth

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(cluster: ClusterHealth) -> str:
    lines: list[str] = []

    def gauge(name: str, help_: str, samples: list[tuple[str, float]]) -> None:
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    gauge(
        "eventlake_kafka_up",
        "1 when a Kafka broker answered the last health check, else 0.",
        [("", float(cluster.reachable))],
    )
    if cluster.reachable:
        gauge("eventlake_kafka_brokers", "Kafka brokers registered in the cluster (up).", [("", len(cluster.brokers))])
        gauge(
            "eventlake_kafka_under_replicated_partitions",
            "Partitions with fewer in-sync replicas than replicas.",
            [("", len(cluster.under_replicated))],
        )
        gauge("eventlake_kafka_offline_partitions", "Partitions without a leader.", [("", len(cluster.offline))])
        gauge(
            "eventlake_kafka_acks_all_writable",
            "1 if a producer with acks=all can write to every partition of the topic (ISR >= min.insync.replicas).",
            [(f'{{topic="{_esc(t.name)}"}}', float(t.writable)) for t in cluster.topics if t.writable is not None],
        )
    return "\n".join(lines) + "\n"
