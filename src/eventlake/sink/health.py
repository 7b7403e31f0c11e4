"""The sink's read-model: per topic and partition, what has landed and how far behind it is.

A pure function of the catalog (the ledger) and Kafka's high watermarks: `eventlake status`
renders it as a table or JSON, the dashboard as a page. It never prints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from eventlake.catalog import CatalogStore

# Rows/s is measured over the ledger entries of this last window.
RATE_WINDOW_S = 60.0

Watermarks = Callable[[str, list[int]], dict[int, tuple[int, int]]]


@dataclass(frozen=True)
class PartitionHealth:
    topic: str
    partition: int
    table: str
    next_offset: int  # where the ledger stands
    high_watermark: int | None  # None when Kafka was not asked or did not answer
    lag: int | None
    rows: int
    files: int
    bytes: int
    dlq: int
    rows_per_s: float
    last_flush_at: float | None
    freshness_s: float | None  # now minus the newest event time landed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TopicHealth:
    topic: str
    table: str
    partitions: list[PartitionHealth]
    dlq: int

    @property
    def lag(self) -> int | None:
        lags = [p.lag for p in self.partitions]
        return None if any(lag is None for lag in lags) else sum(lag for lag in lags if lag is not None)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "table": self.table, "dlq": self.dlq, "lag": self.lag, "rows": self.rows,
                "partitions": [p.as_dict() for p in self.partitions]}


def sink_health(store: CatalogStore, watermarks: Watermarks | None = None,
                now: float | None = None) -> list[TopicHealth]:
    """Health of every topic the ledger knows. `watermarks(topic, partitions)` -> {p: (low, high)}."""
    now = time.time() if now is None else now
    # Aggregated by SQLite: a long-running pipeline has hundreds of thousands of ledger entries.
    acc: dict[tuple[str, int], dict[str, Any]] = {}
    tables: dict[str, str] = {}
    files: dict[tuple[str, int], int] = {}
    for row in store.ledger_summary(recent_since=now - RATE_WINDOW_S):
        key = (row["topic"], row["partition"])
        acc[key] = {"next": row["next_offset"], "rows": row["rows"], "bytes": row["bytes"], "dlq": row["dlq"],
                    "recent": row["recent_rows"], "last": row["last_commit"], "max_t": row["max_event_time"]}
        files[key] = row["files"]
        tables[row["topic"]] = row["table"]
    out = []
    for topic in sorted({t for t, _ in acc}):
        parts = sorted(p for t, p in acc if t == topic)
        marks: dict[int, tuple[int, int]] = {}
        if watermarks is not None:
            try:
                marks = watermarks(topic, parts)
            except Exception:  # an unreachable broker leaves lag unknown, the rest still shows
                marks = {}
        rows = []
        for p in parts:
            a = acc[(topic, p)]
            high = marks[p][1] if p in marks else None
            rows.append(PartitionHealth(
                topic=topic, partition=p, table=tables[topic], next_offset=a["next"], high_watermark=high,
                lag=max(0, high - a["next"]) if high is not None else None, rows=a["rows"],
                files=files.get((topic, p), 0),
                bytes=a["bytes"], dlq=a["dlq"], rows_per_s=round(a["recent"] / RATE_WINDOW_S, 1),
                last_flush_at=a["last"], freshness_s=round(now - a["max_t"], 3) if a["max_t"] else None,
            ))
        out.append(TopicHealth(topic, tables[topic], rows, store.dlq_count(topic)))
    return out

