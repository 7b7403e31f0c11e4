"""Errors of the dashboard stage: each one line that says what to do."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class DashboardError(EventlakeError):
    """The dashboard could not start or serve a request."""


class InsecureBind(DashboardError):
    """Binding a non-loopback address without an access token."""


class DashboardSpecError(DashboardError):
    """A dashboard file (TOML/YAML) that does not describe a valid dashboard."""


class DashboardNotFound(DashboardError):
    """No dashboard with that name."""


class PanelNotFound(DashboardError):
    """No panel with that id on the dashboard."""


class BadParameter(DashboardError):
    """A parameter value that does not fit its declared type or choices."""
