"""`eventlake views create|list|drop`: saved SELECTs, usable as tables in any query."""

from __future__ import annotations

from typing import Annotated

import typer

from eventlake.catalog.store import require_catalog_lake, require_lake
from eventlake.cli import output
from eventlake.cli.common import CatalogOpt, ConfigOpt, FormatOpt, LakeOpt, settings

DatabaseOpt = Annotated[str | None, typer.Option("--database", help="Database of the view (default: default).")]


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Saved views (Athena's named queries and views).", no_args_is_help=True)

    @group.command("create")
    def create(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="View name")],
        sql: Annotated[str, typer.Argument(help="A SELECT over catalog tables")],
        database: DatabaseOpt = None,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Save a view (checked read-only and run once against the catalog first)."""
        s = settings(ctx, config, lake=lake, catalog=catalog)
        require_lake(s)
        from eventlake.query.catalog_views import create_view

        create_view(s, name, sql, database)
        output.info(f"created view {database or s.database}.{name}")

    @group.command("list")
    def list_(
        ctx: typer.Context,
        fmt: FormatOpt = output.Format.table,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """List saved views and their SQL."""
        s = settings(ctx, config, lake=lake, catalog=catalog)
        require_catalog_lake(s)
        from eventlake.query.catalog_views import list_views

        rows = list_views(s)
        if fmt is output.Format.json:
            output.print_json(rows)
        else:
            output.print_rows(["view", "sql"], [[r["view"], r["sql"]] for r in rows], fmt)

    @group.command("drop")
    def drop(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="VIEW or DATABASE.VIEW")],
        database: DatabaseOpt = None,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Drop a saved view."""
        s = settings(ctx, config, lake=lake, catalog=catalog)
        require_catalog_lake(s)
        from eventlake.query.catalog_views import drop_view

        drop_view(s, name, database)
        output.info(f"dropped view {name}")

    app.add_typer(group, name="views")
