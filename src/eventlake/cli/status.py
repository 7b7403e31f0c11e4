"""`eventlake status`: the Kafka cluster's health, then per topic and partition, lag, rate,
freshness, files and DLQ counts."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.cli import output

if TYPE_CHECKING:
    from eventlake.broker.health import ClusterHealth
    from eventlake.broker.health import PartitionHealth as ClusterPartition
    from eventlake.broker.health import TopicHealth as ClusterTopic
from eventlake.cli.common import BootstrapOpt, CatalogOpt, ConfigOpt, LakeOpt, settings


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        ctx: typer.Context,
        lake: LakeOpt = None,
        fmt: Annotated[output.Format, typer.Option("--format", help="table or json")] = output.Format.table,
        catalog: CatalogOpt = None,
        cluster_only: Annotated[
            bool,
            typer.Option(
                "--cluster", help="Only the Kafka cluster's health (JSON: one object), e.g. for a monitoring check."
            ),
        ] = False,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Show the Kafka cluster's health, what the sink has landed and how far behind Kafka it is."""
        s = settings(ctx, config, bootstrap_servers=bootstrap_servers, lake=lake, catalog=catalog)
        from eventlake.broker import TopicAdmin
        from eventlake.broker.health import cluster_health
        from eventlake.catalog import open_catalog
        from eventlake.sink import sink_health

        timeout = min(5.0, s.kafka.connect_timeout_s)
        cluster = cluster_health(s.bootstrap_servers, s.kafka, timeout_s=timeout)
        if cluster_only:
            if fmt is output.Format.json:
                output.print_json(cluster.as_dict())
            else:
                _print_cluster(cluster, fmt)
            return
        admin = TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=timeout)

        def partitions(topic: str) -> list[int]:
            return [p.partition for p in admin.describe(topic).partitions]

        from eventlake.catalog.maintain import maintenance_status

        with open_catalog(s) as store:
            # An unreachable cluster was found out once above: the sink figures show without offsets
            # instead of every topic waiting for the same time-out again.
            reachable = cluster.reachable
            topics = sink_health(
                store, admin.offsets if reachable else None, partitions=partitions if reachable else None
            )
            maint = maintenance_status(store, s.maintenance)
        by_topic = {t.name: t for t in cluster.topics}
        if fmt is output.Format.json:
            # Each topic gains its table's maintenance figures (files, small files, last compaction and pass)
            # and its replication health in Kafka (`kafka`: null when the cluster did not answer).
            by_table = {m["table"]: m for m in maint["tables"]}
            output.print_json(
                [
                    {
                        **t.as_dict(),
                        "maintenance": {**by_table.get(t.table, {}), "last_pass_at": maint["last_pass_at"]},
                        "kafka": _topic_kafka(by_topic.get(t.topic), cluster),
                    }
                    for t in topics
                ]
            )
            return
        _print_cluster(cluster, fmt)
        if not topics:
            output.info("nothing landed yet: run `eventlake sink TOPIC` first")
            return
        now = time.time()
        rows = []
        for t in topics:
            for p in t.partitions:
                rows.append(
                    (
                        p.topic,
                        p.partition,
                        _opt(p.lag),
                        p.rows,
                        f"{p.rows_per_s:g}",
                        _age(p.last_flush_at, now),
                        _secs(p.freshness_s),
                        p.files,
                        _size(p.bytes),
                        p.dlq,
                        p.state,
                    )
                )
        output.print_rows(
            ["topic", "part", "lag", "rows", "rows/s", "flushed", "fresh", "files", "size", "dlq", "state"],
            rows,
            fmt,
            title="sink status ("
            + ", ".join(
                f"{t.topic} -> {t.table}" + (f" (recreated {t.incarnation}x)" if t.incarnation else "") for t in topics
            )
            + ")",
        )
        _print_maintenance(maint, now, fmt)


