"""Breaks in a partition's offsets, found and handled, never passed over in silence.

Two ways the offsets under the ledger can break:

- **reset**: the topic was deleted and recreated. Its offsets restart at 0, below the ledger
  (the broker's end offset is lower than the ledger's next offset), or its Kafka topic id
  changed (recreated and already refilled past the ledger, which offsets alone cannot tell).
- **gap**: the log start moved past the ledger: retention deleted offsets before they landed.

Each break is logged as a warning, recorded in the catalog (`offset_events`, which `status`
and the dashboard show), counted in /metrics, then handled by `sink.on_reset`:

- `fail` (default): the sink stops with one line that says what happened and what to do.
- `resume-from-start`: a gap is recorded in the ledger as an entry with no rows (Kafka no
  longer has those offsets) and landing continues at the log start; a recreated topic begins a
  new *incarnation*, landed from its first offset. Its ledger entries and file names carry
  `<topic>~<n>` so they never collide with the old topic's, whose rows stay in the table.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Literal

from eventlake.catalog import CatalogStore, OffsetEvent

log = logging.getLogger(__name__)

BreakKind = Literal["gap", "reset"]


@dataclass(frozen=True)
class OffsetBreak:
    topic: str
    partition: int
    kind: BreakKind
    first: int | None  # gap: first offset lost; reset: the ledger's next offset in the old topic
    last: int | None  # gap: last offset lost; reset: the new topic's end offset
    detail: str

    @property
    def lost(self) -> int:
        return (
            (self.last - self.first + 1)
            if self.kind == "gap" and self.first is not None and self.last is not None
            else 0
        )


def classify(topic: str, partition: int, next_offset: int | None, low: int, high: int) -> OffsetBreak | None:
    """The break between the ledger's next offset and the partition's log [low, high), if any."""
    if next_offset is None or next_offset < 0:
        return None
    if high < next_offset:
        return OffsetBreak(
            topic,
            partition,
            "reset",
            next_offset,
            high,
            f"{topic}[{partition}] ends at offset {high}, below the ledger's {next_offset}: "
            "the topic was deleted and recreated",
        )
    if low > next_offset:
        return OffsetBreak(
            topic,
            partition,
            "gap",
            next_offset,
            low - 1,
            f"{topic}[{partition}] offsets {next_offset}..{low - 1} ({low - next_offset:,}) were "
            "deleted by retention before they landed",
        )
    return None


def recreated(topic: str, partition: int, old_id: str, new_id: str) -> OffsetBreak:
    return OffsetBreak(
        topic, partition, "reset", None, None, f"{topic} was deleted and recreated (topic id {old_id} is now {new_id})"
    )


def ledger_topic(topic: str, incarnation: int) -> str:
    """The name the ledger and file names use: the topic, then `~n` from its first recreation on."""
    return topic if incarnation == 0 else f"{topic}~{incarnation}"


def record(store: CatalogStore, brk: OffsetBreak, incarnation: int, action: str) -> None:
    log.warning(
        "OFFSET %s: %s; %s",
        brk.kind.upper(),
        brk.detail,
        "stopping (sink.on_reset = fail)" if action == "stopped" else "resuming from the log start",
    )
    store.record_offset_event(
        OffsetEvent(
            brk.topic, brk.partition, brk.kind, brk.first, brk.last, incarnation, action, brk.detail, time.time()
        )
    )


def fail_message(brk: OffsetBreak) -> tuple[str, str]:
    """The one line a stopping sink prints, and its hint."""
    if brk.kind == "gap":
        return (
            f"{brk.detail}; nothing was skipped silently",
            "raise the topic's retention, then run with --on-reset resume-from-start to record the gap and "
            "go on (status shows it)",
        )
    return (
        f"{brk.detail}; nothing of the new topic was landed",
        "run with --on-reset resume-from-start to land the new topic from its start (the old rows stay)",
    )


class TopicIds:
    """Kafka topic ids (KIP-516) through one admin client: a recreated topic has a new id."""

    def __init__(self, conf: dict[str, Any]) -> None:
        from confluent_kafka.admin import AdminClient

        self._admin = AdminClient(conf)

    def get(self, topics: list[str], timeout_s: float) -> dict[str, str]:
        """Ids of the topics that exist and answered; {} when the broker does not answer."""
        return _describe(self._admin, topics, timeout_s)


def _describe(admin: Any, topics: list[str], timeout_s: float) -> dict[str, str]:
    from confluent_kafka import KafkaException, TopicCollection

    ids: dict[str, str] = {}
    try:
        futures = admin.describe_topics(TopicCollection(topics), request_timeout=timeout_s)
    except (KafkaException, ValueError):
        return ids
    for name, future in futures.items():
        try:
            ids[name] = str(future.result(timeout=timeout_s).topic_id)
        except Exception:  # gone, or no answer: nothing to compare this time
            continue
    return ids
