"""The pipeline page's figures, from the read-models the CLI uses.

- per topic and partition, what has landed, lag, rows/s, last flush, freshness, files, bytes
  and DLQ counts: `eventlake.sink.sink_health` (what `eventlake status` prints);
- topics and their offsets: the broker's `TopicAdmin` (what `eventlake topics` prints);
- tables: the query engine's `tables()` (what `eventlake tables` and GET /api/tables show);
- maintenance: files and small files per table, when compaction and the last pass ran
  (`catalog.maintain.maintenance_status`, the second table of `eventlake status`);
- the Kafka cluster's health: brokers up, under-replicated and offline partitions, acks=all
  writability (`broker.health.cluster_health`, the first table of `eventlake status`), also
  served as Prometheus gauges on /metrics.

The one figure no CLI command has is the produce rate: the growth of the topics' end offsets
between two looks, kept here as a short history of samples.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from eventlake.broker import TopicAdmin
from eventlake.broker.health import ClusterHealth, cluster_health
from eventlake.catalog import open_catalog
from eventlake.catalog.maintain import maintenance_status
from eventlake.config import Settings
from eventlake.errors import EventlakeError
from eventlake.sink import sink_health

# Offsets are looked up for at most this many topics per refresh (sink topics first).
MAX_TOPICS = 40
# The produce rate compares end offsets with the oldest sample at most this old.
RATE_WINDOW_S = 15.0
# The page (every 2 s) and /metrics (every scrape) share one look at the cluster this young.
CLUSTER_TTL_S = 1.5


class PipelineModel:
    def __init__(self, settings: Settings, tables: Callable[[], list[dict[str, Any]]]) -> None:
        self.settings = settings
        self.tables = tables
        self._samples: list[tuple[float, dict[str, int]]] = []
        self._lock = threading.Lock()
        self._cluster: tuple[float, ClusterHealth] | None = None
        self._cluster_lock = threading.Lock()

    def cluster(self) -> ClusterHealth:
        """The cluster's health, at most CLUSTER_TTL_S old; `unreachable` within 3 s, never an exception."""
        with self._cluster_lock:
            if self._cluster is not None and time.monotonic() - self._cluster[0] < CLUSTER_TTL_S:
                return self._cluster[1]
            health = cluster_health(
                self.settings.bootstrap_servers,
                self.settings.kafka,
                timeout_s=min(3.0, self.settings.kafka.connect_timeout_s),
            )
            self._cluster = (time.monotonic(), health)
            return health

    def overview(self) -> dict[str, Any]:
        now = time.time()
        errors: list[str] = []
        offsets: dict[str, dict[int, tuple[int, int]]] = {}
        admin = TopicAdmin(
            self.settings.bootstrap_servers,
            self.settings.kafka,
            timeout_s=min(3.0, self.settings.kafka.connect_timeout_s),
        )
        names: list[str] = []
        cluster = self.cluster()
        reachable = cluster.reachable
        if not reachable:  # found out once: no second wait for the same time-out
            errors.append(cluster.error or "no Kafka broker answered")
        else:
            try:
                names = admin.names()
            except EventlakeError as exc:
                reachable = False
                errors.append(exc.one_line())

        def watermarks(topic: str, partitions: list[int]) -> dict[int, tuple[int, int]]:
            nonlocal reachable
            if not reachable or topic not in names:  # no broker, or a topic deleted since it landed
                raise EventlakeError(f"no offsets for {topic}")
            if topic not in offsets:
                try:
                    offsets[topic] = admin.offsets(topic, partitions)
                except EventlakeError as exc:
                    reachable = False
                    errors.append(exc.one_line())
                    raise
            return offsets[topic]

        def partitions(topic: str) -> list[int]:
            if not reachable or topic not in names:
                return []
            return [p.partition for p in admin.describe(topic).partitions]

        sink: list[Any] = []
        maintenance: dict[str, Any] | None = None
        try:
            with open_catalog(self.settings) as store:
                sink = sink_health(store, watermarks, now, partitions)
                maintenance = maintenance_status(store, self.settings.maintenance)
        except EventlakeError as exc:
            errors.append(exc.one_line())
        topics = self._topics(names, sink, watermarks) if reachable else []
        tables: list[dict[str, Any]] = []
        try:
            tables = self.tables()
        except EventlakeError as exc:
            errors.append(exc.one_line())
        return {
            "generated_at": now,
            "broker": {"bootstrap_servers": self.settings.bootstrap_servers, "reachable": reachable},
            "kafka": _kafka(cluster),
            "lake": self.settings.lake,
            "summary": _summary(topics, sink, tables),
            "topics": topics,
            "sink": [t.as_dict() for t in sink],
            "tables": tables,
            "maintenance": maintenance,
            "errors": errors,
        }

    def _topics(
        self, names: list[str], sink: list[Any], watermarks: Callable[[str, list[int]], Any]
    ) -> list[dict[str, Any]]:
        by_topic = {t.topic: t for t in sink}
        ordered = [n for n in names if n in by_topic] + [n for n in names if n not in by_topic]
        counts = self._partition_counts(ordered[:MAX_TOPICS])
        out = []
        highs: dict[str, int] = {}
        for name in ordered[:MAX_TOPICS]:
            try:
                marks = watermarks(name, list(range(counts.get(name, 0))))
            except EventlakeError:
                break
            highs[name] = sum(h for _, h in marks.values())
            health = by_topic.get(name)
            out.append(
                {
                    "topic": name,
                    "partitions": [
                        {"partition": p, "log_start_offset": lo, "log_end_offset": hi, "messages": hi - lo}
                        for p, (lo, hi) in sorted(marks.items())
                    ],
                    "messages": sum(hi - lo for lo, hi in marks.values()),
                    "produce_rate": None,
                    "sink": health.as_dict() if health is not None else None,
                }
            )
        rates = self._rates(highs)
        for topic in out:
            topic["produce_rate"] = rates.get(topic["topic"])
        return out

    def _partition_counts(self, names: list[str]) -> dict[str, int]:
        from eventlake.broker.clients import admin_client

        client = admin_client(self.settings.bootstrap_servers, self.settings.kafka)
        try:
            meta = client.list_topics(timeout=min(3.0, self.settings.kafka.connect_timeout_s))
        except Exception:  # the client's own error type; a broker gone since names() leaves counts empty
            return {}
        return {n: len(meta.topics[n].partitions) for n in names if n in meta.topics}

    def _rates(self, highs: dict[str, int]) -> dict[str, float]:
        """Events/s produced into each topic since the oldest recent sample."""
        now = time.monotonic()
        with self._lock:
            self._samples = [s for s in self._samples if now - s[0] <= RATE_WINDOW_S]
            oldest = self._samples[0] if self._samples else None
            if not self._samples or now - self._samples[-1][0] >= 1.0:
                self._samples.append((now, highs))
        if oldest is None or now - oldest[0] < 1.0:
            return {}
        elapsed = now - oldest[0]
        return {t: round(max(0, h - oldest[1][t]) / elapsed, 1) for t, h in highs.items() if t in oldest[1]}


