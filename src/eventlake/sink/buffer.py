"""Per-partition buffers of raw messages, filled in bulk, flushed by rows, bytes or age."""

from __future__ import annotations

import time

import numpy as np

from eventlake.sink.ledger import Batch

# What a buffered message costs beyond its value: the bytes object, list slots, offset, stamp.
_OVERHEAD = 80


class PartitionBuffer:
    """Messages of one partition since its last flush, and where the ledger stands."""

    def __init__(self, topic: str, partition: int, ledger_next: int | None) -> None:
        self.topic = topic
        self.partition = partition
        self.ledger_next = ledger_next  # first offset of the next ledger entry (None: no entry yet)
        self.position = ledger_next  # next offset we expect from Kafka
        self._chunks: list[tuple[list[bytes | None], list[int], list[int], list[bytes | None]]] = []
        self.rows = 0
        self.nbytes = 0
        self.since = 0.0  # monotonic time of the oldest buffered message

    def add(self, values: list[bytes | None], offsets: list[int], stamps: list[int], keys: list[bytes | None]) -> None:
        pos = self.position
        if pos is not None and offsets[0] < pos:
            # Messages from before our position (a re-seek, a stale fetch): never land twice.
            keep = [i for i, o in enumerate(offsets) if o >= pos]
            if not keep:
                return
            values = [values[i] for i in keep]
            offsets = [offsets[i] for i in keep]
            stamps = [stamps[i] for i in keep]
            keys = [keys[i] for i in keep]
        if not self.rows:
            self.since = time.monotonic()
        self._chunks.append((values, offsets, stamps, keys))
        self.rows += len(values)
        self.nbytes += sum(map(len, filter(None, values))) + _OVERHEAD * len(values)
        self.position = offsets[-1] + 1

    def due(self, now: float, flush_rows: int, flush_bytes: int, flush_seconds: float) -> bool:
        return self.rows > 0 and (
            self.rows >= flush_rows or self.nbytes >= flush_bytes or now - self.since >= flush_seconds
        )

    def take(self) -> Batch:
        """Everything buffered, as one batch; the buffer is empty afterwards."""
        chunks, self._chunks = self._chunks, []
        if len(chunks) == 1:
            values, offsets, stamps, keys = chunks[0]
        else:
            values = [v for c in chunks for v in c[0]]
            offsets = [o for c in chunks for o in c[1]]
            stamps = [s for c in chunks for s in c[2]]
            keys = [k for c in chunks for k in c[3]]
        self.rows = 0
        self.nbytes = 0
        return Batch(
            self.topic,
            self.partition,
            self.ledger_next,
            values,
            np.asarray(offsets, dtype=np.int64),
            np.asarray(stamps, dtype=np.int64),
            keys,
        )

    def recorded(self, next_offset: int) -> None:
        """The ledger now continues at `next_offset`."""
        self.ledger_next = next_offset

    def reset(self, ledger_next: int | None) -> None:
        """Drop what is buffered and continue from the ledger (after losing a flush)."""
        self._chunks = []
        self.rows = 0
        self.nbytes = 0
        self.ledger_next = ledger_next
        self.position = ledger_next
