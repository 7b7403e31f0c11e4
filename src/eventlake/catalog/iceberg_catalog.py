"""The catalog of Iceberg tables, chosen by `iceberg.catalog`: SQLite (one machine), PostgreSQL
(several machines) or AWS Glue; and the FileIO that reaches the lake (local folder or S3).

- `sqlite` (default): pyiceberg's SqlCatalog in `<lake>/_eventlake/iceberg.sqlite`; for an S3 lake,
  beside eventlake's own SQLite catalog (`./.eventlake/`), since an object store cannot hold a SQLite file.
- `postgresql://USER@HOST[:PORT]/DB`: pyiceberg's SqlCatalog on PostgreSQL (psycopg 3). The URL goes
  through the same allow-list as eventlake's own PostgreSQL catalog and is handed to SQLAlchemy as
  parts (never a string with the password in it); the password comes from `iceberg.catalog_password`,
  else `catalog_password`, else libpq's PGPASSWORD / ~/.pgpass.
- `glue`: pyiceberg's GlueCatalog with a boto3 client made from `[aws]` (endpoint, region, keys).

Commits are compare-and-swaps in every one of them: SqlCatalog updates the metadata location
WHERE it is still the one the commit started from; Glue's UpdateTable carries the table's VersionId.
On an S3 lake pyiceberg's pyarrow FileIO gets the `[s3]` settings (endpoint, region, keys).
pyiceberg loads only when an Iceberg table is touched (`pip install eventlake[iceberg]`).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventlake.catalog.exceptions import CatalogUnavailable
from eventlake.catalog.postgres import is_postgres, parse
from eventlake.catalog.store import CATALOG_DIR, catalog_path
from eventlake.config import Settings
from eventlake.config.lake import S3Settings
from eventlake.errors import ConfigError
from eventlake.lake import Lake

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

log = logging.getLogger(__name__)

ICEBERG_FILE = "iceberg.sqlite"
CATALOG_NAME = "eventlake"  # pyiceberg's catalog_name column: one name, one lake per database
# The parameter eventlake's catalog entry of an Iceberg table carries (Athena's and Glue's name for it).
TABLE_TYPE = "table_type"
ICEBERG = "ICEBERG"
_OPEN_TRIES = 5


def is_iceberg(parameters: dict[str, str]) -> bool:
    return parameters.get(TABLE_TYPE, "").upper() == ICEBERG


def open_iceberg_catalog(lake: Lake, settings: Settings) -> Catalog:
    """The Iceberg catalog `settings.iceberg.catalog` names. Settings are required: a default here
    would quietly open the lake's SQLite catalog for a caller that forgot them."""
    kind = settings.iceberg.catalog
    try:
        import pyiceberg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "Iceberg tables need pyiceberg", hint="pip install 'eventlake[iceberg]' (pyiceberg 0.12)"
        ) from None
    props = {
        "warehouse": lake.uri() if not lake.local else f"file://{lake.root}",
        **file_io_properties(lake, settings.s3),
    }
    if kind == "glue":
        return _glue(settings, props)
    if is_postgres(kind):
        return _postgres(kind, settings, props)
    return _sqlite(lake, settings, props)


def file_io_properties(lake: Lake, s3: S3Settings) -> dict[str, str]:
    """pyiceberg FileIO properties that reach the lake: none for a local one; the `[s3]` settings for S3."""
    if lake.local:
        return {}
    # pyarrow's FileIO, as the Parquet sink's writes; the region is always given, or pyiceberg would
    # ask AWS where the bucket is (a call that fails against S3Proxy or MinIO).
    props = {"py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO", "s3.region": s3.region}
    if s3.endpoint_url:
        props["s3.endpoint"] = s3.endpoint_url  # with endpoint_override pyarrow addresses path-style
    if s3.access_key_id:
        props["s3.access-key-id"] = s3.access_key_id
        props["s3.secret-access-key"] = s3.secret_access_key.get_secret_value() if s3.secret_access_key else ""
        if s3.session_token is not None:
            props["s3.session-token"] = s3.session_token.get_secret_value()
    return props


