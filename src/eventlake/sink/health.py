"""The sink's read-model: per topic and partition, what has landed and how far behind it is.

A pure function of the catalog (the ledger, topic incarnations, offset breaks) and Kafka's
watermarks: `eventlake status` renders it as a table or JSON, the dashboard as a page. It never
prints. Every partition of every topic a sink has started on is listed, landed or not, and each
has a `state`: `OK`, `GAP n` (n offsets Kafka deleted before they landed, recorded), or
`RESET`/`GAP n` with `stopped` when a break stopped the sink (see sink/offsets.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from eventlake.catalog import CatalogStore, OffsetEvent
from eventlake.sink.offsets import ledger_topic

# Rows/s is measured over the ledger entries of this last window.
RATE_WINDOW_S = 60.0

Watermarks = Callable[[str, list[int]], dict[int, tuple[int, int]]]
Partitions = Callable[[str], list[int]]  # a topic's partition ids, from the broker


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
    freshness_s: float | None  # now minus the newest event time landed (never negative)
    state: str = "OK"  # OK | GAP n | RESET, "(stopped)" when that break stopped the sink

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TopicHealth:
    topic: str
    table: str
    partitions: list[PartitionHealth]
    dlq: int
    incarnation: int = 0  # how many times the topic was deleted and recreated under the sink

    @property
    def lag(self) -> int | None:
        lags = [p.lag for p in self.partitions]
        return None if any(lag is None for lag in lags) else sum(lag for lag in lags if lag is not None)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "table": self.table,
            "dlq": self.dlq,
            "lag": self.lag,
            "rows": self.rows,
            "incarnation": self.incarnation,
            "partitions": [p.as_dict() for p in self.partitions],
        }


def sink_health(
    store: CatalogStore,
    watermarks: Watermarks | None = None,
    now: float | None = None,
    partitions: Partitions | None = None,
) -> list[TopicHealth]:
    """Health of every topic a sink has started on. `watermarks(topic, partitions)` -> {p: (low, high)};
    `partitions(topic)` -> the broker's partition ids, so partitions that never landed show too."""
    now = time.time() if now is None else now
    # Aggregated by SQLite: a long-running pipeline has hundreds of thousands of ledger entries.
    summary = {(row["topic"], row["partition"]): row for row in store.ledger_summary(recent_since=now - RATE_WINDOW_S)}
    events: dict[str, list[OffsetEvent]] = {}
    for event in store.offset_events():
        events.setdefault(event.topic, []).append(event)
    names = {_real_topic(t) for t, _ in summary} | set(store.incarnation_topics()) | set(events)
    out = []
    for topic in sorted(names):
        incarnation = store.incarnation(topic)[0]
        current = ledger_topic(topic, incarnation)
        landed = sorted(p for t, p in summary if t == current)
        parts = landed
        if partitions is not None:
            try:
                parts = sorted(set(landed) | set(partitions(topic)))
            except Exception:  # no broker: the landed partitions still show
                parts = landed
        marks: dict[int, tuple[int, int]] = {}
        if watermarks is not None and parts:
            try:
                marks = watermarks(topic, parts)
            except Exception:  # an unreachable broker leaves lag unknown, the rest still shows
                marks = {}
        tables = [row["table"] for (t, _p), row in summary.items() if _real_topic(t) == topic]
        table = tables[-1] if tables else ""
        rows = [
            _partition(
                topic,
                p,
                summary.get((current, p)),
                marks.get(p),
                table,
                now,
                [e for e in events.get(topic, []) if e.partition == p and e.incarnation >= incarnation],
            )
            for p in parts
        ]
        dlq = sum(store.dlq_count(ledger_topic(topic, n)) for n in range(incarnation + 1))
        out.append(TopicHealth(topic, table, rows, dlq, incarnation))
    return out


def _partition(
    topic: str,
    p: int,
    a: dict[str, Any] | None,
    mark: tuple[int, int] | None,
    table: str,
    now: float,
    events: list[OffsetEvent],
) -> PartitionHealth:
    low, high = mark if mark is not None else (None, None)
    # Not landed yet: it starts at the log start, so all of the log is lag.
    nxt = a["next_offset"] if a else (low if low is not None else 0)
    max_t = a["max_event_time"] if a else None
    return PartitionHealth(
        topic=topic,
        partition=p,
        table=table,
        next_offset=nxt,
        high_watermark=high,
        lag=max(0, high - nxt) if high is not None else None,
        rows=a["rows"] if a else 0,
        files=a["files"] if a else 0,
        bytes=a["bytes"] if a else 0,
        dlq=a["dlq"] if a else 0,
        rows_per_s=round(a["recent_rows"] / RATE_WINDOW_S, 1) if a else 0.0,
        last_flush_at=a["last_commit"] if a else None,
        freshness_s=round(max(0.0, now - max_t), 3) if max_t else None,
        state=_state(events, a["last_commit"] if a else None),
    )


def _state(events: list[OffsetEvent], last_commit: float | None) -> str:
    """What the partition's recorded offset breaks mean now."""
    lost = sum(
        (e.last_offset or 0) - (e.first_offset or 0) + 1 for e in events if e.kind == "gap" and e.action == "resumed"
    )
    stopped = [e for e in events if e.action == "stopped" and (last_commit is None or e.detected_at > last_commit)]
    if stopped:
        e = stopped[-1]
        kind = "RESET" if e.kind == "reset" else f"GAP {(e.last_offset or 0) - (e.first_offset or 0) + 1}"
        return f"{kind} (stopped)"
    return f"GAP {lost}" if lost else "OK"


def _real_topic(name: str) -> str:
    """`stock-ticks~2` (the ledger's name for an incarnation) -> `stock-ticks`."""
    head, sep, tail = name.rpartition("~")
    return head if sep and tail.isdigit() else name
