"""Errors of the catalog stage."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class CatalogError(EventlakeError):
    """The catalog could not be opened or changed."""


class CatalogUnavailable(CatalogError):
    """The catalog file is locked, read-only, on a full disk or gone: waiting can help."""

    retriable = True


class TableNotFound(CatalogError):
    """No such table in the catalog."""


class LedgerConflict(CatalogError):
    """A flush's offsets do not follow the ledger: another writer got there first.

    The writer that gets this has lost its partition (a zombie) or replayed data
    that is already landed; it must delete the files it wrote and re-read the ledger.
    """

    retriable = True
