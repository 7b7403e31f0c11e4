"""Errors of the catalog stage."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class CatalogError(EventlakeError):
    """The catalog could not be opened or changed.

    503: the server cannot answer without its catalog. Not retriable: a catalog path that is a
    folder or a file that is not SQLite stays so until someone fixes it (no Retry-After)."""

    http_status = 503


class CatalogUnavailable(CatalogError):
    """The catalog file is locked, read-only, on a full disk or gone: waiting can help."""

    http_status = 503
    retriable = True


class TableNotFound(CatalogError):
    """No such table in the catalog."""

    http_status = 404


class LedgerConflict(CatalogError):
    """A flush's offsets do not follow the ledger: another writer got there first.

    The writer that gets this has lost its partition (a zombie) or replayed data
    that is already landed; it must delete the files it wrote and re-read the ledger.
    Not retriable: the same flush never fits the ledger again (the sink catches it itself).
    """

    http_status = 409