def _sqlite(lake: Lake, settings: Settings, props: dict[str, Any]) -> Catalog:
    from pyiceberg.catalog.sql import SqlCatalog

    if lake.local:
        folder = Path(lake.root) / CATALOG_DIR
    elif settings.catalog and is_postgres(settings.catalog):
        # Each machine would get its own SQLite file and its own idea of the tables.
        raise ConfigError(
            f"an S3 lake with a shared catalog needs a shared Iceberg catalog, not SQLite ({lake.uri_root})",
            hint="set iceberg.catalog = postgresql://USER@HOST:PORT/DB or glue (env EVENTLAKE_ICEBERG__CATALOG)",
        )
    else:
        folder = catalog_path(settings).parent
    folder.mkdir(parents=True, exist_ok=True)
    from sqlalchemy.exc import OperationalError

    for attempt in range(_OPEN_TRIES):
        try:
            # timeout: sinks of one group commit to one file; SQLite waits for a writer's lock instead of failing.
            return SqlCatalog(CATALOG_NAME, uri=f"sqlite:///{folder}/{ICEBERG_FILE}?timeout=30", **props)
        except OperationalError as exc:
            # A sink and a query engine opening a new lake race to make pyiceberg's tables (seen in the
            # bench: the engine failed "table iceberg_tables already exists"); the loser finds them next time.
            if "already exists" not in str(exc) or attempt + 1 == _OPEN_TRIES:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def _postgres(uri: str, settings: Settings, props: dict[str, Any]) -> Catalog:
    from pyiceberg.catalog.sql import SqlCatalog
    from sqlalchemy.engine import URL
    from sqlalchemy.exc import SQLAlchemyError

    target = parse(uri)  # allow-listed parts, one-line errors; a URL holding a password is refused
    secret = settings.iceberg.catalog_password or settings.catalog_password
    password = secret.get_secret_value() if secret is not None else None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ConfigError(
            "a postgresql:// Iceberg catalog needs the psycopg driver", hint="pip install 'eventlake[postgres]'"
        ) from None
    query = {"connect_timeout": "10", **target.options}
    # A URL object, not a string: the password never becomes part of a text SQLAlchemy could print
    # (its own rendering of this object shows `***`).
    url = URL.create(
        "postgresql+psycopg",
        username=target.user,
        password=password or None,
        host=target.host,
        port=target.port,
        database=target.dbname,
        query=query,
    )
    # pool_pre_ping: a connection the server dropped (a restart) is replaced, not used and failed.
    for attempt in range(_OPEN_TRIES):
        try:
            catalog = SqlCatalog(CATALOG_NAME, uri=url, pool_pre_ping="true", **props)  # type: ignore[arg-type]
            # The pooled connections close with the catalog object (else at garbage collection, unclosed).
            weakref.finalize(catalog, catalog.engine.dispose)
            return catalog
        except SQLAlchemyError as exc:
            # Several sinks opening an empty database race to create pyiceberg's two tables; the
            # losers see a duplicate and find the tables on the next try.
            text = _one_line(exc, password)
            if "already exists" in text or "duplicate key" in text:
                time.sleep(0.1 * (attempt + 1))
                continue
            raise ConfigError(
                f"cannot open the Iceberg catalog {target.shown()}: {text}",
                hint="check the URL, that the server runs, and iceberg.catalog_password or catalog_password",
            ) from None
    raise ConfigError(f"cannot open the Iceberg catalog {target.shown()}: its tables could not be made")


def _glue(settings: Settings, props: dict[str, Any]) -> Catalog:
    import boto3
    from pyiceberg.catalog.glue import GlueCatalog

    # eventlake's own AWS client settings (endpoint, region, keys or the usual chain); the keys stay
    # in the boto3 client, not in the catalog's properties.
    client = boto3.client("glue", **settings.aws.client_kwargs())
    return GlueCatalog(CATALOG_NAME, client=client, **props)


def _one_line(exc: BaseException, password: str | None) -> str:
    """A driver's message on one line, without the password even if something echoed it."""
    orig = getattr(exc, "orig", None)
    text = " ".join(str(orig if orig is not None else exc).split())
    if password:
        text = text.replace(password, "***")
    return text[:500] or type(exc).__name__


@contextmanager
def catalog_outages() -> Iterator[None]:
    """The Iceberg catalog's server gone (PostgreSQL down or restarting, Glue unreachable, a SQLite
    file locked past its timeout) raised as CatalogUnavailable, which a running sink waits out like
    an outage of its own catalog; any other error passes unchanged."""
    try:
        yield
    except Exception as exc:
        if not _is_outage(exc):
            raise
        raise CatalogUnavailable(
            f"the Iceberg catalog is unreachable: {_one_line(exc, None)}",
            hint="check that its server (iceberg.catalog) runs and is reachable",
        ) from None


def _is_outage(exc: BaseException) -> bool:
    # Imported here: the drivers load only with Iceberg; a missing one cannot have raised.
    with suppress(ImportError):
        from sqlalchemy.exc import InterfaceError, OperationalError

        if isinstance(exc, OperationalError | InterfaceError):  # connection refused, dropped, locked
            return True
    with suppress(ImportError):
        from botocore.exceptions import ConnectionError as BotoConnectionError
        from botocore.exceptions import ReadTimeoutError

        if isinstance(exc, BotoConnectionError | ReadTimeoutError):
            return True
    return False


def ensure_namespace(catalog: Catalog, namespace: str) -> None:
    """Create the namespace (Glue database) unless it exists; several sinks may race to make it."""
    from pyiceberg.exceptions import NamespaceAlreadyExistsError

    try:
        if catalog.namespace_exists(namespace):
            return
        catalog.create_namespace(namespace)
    except NamespaceAlreadyExistsError:
        return
    except Exception as exc:  # a duplicate-key race inside the SQL catalog: the other sink made it
        if not catalog.namespace_exists(namespace):
            raise
        log.debug("namespace %s made by another process (%s)", namespace, type(exc).__name__)