def _kafka(cluster: ClusterHealth) -> dict[str, Any]:
    """The cluster's summary, and per topic its replication and acks=all writability."""
    return {
        **cluster.summary(),
        "broker_nodes": [{"id": b.id, "address": b.address} for b in cluster.brokers],
        "topics": {
            t.name: {
                "replication_factor": t.replication_factor,
                "min_insync_replicas": t.min_insync,
                "writable": t.writable,
                "under_replicated": t.under_replicated,
                "offline": t.offline,
            }
            for t in cluster.topics
        },
    }


def _summary(topics: list[dict[str, Any]], sink: list[Any], tables: list[dict[str, Any]]) -> dict[str, Any]:
    parts = [p for t in sink for p in t.partitions]
    lags = [p.lag for p in parts]
    fresh = [p.freshness_s for p in parts if p.freshness_s is not None]
    rates = [t["produce_rate"] for t in topics if t["produce_rate"] is not None]
    return {
        "topics": len(topics),
        "produce_rate": round(sum(rates), 1) if rates else None,
        "sink_rate": round(sum(p.rows_per_s for p in parts), 1),
        "lag": None if not parts or any(lag is None for lag in lags) else sum(lag for lag in lags if lag is not None),
        "freshness_s": min(fresh) if fresh else None,
        "rows_landed": sum(p.rows for p in parts),
        "files": sum(p.files for p in parts),
        "bytes": sum(p.bytes for p in parts),
        "dlq": sum(t.dlq for t in sink),
        "tables": len(tables),
    }
