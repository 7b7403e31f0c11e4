"""Where the catalog lives, chosen from settings: the one entry point `open_catalog`.

Backends are keyed by URI scheme: `sqlite:///path`, or `postgresql://user@host:port/db`
(catalog/postgres.py: several machines share one catalog and ledger). With no
`catalog` setting, a local lake keeps its catalog inside itself
(`<lake>/_eventlake/catalog.sqlite`) so that `sink`, `crawl`, `query` and
`dashboard` given the same `--lake` see the same tables; an S3 lake's catalog
defaults to `./.eventlake/catalog.sqlite`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from eventlake.catalog.postgres import PostgresDialect, is_postgres, redact
from eventlake.catalog.sqlite import SQLCatalog, SQLiteCatalog
from eventlake.errors import ConfigError

if TYPE_CHECKING:
    from eventlake.config.query_path import QueryConfig

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


def require_lake(settings: QueryConfig) -> None:
    """For commands that read a lake: a local lake folder that does not exist is a typo, not an empty lake."""
    folder = local_lake_path(settings.lake)
    if folder is not None and not folder.is_dir():
        raise ConfigError(
            f"no lake at {folder}", hint="pass --lake with the folder `eventlake sink` or `eventlake crawl` used"
        )


def require_catalog_lake(settings: QueryConfig) -> None:
    """For commands that read only the catalog (tables, views): the lake folder matters only when the
    catalog lives in it; a catalog on PostgreSQL is read from any folder, with no lake here."""
    if settings.catalog and is_postgres(settings.catalog):
        return
    require_lake(settings)


def catalog_path(settings: QueryConfig) -> Path:
    uri = settings.catalog
    if uri:
        if uri.startswith("sqlite:///"):
            return Path(uri.removeprefix("sqlite://"))
        if uri.startswith("sqlite://"):
            return Path(uri.removeprefix("sqlite://"))
        if "://" not in uri:
            return Path(uri)
        raise ConfigError(
            f"unsupported catalog {redact(uri)!r}",
            hint="use sqlite:///path/to/catalog.sqlite or postgresql://USER@HOST:PORT/DATABASE",
        )
    local = local_lake_path(settings.lake)
    if local is not None:
        return local.resolve() / CATALOG_DIR / "catalog.sqlite"
    return Path(".eventlake/catalog.sqlite").resolve()


def open_catalog(settings: QueryConfig) -> CatalogStore:
    if settings.catalog and is_postgres(settings.catalog):
        return open_postgres(settings.catalog, settings)
    return SQLiteCatalog(catalog_path(settings))


def open_postgres(uri: str, settings: QueryConfig) -> CatalogStore:
    """A PostgreSQL catalog at `uri`, its password from `catalog_password` (else libpq's PGPASSWORD, ~/.pgpass)."""
    secret = settings.catalog_password
    return SQLCatalog(PostgresDialect(uri, secret.get_secret_value() if secret else None))
