"""What one run of the sink landed: its own module so `sink --workers`' parent can add the workers'
reports up without loading Kafka's client and Arrow (the runner) before it starts them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SinkReport:
    """What one run of the sink landed."""

    topics: list[str]
    rows: int = 0
    files: int = 0
    bytes: int = 0
    dlq: int = 0
    flushes: int = 0
    conflicts: int = 0
    seconds: float = 0.0  # the whole run: start-up, joining the group, idle waits included
    busy_seconds: float = 0.0  # first message received -> last flush recorded
    busy_from: float | None = None  # time.monotonic() of the first message (one clock for all processes)
    partitions: dict[str, int] = field(default_factory=dict)  # "topic[p]" -> rows landed

    @property
    def rows_per_s(self) -> float:
        """Landing rate while there was work: rows over busy time."""
        return self.rows / self.busy_seconds if self.busy_seconds > 0 else 0.0
