"""Errors of the lake stage: object stores that cannot be reached or written."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class LakeError(EventlakeError):
    """The lake (local folder or S3) could not be opened, read or written."""

    retriable = True


class UnsupportedLake(LakeError):
    """A lake URI whose scheme no backend handles."""

    retriable = False
