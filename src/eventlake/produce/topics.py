"""What the producer asks the broker before sending: is it there, does the topic exist, what will it refuse."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confluent_kafka import KafkaException
from confluent_kafka.admin import ConfigResource, ResourceType

from eventlake.broker import TopicAdmin, check_reachable
from eventlake.broker.clients import admin_client
from eventlake.broker.exceptions import TopicNotFound
from eventlake.errors import EventlakeError

if TYPE_CHECKING:
    from eventlake.config import Settings
    from eventlake.produce.producer import ProduceOptions

# Kafka 4's defaults: a timestamp more than an hour ahead of the broker's clock is refused; any past one is taken.
DEFAULT_AFTER_MAX_MS = 3_600_000
LONG_MAX = (1 << 63) - 1


def check_broker(settings: Settings) -> None:
    """Fail at once when nothing listens; otherwise within kafka.connect_timeout_s."""
    check_reachable(settings.bootstrap_servers, settings.kafka)


def ensure_topic(admin: TopicAdmin, topic: str, options: ProduceOptions) -> None:
    if admin.exists(topic):
        return
    if not options.create_topic:
        raise TopicNotFound(
            f"topic {topic} does not exist",
            hint=f"create it with `eventlake topics create {topic} --partitions N`, "
            "or pass --create-topic --partitions N",
        )
    admin.create(topic, partitions=options.partitions, exist_ok=True)


def retention_ms(admin: TopicAdmin, topic: str) -> int | None:
    """The topic's time retention, None when unlimited or unknown."""
    try:
        value = int(admin.configs(topic).get("retention.ms", "-1"))
    except (EventlakeError, ValueError):
        return None
    return value if value >= 0 else None


@dataclass
class TimestampLimits:
    """The message timestamps a topic accepts. The broker checks a whole batch at once: one record
    out of bounds fails every record in its batch (and aborts a transaction), so such records are
    dead-lettered before sending instead. A margin (a tenth, at most a minute) allows for the
    broker's clock running behind this machine's."""

    after_ms: int | None = DEFAULT_AFTER_MAX_MS  # None: no upper bound (LogAppendTime topics)
    before_ms: int | None = None
    latest_ok: float = 0.0  # epoch ms; refreshed from the clock when a record is out of bounds
    earliest_ok: float = 0.0

    def refresh(self) -> None:
        now = time.time() * 1000
        if self.after_ms is not None:
            self.latest_ok = now + self.after_ms - min(60_000, self.after_ms // 10)
        else:
            self.latest_ok = float(LONG_MAX)
        if self.before_ms is not None:
            self.earliest_ok = now - self.before_ms + min(60_000, self.before_ms // 10)

    def problem(self, ms: int, field: str, topic: str) -> str | None:
        """Why the broker would refuse timestamp `ms`, None if it would not."""
        if ms < 0:
            return f"field {field!r} is before 1970: Kafka cannot store it"
        self.refresh()
        if ms > self.latest_ok and self.after_ms is not None:
            ahead = (ms - time.time() * 1000) / 3_600_000
            return (
                f"field {field!r} is {ahead:,.1f} h in the future: {topic} refuses timestamps more than "
                f"{self.after_ms / 3_600_000:g} h ahead (message.timestamp.after.max.ms)"
            )
        if ms < self.earliest_ok and self.before_ms is not None:
            return (
                f"field {field!r} is older than {topic} accepts "
                f"({self.before_ms / 3_600_000:g} h, message.timestamp.before.max.ms)"
            )
        return None


def timestamp_limits(settings: Settings, topic: str) -> TimestampLimits:
    """Read the topic's message.timestamp.* settings; Kafka's defaults when they cannot be read."""
    limits = TimestampLimits()
    try:
        admin = admin_client(settings.bootstrap_servers, settings.kafka)
        res = ConfigResource(ResourceType.TOPIC, topic)
        entries = admin.describe_configs([res])[res].result(timeout=settings.kafka.connect_timeout_s)
    except (KafkaException, EventlakeError, TimeoutError):
        limits.refresh()
        return limits

    def value(name: str) -> str | None:
        entry = entries.get(name)
        return None if entry is None else entry.value

    if value("message.timestamp.type") == "LogAppendTime":  # the broker stamps messages itself
        limits.after_ms = None
    else:
        after = _int(value("message.timestamp.after.max.ms"))
        limits.after_ms = DEFAULT_AFTER_MAX_MS if after is None else (None if after >= LONG_MAX else after)
        before = _int(value("message.timestamp.before.max.ms"))
        limits.before_ms = None if before is None or before >= LONG_MAX else before
    limits.refresh()
    return limits


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
