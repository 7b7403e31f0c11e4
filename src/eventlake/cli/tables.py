"""`eventlake tables [list]` and `eventlake tables describe NAME`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from eventlake.catalog import open_catalog
from eventlake.catalog.store import require_catalog_lake
from eventlake.cli import output
from eventlake.cli.common import CatalogOpt, ConfigOpt, FormatOpt, LakeOpt, settings
from eventlake.config import Settings

DatabaseOpt = Annotated[str | None, typer.Option("--database", help="Only this database.")]

# The terminal view; --format json/csv also has bytes, status (deprecated) and location.
LIST_COLUMNS = ["table", "format", "source", "partition_keys", "files", "rows", "schema_version"]
ALL_COLUMNS = [*LIST_COLUMNS, "bytes", "status", "location"]


def _list(
    ctx: typer.Context,
    lake: str | None,
    catalog: str | None,
    config: Path | None,
    database: str | None,
    fmt: output.Format,
) -> None:
    s = settings(ctx, config, lake=lake, catalog=catalog)
    require_catalog_lake(s)
    from eventlake.query.catalog_views import list_tables

    with open_catalog(s) as store:
        rows = list_tables(store, database)
    if fmt is output.Format.json:
        output.print_json(rows)
    else:
        cols = LIST_COLUMNS if fmt is output.Format.table else ALL_COLUMNS
        output.print_rows(cols, [[r[c] for c in cols] for r in rows], fmt)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Tables in the catalog: list them, describe one.", invoke_without_command=True)

    @group.callback()
    def tables(
        ctx: typer.Context,
        database: DatabaseOpt = None,
        fmt: FormatOpt = output.Format.table,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """List tables (with no subcommand)."""
        if ctx.invoked_subcommand is None:
            _list(ctx, lake, catalog, config, database, fmt)

    @group.command("list")
    def list_(
        ctx: typer.Context,
        database: DatabaseOpt = None,
        fmt: FormatOpt = output.Format.table,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """List tables: format, partition keys, files, rows, schema version."""
        _list(ctx, lake, catalog, config, database, fmt)

    @group.command("describe")
    def describe(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="TABLE or DATABASE.TABLE")],
        fmt: FormatOpt = output.Format.table,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Columns, partition keys, partitions, files and schema versions of one table."""
        s = settings(ctx, config, lake=lake, catalog=catalog)
        require_catalog_lake(s)
        from eventlake.query.catalog_views import describe_table

        with open_catalog(s) as store:
            info = describe_table(store, name, s.database)
        info.update(_iceberg_info(s, info))
        if fmt is output.Format.json:
            output.print_json(info)
            return
        output.print_mapping(
            {
                k: info[k]
                for k in ("table", "location", "format", "source", "schema_version", "parameters", "created", "updated")
            },
            fmt,
            title=info["table"],
        )
        sections = [
            ("columns", ["name", "type"]),
            ("partition_keys", ["name", "type"]),
            ("partitions", ["values", "files", "rows", "location"]),
            (
                "files",
                [
                    "path",
                    "partition",
                    "rows",
                    "bytes",
                    "topic",
                    "kafka_partition",
                    "first_offset",
                    "last_offset",
                    "created",
                ],
            ),
            ("schema_versions", ["version", "columns", "created"]),
            ("snapshots", ["snapshot_id", "committed", "operation", "added_records", "total_records", "offsets"]),
        ]
        for key, cols in sections:
            if info.get(key):
                output.print_rows(
                    cols, [[item[c] for c in cols] for item in info[key]], fmt, title=key.replace("_", " ")
                )

    app.add_typer(group, name="tables")


def _iceberg_info(s: Settings, info: dict[str, Any]) -> dict[str, Any]:
    """An Iceberg table's snapshots (its files live there, not in eventlake's catalog)."""
    from eventlake.catalog.iceberg_sql import is_iceberg

    if not is_iceberg(info["parameters"]):
        return {}
    from eventlake.lake import open_lake
    from eventlake.query.iceberg_files import iceberg_snapshots

    database, _, table = str(info["table"]).rpartition(".")
    return {"snapshots": iceberg_snapshots(open_lake(s.lake, s.s3), database, table, s)}
