"""Event-to-queryable latency from a visibility timeline (pure functions).

The end-to-end case polls, every ~100 ms, how far each Kafka partition has landed
in the lake (the ledger's next offset per partition: a query started after that
moment sees the row). An event at (partition, offset) became queryable at the first
poll whose next offset for its partition exceeds its offset; its latency is that
poll's time minus the event's own timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

# A poll: (wall time in epoch seconds when the answer came back, {partition: next offset to land}).
Poll = tuple[float, Mapping[int, int]]


def ts_to_epoch_ms(value: Any) -> float:
    """An event's `ts`: epoch milliseconds (int/float; seconds if < 1e11) or an ISO-8601 string."""
    if isinstance(value, (int, float)):
        return float(value) * (1000.0 if value < 1e11 else 1.0)
    text = str(value)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000.0


def latencies_ms(
    events: Mapping[int, tuple[np.ndarray, np.ndarray]], polls: Sequence[Poll]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-event latency in ms for events that became visible, their timestamps, and how many never did.

    `events` maps partition -> (offsets ascending, event timestamps in epoch ms).
    """
    times = np.array([t for t, _ in polls], dtype=np.float64) * 1000.0
    out: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    unseen = 0
    for partition, (offsets, ts_ms) in events.items():
        if len(offsets) == 0:
            continue
        # Next offset per poll, never going backwards (a later poll cannot unsee rows).
        seen_next = (
            np.maximum.accumulate(np.array([p.get(partition, 0) for _, p in polls], dtype=np.int64))
            if polls
            else np.zeros(0, dtype=np.int64)
        )
        # First poll whose next offset > offset, i.e. next offset >= offset + 1.
        idx = np.searchsorted(seen_next, np.asarray(offsets, dtype=np.int64) + 1, side="left")
        visible = idx < len(seen_next)
        unseen += int((~visible).sum())
        seen_ts = np.asarray(ts_ms, dtype=np.float64)[visible]
        out.append(times[idx[visible]] - seen_ts)
        stamps.append(seen_ts)
    if not out:
        return np.zeros(0), np.zeros(0), unseen
    return np.concatenate(out), np.concatenate(stamps), unseen


def after_warmup(values: np.ndarray, stamps: np.ndarray, warmup_s: float) -> np.ndarray:
    """The latencies of events created `warmup_s` or more after the first event (steady state)."""
    if len(stamps) == 0:
        return values
    steady: np.ndarray = values[stamps >= stamps.min() + warmup_s * 1000.0]
    return steady


def summarize(values: np.ndarray) -> dict[str, float | None]:
    """p50/p95/p99/max in ms (None when nothing was seen)."""
    if len(values) == 0:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "p99_ms": round(float(p99), 1),
        "max_ms": round(float(values.max()), 1),
    }


def sustained_rate(events: int, first_event_ms: float, last_visible_s: float) -> float | None:
    """Events per second from the first event's timestamp to the moment the last one was queryable."""
    span = last_visible_s - first_event_ms / 1000.0
    return events / span if span > 0 else None


def last_visible_time(polls: Sequence[Poll], final: Mapping[int, int]) -> float | None:
    """The first poll time at which every partition had landed up to `final` (next offsets)."""
    for t, positions in polls:
        if all(positions.get(p, 0) >= n for p, n in final.items()):
            return t
    return None
