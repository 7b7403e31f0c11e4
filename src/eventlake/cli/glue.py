"""`eventlake glue publish`: mirror the catalog's tables and partitions into AWS Glue."""

from __future__ import annotations

from typing import Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import CatalogOpt, ConfigOpt, LakeOpt, settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Publish tables to the AWS Glue Data Catalog (for Athena).", no_args_is_help=True)

    @group.command("publish")
    def publish(
        ctx: typer.Context,
        tables: Annotated[list[str] | None, typer.Argument(help="Tables to publish (default: all).")] = None,
        endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="Glue endpoint override.")] = None,
        region: Annotated[str | None, typer.Option("--region")] = None,
        glue_database: Annotated[
            str | None, typer.Option("--glue-database", help="Glue database (default: same name).")
        ] = None,
        allow_local: Annotated[
            bool,
            typer.Option(
                "--allow-local", help="Publish tables whose location is a local path (Athena cannot read them)."
            ),
        ] = False,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Create or update each table in Glue and add its new partitions."""
        s = settings(
            ctx,
            config,
            lake=lake,
            catalog=catalog,
            aws={"endpoint_url": endpoint_url, "region": region, "glue_database": glue_database},
        )
        from eventlake.catalog import open_catalog
        from eventlake.catalog.glue import GluePublisher
        from eventlake.lake import open_lake

        with open_catalog(s) as store:
            where = open_lake(s.lake, s.s3) if s.lake else None  # Iceberg tables: their metadata location
            report = GluePublisher(s.aws).publish(
                store, tables or None, allow_local=allow_local, lake=where, settings=s
            )
        output.info(
            f"glue: {len(report.tables_created)} tables created, {len(report.tables_updated)} updated, "
            f"{report.partitions_added} partitions added, {report.partitions_updated} partitions updated"
        )
        if report.tables_skipped:
            output.info(f"glue: skipped Iceberg tables with no commit yet: {', '.join(report.tables_skipped)}")
        if report.tables_in_glue:
            output.info(
                f"glue: left Iceberg tables that iceberg.catalog = glue keeps in Glue itself: "
                f"{', '.join(report.tables_in_glue)}"
            )

    app.add_typer(group, name="glue")
