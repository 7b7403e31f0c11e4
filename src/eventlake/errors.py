"""The root of every error a user can cause or must act on.

Each stage has its own ``exceptions.py`` with subclasses. Two class attributes say what a
caller does with one, so no caller keeps its own list of classes:

- ``http_status``: what the dashboard answers (its one exception handler reads it). 400 the
  request is wrong, 404 the thing it names does not exist, 408 the query ran out of time,
  409 it conflicts with what is stored, 413 it is too large, 503 a part the server depends on
  (catalog, broker, lake) is down; anything else is the server's side: 500.
- ``retriable``: trying the same thing again later can succeed without anyone changing
  anything (an outage, a lock). The CLI exits 75 (EX_TEMPFAIL), the dashboard answers 503
  with ``Retry-After``, the sink waits it out. Only errors that heal by themselves are.
"""

from __future__ import annotations

from typing import ClassVar


class EventlakeError(Exception):
    """An error with a message that says what happened and what to do."""

    http_status: ClassVar[int] = 500
    retriable: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(EventlakeError):
    """Settings that cannot be loaded or do not make sense together (the server's own: 500)."""


class UsageError(EventlakeError):
    """Arguments that do not fit; the CLI exits 2 for these."""

    http_status = 400