def _topic_kafka(topic: ClusterTopic | None, cluster: ClusterHealth) -> dict[str, object] | None:
    if topic is None:
        return None
    return {
        "cluster_state": cluster.state,
        "brokers": len(cluster.brokers),
        "replication_factor": topic.replication_factor,
        "min_insync_replicas": topic.min_insync,
        "writable_acks_all": topic.writable,
        "under_replicated": topic.under_replicated,
        "offline": topic.offline,
    }


def _yes_no(value: bool | None) -> str:
    return "unknown" if value is None else "yes" if value else "NO"


def _print_cluster(cluster: ClusterHealth, fmt: output.Format) -> None:
    """One table: brokers up, controller, under-replicated and offline partitions, acks=all writability."""
    title = f"kafka cluster at {cluster.bootstrap_servers}: {cluster.state}"
    if not cluster.reachable:
        output.print_rows(["state", "reason"], [(cluster.state, cluster.error or "")], fmt, title=title)
        return
    missing = f" (down: {','.join(map(str, cluster.missing_brokers))})" if cluster.missing_brokers else ""
    writes = "yes, every topic" if not cluster.not_writable else "NO for " + ", ".join(cluster.not_writable)
    if cluster.not_writable == [] and any(t.writable is None for t in cluster.topics):
        writes = "yes where known (min.insync.replicas unreadable for some topics)"
    brokers = ", ".join(f"{b.id}@{b.address}" for b in cluster.brokers)
    rows = [
        ("brokers up", f"{len(cluster.brokers)}: {brokers}{missing}"),
        ("controller (as reported)", "?" if cluster.controller_id is None else cluster.controller_id),
        ("partitions", len(cluster.partitions)),
        ("under-replicated", _partitions(cluster.under_replicated)),
        ("offline (no leader)", _partitions(cluster.offline)),
        ("acks=all writes", writes),
    ]
    output.print_rows(["", "kafka"], rows, fmt, title=title)


def _partitions(parts: list[ClusterPartition]) -> str:
    """How many, and which: per topic (your topics before Kafka's internal ones), partition ids."""
    if not parts:
        return "0"
    by_topic: dict[str, list[int]] = {}
    for p in parts:
        by_topic.setdefault(p.topic, []).append(p.partition)
    names = sorted(by_topic, key=lambda n: (n.startswith("__"), n))
    shown = [
        f"{n} {','.join(map(str, by_topic[n]))}" if len(by_topic[n]) <= 6 else f"{n} ({len(by_topic[n])} partitions)"
        for n in names[:6]
    ]
    return f"{len(parts)}: " + "; ".join(shown) + ("; ..." if len(names) > 6 else "")


def _print_maintenance(maint: dict[str, object], now: float, fmt: output.Format) -> None:
    """Files per table, the share of small ones (what compaction can still merge), and when maintenance ran."""
    tables = maint["tables"]
    assert isinstance(tables, list)
    last = maint["last_pass_at"]
    ran = _age(last, now) if isinstance(last, float) else "never"
    state = "on in every sink" if maint["enabled"] else "off in sinks (run `eventlake maintain`)"
    output.print_rows(
        ["table", "files", "size", "small files", "small share", "compacted", "retention"],
        [
            (
                t["table"],
                t["files"],
                _size(t["bytes"]),
                t["small_files"],
                f"{100 * t['small_share']:.0f}%",
                _age(t["last_compacted_at"], now) or "never",
                t["retention"] or "off",
            )
            for t in tables
        ],
        fmt,
        title=f"maintenance ({state}; last pass {ran}; small = under {maint['small_below_mb']} MB)",
    )


def _opt(value: object) -> str:
    return "?" if value is None else str(value)


def _age(ts: float | None, now: float) -> str:
    return "" if ts is None else f"{_secs(max(0.0, now - ts))} ago"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _secs(value: float | None) -> str:
    if value is None:
        return ""
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.0f}m"
    if value < 172800:
        return f"{value / 3600:.0f}h"
    return f"{value / 86400:.0f}d"
