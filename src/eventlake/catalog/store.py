"""Where the catalog lives, chosen from settings: the one entry point `open_catalog`.

Backends are keyed by URI scheme (`sqlite:///path`; Glue comes later). With no
`catalog` setting, a local lake keeps its catalog inside itself
(`<lake>/_eventlake/catalog.sqlite`) so that `sink`, `crawl`, `query` and
`dashboard` given the same `--lake` see the same tables; an S3 lake's catalog
defaults to `./.eventlake/catalog.sqlite`.
"""

from __future__ import annotations

from pathlib import Path

from eventlake.catalog.sqlite import SQLCatalog, SQLiteCatalog
from eventlake.config import Settings
from eventlake.errors import ConfigError

# The catalog is the product's own folder in the lake; crawlers and sweeps skip `_`-names.
CATALOG_DIR = "_eventlake"

# One store for every SQL backend (SQLite, PostgreSQL); the dialect is the only difference.
CatalogStore = SQLCatalog


def local_lake_path(lake: str) -> Path | None:
    """The folder of a local lake URI (`./lake`, `/abs`, `file:///abs`); None for object stores."""
    if lake.startswith("file://"):
        return Path(lake.removeprefix("file://"))
    if "://" in lake:
        return None
    return Path(lake)


def require_lake(settings: Settings) -> None:
    """For commands that read a lake: a local lake folder that does not exist is a typo, not an empty lake."""
    folder = local_lake_path(settings.lake)
    if folder is not None and not folder.is_dir():
        raise ConfigError(
            f"no lake at {folder}", hint="pass --lake with the folder `eventlake sink` or `eventlake crawl` used"
        )


def catalog_path(settings: Settings) -> Path:
    uri = settings.catalog
    if uri:
        if uri.startswith("sqlite:///"):
            return Path(uri.removeprefix("sqlite://"))
        if uri.startswith("sqlite://"):
            return Path(uri.removeprefix("sqlite://"))
        if "://" not in uri:
            return Path(uri)
        raise ConfigError(f"unsupported catalog {uri!r}", hint="use sqlite:///path/to/catalog.sqlite")
    local = local_lake_path(settings.lake)
    if local is not None:
        return local.resolve() / CATALOG_DIR / "catalog.sqlite"
    return Path(".eventlake/catalog.sqlite").resolve()


def open_catalog(settings: Settings) -> CatalogStore:
    return SQLiteCatalog(catalog_path(settings))
