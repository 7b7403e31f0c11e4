"""Read-models of the catalog for `eventlake tables` and `eventlake views` (and the dashboard).

Functions here return plain data and never print; the CLI renders them as tables or JSON.
Saved views go through the same read-only check as any query and must bind against the
catalog's tables before they are stored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from eventlake.catalog import CatalogStore, open_catalog
from eventlake.catalog.exceptions import TableNotFound
from eventlake.config import Settings
from eventlake.query.exceptions import BadSql
from eventlake.query.guard import SqlGuard
from eventlake.query.results import summarize
from eventlake.types import TableRef

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _when(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch else None


def list_tables(store: CatalogStore, database: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "table": t.qualified_name,
            "format": t.format,
            "source": t.source,
            "partition_keys": ", ".join(name for name, _type in t.partition_keys),
            "files": t.files,
            "rows": t.rows,
            "bytes": t.bytes,
            "schema_version": t.schema_version,
            "status": "deprecated" if t.deprecated else "",
            "location": t.location,
        }
        for t in summarize(store.list_tables(database), store.list_files())
    ]


def describe_table(store: CatalogStore, name: str, default_database: str = "default") -> dict[str, Any]:
    ref = TableRef.parse(name, default_database)
    table = store.get_table(ref)
    if table is None:
        raise TableNotFound(f"no table {ref}", hint="`eventlake tables` lists them; `eventlake crawl` adds folders")
    files = store.list_files(ref)
    return {
        "table": str(ref),
        "location": table.location,
        "format": table.format,
        "source": table.source,
        "schema_version": table.schema_version,
        "parameters": table.parameters,
        "created": _when(table.created_at),
        "updated": _when(table.updated_at),
        "columns": [{"name": c.name, "type": c.type} for c in table.columns],
        "partition_keys": [{"name": c.name, "type": c.type} for c in table.partition_keys],
        "partitions": [
            {
                "values": "/".join(f"{k}={v}" for k, v in p.values.items()),
                "location": p.location,
                "files": sum(1 for f in files if f.partition == p.values),
                "rows": sum(f.rows for f in files if f.partition == p.values),
            }
            for p in store.list_partitions(ref)
        ],
        "files": [
            {
                "path": f.path,
                "partition": "/".join(f"{k}={v}" for k, v in f.partition.items()),
                "rows": f.rows,
                "bytes": f.bytes,
                "topic": f.topic,
                "kafka_partition": f.kafka_partition,
                "first_offset": f.first_offset,
                "last_offset": f.last_offset,
                "created": _when(f.created_at),
            }
            for f in files
        ],
        "schema_versions": [
            {"version": v, "columns": ", ".join(f"{c.name} {c.type}" for c in cols), "created": _when(at)}
            for v, cols, at in store.schema_versions(ref)
        ],
    }


def create_view(settings: Settings, name: str, sql: str, database: str | None = None) -> None:
    """Store a view after checking it is read-only and that it runs against today's catalog."""
    from eventlake.query.engine import connect

    if not _NAME.match(name):
        raise BadSql(f"view name {name!r} is not a plain identifier", hint="use letters, digits and _")
    body = sql.strip().rstrip(";").strip()
    guard = SqlGuard()
    try:
        guard.check(body)
    finally:
        guard.close()
    db = database or settings.database
    with open_catalog(settings) as store:
        if store.get_table(TableRef(db, name)) is not None:
            raise BadSql(f"{db}.{name} is a table", hint="pick another name for the view")
        with connect(settings, store=store) as engine:
            engine.execute(f"SELECT * FROM ({body}) AS _view_check LIMIT 0")  # binds names and types
        store.save_view(name, body, database=db)


def list_views(settings: Settings) -> list[dict[str, str]]:
    with open_catalog(settings) as store:
        return [{"view": f"{d}.{n}", "sql": s} for d, n, s in store.list_views()]


def drop_view(settings: Settings, name: str, database: str | None = None) -> None:
    ref = TableRef.parse(name, database or settings.database)
    with open_catalog(settings) as store:
        store.drop_view(ref.name, database=ref.database)  # CatalogError names it when missing
