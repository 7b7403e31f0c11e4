"""What a produce run did: every event ends as delivered, failed, or dead-lettered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BadRow:
    """A row that could not become an event: it goes to `<topic>.dlq` with these as headers."""

    reason: str
    source: str
    line: int | None
    raw: bytes = b""

    def where(self) -> str:
        return f"{self.source} line {self.line}" if self.line is not None else self.source

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "source": self.source, "line": self.line}


@dataclass
class ProduceReport:
    """Counts of one run. `sent` counts events handed to the producer for the main topic;
    each of them ends delivered or failed, or is still in flight if a flush timed out."""

    topic: str
    source: str = ""
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    dlq: int = 0  # bad rows delivered to the DLQ topic
    dlq_failed: int = 0  # bad rows whose DLQ message itself failed
    bad_rows_total: int = 0
    seconds: float = 0.0
    expected: int | None = None  # events the run will send, when known (for an ETA)
    interrupted: bool = False
    # --exactly-once: delivered counts events in committed transactions only
    exactly_once: bool = False
    resumed_at: str | None = None  # "line 1,234" / "row 5,000": where an earlier run's commits ended
    previously_sent: int = 0  # events committed by earlier runs of the same replay
    transactions: int = 0  # committed by this run
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"

    @property
    def not_delivered(self) -> int:
        """Failed plus still in flight: anything the user cannot count on being in Kafka."""
        return self.sent - self.delivered + self.dlq_failed

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.not_delivered == 0

    def add_error(self, message: str, limit: int = 20) -> None:
        """Keep distinct error messages (the counts say how many events they hit)."""
        if message not in self.errors and len(self.errors) < limit:
            self.errors.append(message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "source": self.source,
            "sent": self.sent,
            "delivered": self.delivered,
            "failed": self.failed,
            "not_delivered": self.not_delivered,
            "dlq": self.dlq,
            "dlq_topic": self.dlq_topic,
            "dlq_failed": self.dlq_failed,
            "bad_rows_total": self.bad_rows_total,
            "seconds": round(self.seconds, 3),
            "rate": round(self.rate, 1),
            "interrupted": self.interrupted,
            "ok": self.ok,
            "exactly_once": self.exactly_once,
            "resumed_at": self.resumed_at,
            "previously_sent": self.previously_sent,
            "transactions": self.transactions,
            "notes": list(self.notes),
            "errors": list(self.errors),
            "warnings": list(self.warnings),
            "bad_rows": [b.to_dict() for b in self.bad_rows],
        }
