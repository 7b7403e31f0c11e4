"""Checks commands make before they open anything (kept light: no DuckDB import)."""

from __future__ import annotations

from eventlake.catalog.store import local_lake_path
from eventlake.config import Settings
from eventlake.query.exceptions import QueryError


def require_lake(settings: Settings) -> None:
    """For commands that read a lake: a local lake folder that does not exist is a typo, not an empty lake."""
    folder = local_lake_path(settings.lake)
    if folder is not None and not folder.is_dir():
        raise QueryError(
            f"no lake at {folder}", hint="pass --lake with the folder `eventlake sink` or `eventlake crawl` used"
        )
