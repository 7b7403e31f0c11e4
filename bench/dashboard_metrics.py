"""The dashboard case's arithmetic (pure): old ticks to pre-land, Server-Sent Events parsing,
the newest event a panel shows, DuckDB's count of files read, and which partitions a panel's
window needs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import count, islice
from typing import Any

from bench.latency import ts_to_epoch_ms
from bench.peers.ticks import ticks

_FILES_READ = re.compile(r"Total Files Read:\s*(\d+)")


def old_ticks(n: int, start: float, end: float, seed: int = 7) -> Iterator[dict[str, Any]]:
    """n ticks (the shape of `synthetic:ticks`) with `ts` evenly spread from `start` to `end` (epoch s)."""
    if n <= 0:
        return iter(())
    step = (end - start) / max(n - 1, 1)
    stamps = (start + i * step for i in count())
    return islice(ticks(seed=seed, clock=lambda: next(stamps)), n)


def sse_events(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, JSON data) of each Server-Sent Event; comment lines (keep-alives) give ("heartbeat", {})."""
    event = "message"
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            yield event, json.loads(line[5:].strip())
            event = "message"
        elif line.startswith(":"):
            yield "heartbeat", {}


def newest_shown(columns: Sequence[str], rows: Sequence[Sequence[Any]], column: str) -> float | None:
    """The newest time (epoch s) in `column` of a panel's rows; None when the panel shows none."""
    if column not in columns:
        return None
    i = list(columns).index(column)
    stamps = [ts_to_epoch_ms(r[i]) / 1000.0 for r in rows if r[i] is not None]
    return max(stamps, default=None)


def newest_landed(summary: Iterable[Mapping[str, Any]], topic: str) -> float | None:
    """The newest event time (epoch s) landed for `topic`, from the catalog's `ledger_summary` rows."""
    times = [
        float(r["max_event_time"]) for r in summary if r.get("topic") == topic and r.get("max_event_time") is not None
    ]
    return max(times, default=None)


def files_read(plan: str) -> list[int]:
    """Files each table scan opened, from DuckDB's EXPLAIN ANALYZE text ("Total Files Read: N" per scan)."""
    return [int(n) for n in _FILES_READ.findall(plan)]


def in_window(partition: Mapping[str, str], window_start: float) -> bool:
    """Whether a dt/hour partition is one a panel's `{recent_partitions}` filter keeps for this window start."""
    start = datetime.fromtimestamp(window_start, UTC)
    day, hour = start.strftime("%Y-%m-%d"), start.strftime("%H")
    dt, hr = partition.get("dt", ""), partition.get("hour", "")
    return dt > day or (dt == day and hr >= hour)
