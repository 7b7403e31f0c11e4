"""`eventlake compact TABLE [--partition dt=.../hour=...]`: merge small files, atomically."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from eventlake.catalog.store import require_lake
from eventlake.cli import output
from eventlake.cli.common import CatalogOpt, ConfigOpt, FormatOpt, LakeOpt, settings


def register(app: typer.Typer) -> None:
    @app.command("compact")
    def compact(
        ctx: typer.Context,
        table: Annotated[str, typer.Argument(help="TABLE or DATABASE.TABLE")],
        partition: Annotated[
            str | None, typer.Option("--partition", help="Only this partition, e.g. dt=2024-01-02/hour=03")
        ] = None,
        target_mb: Annotated[
            int | None,
            typer.Option("--target-mb", min=1, help="Size of merged files (default: maintenance.target_file_mb)."),
        ] = None,
        fmt: FormatOpt = output.Format.table,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Merge each partition's small files into large ones; queries never see rows twice or missing."""
        s = settings(ctx, config, lake=lake, catalog=catalog)
        require_lake(s)
        from eventlake.catalog.compact import compact_table
        from eventlake.sink.maintenance import conformer_for

        mb = target_mb or s.maintenance.target_file_mb
        if _is_iceberg_table(s, table):
            if partition is not None:
                raise typer.BadParameter(
                    "an Iceberg table has no partition folders: leave out --partition (every hour is compacted)"
                )
            from eventlake.sink.iceberg_maintain import compact_iceberg_table

            summary = compact_iceberg_table(s, table, target_bytes=mb * 1024 * 1024)
        else:
            summary = compact_table(s, table, partition, target_bytes=mb * 1024 * 1024, conform_for=conformer_for)
        if fmt is not output.Format.table:
            output.print_json(summary.to_dict())
            return
        output.print_mapping(
            {
                "table": summary.table,
                "partitions compacted": summary.partitions_compacted,
                "files": f"{summary.files_before} -> {summary.files_after}",
                "rows": summary.rows,
                "bytes": f"{summary.bytes_before} -> {summary.bytes_after}",
                "skipped": "; ".join(summary.skipped) or "-",
            },
            title="compact",
        )


def _is_iceberg_table(s: Any, name: str) -> bool:
    from eventlake.catalog import open_catalog
    from eventlake.catalog.iceberg_sql import is_iceberg
    from eventlake.types import TableRef

    with open_catalog(s) as store:
        table = store.get_table(TableRef.parse(name, s.database))
    return table is not None and is_iceberg(table.parameters)
