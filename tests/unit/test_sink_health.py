"""The status read-model from a real catalog: lag, rates, freshness, files, DLQ counts."""

from __future__ import annotations

from pathlib import Path

from eventlake.catalog import CatalogStore, DataFile, LedgerEntry
from eventlake.sink import sink_health
from eventlake.sink.metrics import SinkMetrics
from eventlake.types import TableRef

REF = TableRef("default", "ticks")


def _entry(
    partition: int, first: int, last: int, at: float, dlq: int = 0, max_t: float | None = None, files: int = 1
) -> LedgerEntry:
    data = [
        DataFile(
            path=f"/lake/ticks/dt=2024-01-01/hour=00/ticks+{partition}+{first}+{last}-{i}.parquet",
            partition={"dt": "2024-01-01", "hour": "00"},
            rows=(last - first + 1 - dlq) // files,
            bytes=1000,
            topic="ticks",
            kafka_partition=partition,
            first_offset=first,
            last_offset=last,
            max_event_time=max_t,
        )
        for i in range(files)
    ]
    return LedgerEntry(
        "ticks",
        partition,
        first,
        last,
        REF,
        data,
        rows=last - first + 1 - dlq,
        dlq=dlq,
        committed_at=at,
        bytes=1000 * files,
        max_event_time=max_t,
    )


def test_health_per_partition(tmp_path: Path) -> None:
    now = 1_800_000_000.0
    with CatalogStore(tmp_path / "c.sqlite") as store:
        store.commit_flush(_entry(0, 0, 599, now - 600, max_t=now - 700))
        store.commit_flush(_entry(0, 600, 1799, now - 30, dlq=3, max_t=now - 5, files=2))
        store.commit_flush(_entry(1, 0, 99, now - 10, max_t=now - 12))
        health = sink_health(store, lambda topic, parts: {0: (0, 2000), 1: (0, 100)}, now=now)
        offline = sink_health(store, None, now=now)
    [t] = health
    assert (t.topic, t.table, t.rows, t.lag, t.dlq) == ("ticks", "default.ticks", 1897, 200, 3)
    p0, p1 = t.partitions
    assert (p0.next_offset, p0.high_watermark, p0.lag, p0.rows, p0.files, p0.bytes, p0.dlq) == (
        1800,
        2000,
        200,
        1797,
        3,
        3000,
        3,
    )
    assert p0.rows_per_s == round(1197 / 60, 1)  # only the entry of the last minute counts
    assert (p0.last_flush_at, p0.freshness_s) == (now - 30, 5.0)
    assert (p1.lag, p1.rows, p1.freshness_s) == (0, 100, 12.0)
    assert offline[0].lag is None and offline[0].partitions[0].high_watermark is None


def test_metrics_render_in_prometheus_text_format() -> None:
    class Result:
        rows, dlq, bytes, next_offset, max_event_time = 10, 1, 123, 11, None
        files = ["a"]

    m = SinkMetrics()
    m.assigned("ticks", 0, None)
    m.flushed("ticks", 0, Result(), 0.01)
    text = m.render()
    assert "# TYPE eventlake_sink_rows_total counter" in text
    assert 'eventlake_sink_rows_total{topic="ticks",partition="0"} 10' in text
    assert 'eventlake_sink_next_offset{topic="ticks",partition="0"} 11.0' in text
    assert 'eventlake_sink_assigned{topic="ticks",partition="0"} 1.0' in text
