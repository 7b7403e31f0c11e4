"""Errors of the lake stage: object stores that cannot be reached or written."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class LakeError(EventlakeError):
    """The lake (local folder or S3) could not be opened, read or written: an outage, waited out."""

    http_status = 503
    retriable = True


class UnsupportedLake(LakeError):
    """A lake URI whose scheme no backend handles: a setting to fix, not an outage."""

    http_status = 500
    retriable = False
