"""Errors of the produce stage: sources that cannot be read, options that do not fit, strict mode."""

from __future__ import annotations

from eventlake.errors import EventlakeError, UsageError
from eventlake.produce.report import ProduceReport


class ProduceError(EventlakeError):
    """Producing could not start or had to stop."""


class SourceError(ProduceError):
    """A source that cannot be opened: missing file, unknown scheme, unreadable format."""


class TopicMissing(ProduceError):
    """The target topic does not exist and --create-topic was not given."""


class BadRowError(ProduceError):
    """--strict: the first malformed row stops the run (nothing after it is sent).

    `report` tells what was delivered before it."""

    report: ProduceReport | None = None


class ProducerFailed(ProduceError):
    """The Kafka producer hit a fatal error (for example an idempotence violation)."""


class BadOptions(UsageError):
    """Produce options that contradict each other (--rate with --speed, --speed without --time-field)."""
