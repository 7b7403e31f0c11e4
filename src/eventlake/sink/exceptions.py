"""Errors of the sink stage."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class SinkError(EventlakeError):
    """The sink cannot run (bad options, a topic that does not exist, a lake it cannot write)."""


class DeadLettersUnavailable(SinkError):
    """Kafka did not take the dead letters of a flush: the flush is retried (the sink waits)."""

    http_status = 503
    retriable = True


class TypeConflict(ValueError):
    """A field whose type cannot be widened to the table's (the record goes to the DLQ)."""
