"""Raw Kafka values -> one Arrow table, with each record that cannot land set aside alone.

`decode_batch` is what a flush calls: the values of one partition's batch, their Kafka
timestamps and the sink settings in; the rows, the widened schema, each row's event time
and the rejected records (batch position and reason) out. A record is rejected alone,
never its batch: the fast path (fastpath.py) parses a whole batch in C++ when nothing
looks wrong; otherwise the careful path (careful.py) decides record by record, with the
same typing rule (jsontypes.py) and naming rule (names.py). After decoding, rows whose
event time is outside the window (`sink.event_time_min` .. now + `sink.event_time_max_ahead_s`)
are rejected too: such a time would make a folder like dt=9999-12-31.

What is refused (each goes to the DLQ with a `reason` header): no value (a tombstone);
more than max_record_bytes; not JSON (incl. invalid UTF-8, a BOM, NaN/Infinity, nesting
beyond orjson's 1024 levels); not an object; an integer beyond int64; nesting deeper than
max_depth; an empty field name, one longer than max_name_length, or two differing only in
case; a type change the widening rules do not allow; more than max_columns fields in the
table; an event time outside the window.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from eventlake.sink.careful import careful
from eventlake.sink.fastpath import Decoded, Limits, Rejected, fast
from eventlake.sink.partitioner import describe_ms, event_times, outside

if TYPE_CHECKING:
    from eventlake.config.sink import SinkSettings

__all__ = ["Decoded", "Limits", "Rejected", "decode", "decode_batch", "limits_of"]


def limits_of(settings: SinkSettings) -> Limits:
    return Limits(
        max_record_bytes=settings.max_record_bytes,
        max_columns=settings.max_columns,
        max_name_length=settings.max_name_length,
        max_depth=settings.max_depth,
    )


def decode(values: Sequence[bytes | None], schema: pa.Schema, limits: int | Limits) -> Decoded:
    """Parse JSON objects; `schema` is the table's known schema (may be empty).

    `limits` may be max_record_bytes alone (the other limits at their defaults).
    """
    lim = limits if isinstance(limits, Limits) else Limits(max_record_bytes=limits)
    if not values:
        return Decoded(pa.table({f.name: pa.nulls(0, f.type) for f in schema}, schema=schema), schema)
    d = fast(values, schema, lim)
    return d if d is not None else careful(values, schema, lim)


def decode_batch(
    values: Sequence[bytes | None],
    kafka_ms: np.ndarray,
    schema: pa.Schema,
    settings: SinkSettings,
    now: float | None = None,
) -> Decoded:
    """`decode`, then event times: rows outside the window are rejected; `times_ms` holds the rest's."""
    d = decode(values, schema, limits_of(settings))
    kafka_ms = np.asarray(kafka_ms, dtype=np.int64)
    stamps = kafka_ms if d.accepted is None else kafka_ms[np.asarray(d.accepted, dtype=np.int64)]
    times, from_field = event_times(d.table, stamps, settings.time_field)
    low = settings.event_time_min.timestamp() * 1000.0
    high = ((time.time() if now is None else now) + settings.event_time_max_ahead_s) * 1000.0
    bad = outside(times, low, high)
    if bad.any():
        positions = d.accepted if d.accepted is not None else list(range(len(values)))
        window = f"{describe_ms(low)} .. {describe_ms(high)}"
        rejected = list(d.rejected)
        for row in np.flatnonzero(bad).tolist():
            source = f"field {settings.time_field}" if from_field[row] else "the Kafka timestamp"
            rejected.append(
                Rejected(
                    positions[row],
                    f"event time {describe_ms(times[row])} (from {source}) is outside the window {window}",
                )
            )
        keep = np.flatnonzero(~bad)
        d = Decoded(
            d.table.take(pa.array(keep)),
            d.schema,
            [positions[i] for i in keep.tolist()],
            sorted(rejected, key=lambda r: r.index),
        )
        times = times[keep]
    d.times_ms = times.astype(np.int64)
    return d
