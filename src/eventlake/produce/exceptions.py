"""Errors of the produce stage: sources that cannot be read, options that do not fit, strict mode."""

from __future__ import annotations

from eventlake.errors import EventlakeError, UsageError
from eventlake.produce.report import ProduceReport


class ProduceError(EventlakeError):
    """Producing could not start or had to stop."""


class SourceError(ProduceError):
    """A source that cannot be opened: missing file, unknown scheme, unreadable format."""

    http_status = 400


class BadRowError(ProduceError):
    """--strict: the first malformed row stops the run (nothing after it is sent).

    `report` tells what was delivered before it."""

    http_status = 400

    report: ProduceReport | None = None


class ProducerFailed(ProduceError):
    """The Kafka producer hit a fatal error (for example an idempotence violation)."""


class ResumeRefused(ProduceError):
    """--exactly-once: the file is not the one the last committed progress describes."""

    http_status = 409


class ProgressUnavailable(ProduceError):
    """--exactly-once: the progress topic could not be read (or created) in time."""


class ExactlyOnceFailed(ProducerFailed):
    """--exactly-once: a transaction could not be committed (aborted, fenced); the next run resumes."""


class BadOptions(UsageError):
    """Produce options that contradict each other (--rate with --speed, --speed without --time-field)."""
