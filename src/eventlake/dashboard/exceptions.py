"""Errors of the dashboard stage: each one line that says what to do."""

from __future__ import annotations

from eventlake.errors import EventlakeError, UsageError

# How to make a good token; every token error says it.
MAKE_TOKEN = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"


class DashboardError(EventlakeError):
    """The dashboard could not start or serve a request (500 unless a subclass says otherwise)."""


class InsecureBind(DashboardError):
    """Binding a non-loopback address without an access token."""


class WeakToken(DashboardError):
    """An access token too short, too repetitive or with characters outside printable ASCII."""

    def __init__(self, message: str) -> None:
        super().__init__(message, hint=MAKE_TOKEN)


class TokenFileError(DashboardError):
    """A token file that is missing, empty, or readable by other users."""


class TokenOnCommandLine(DashboardError, UsageError):
    """`--token` was given: a command line is visible to every user in `ps` (exit 2)."""


class DashboardSpecError(DashboardError):
    """A dashboard file (TOML/YAML) that does not describe a valid dashboard.

    500: the file is on the server; the HTTP caller cannot fix it."""


class DashboardNotFound(DashboardError):
    """No dashboard with that name."""

    http_status = 404


class PanelNotFound(DashboardError):
    """No panel with that id on the dashboard."""

    http_status = 404


class BadParameter(DashboardError):
    """A parameter value that does not fit its declared type, bounds or choices."""

    http_status = 400


class RequestTooLarge(DashboardError):
    """A request body over `dashboard.max_request_bytes`."""

    http_status = 413
