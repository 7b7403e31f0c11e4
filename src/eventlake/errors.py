"""The root of every error a user can cause or must act on.

Each stage has its own ``exceptions.py`` with subclasses; the CLI maps any
``EventlakeError`` to one line on stderr and exit code 1.
"""

from __future__ import annotations


class EventlakeError(Exception):
    """An error with a message that says what happened and what to do.

    ``retriable`` tells callers (and users) whether trying again later can help.
    """

    retriable: bool = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(EventlakeError):
    """Settings that cannot be loaded or do not make sense together."""


class UsageError(EventlakeError):
    """Arguments that do not fit; the CLI exits 2 for these."""
