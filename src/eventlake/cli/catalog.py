"""`eventlake catalog copy --to URL`: move the catalog (tables, views, crawler state, ledger) to another one."""

from __future__ import annotations

from typing import Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import CatalogOpt, ConfigOpt, FormatOpt, LakeOpt, settings


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The catalog itself: copy it to PostgreSQL to share it between machines.",
                        no_args_is_help=True)  # fmt: skip

    @group.command("copy")
    def copy(
        ctx: typer.Context,
        to: Annotated[
            str,
            typer.Option(
                "--to",
                help="Target catalog: postgresql://USER@HOST:PORT/DB (password from catalog_password) "
                "or sqlite:///path.",
            ),
        ],
        force: Annotated[
            bool, typer.Option("--force", help="Replace what the target holds (default: refuse a non-empty target).")
        ] = False,
        fmt: FormatOpt = output.Format.table,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Copy the whole catalog in one transaction and check the counts; stop the sinks first."""
        from eventlake.catalog import open_catalog
        from eventlake.catalog.copy import copy_catalog
        from eventlake.catalog.store import require_lake

        s = settings(ctx, config, lake=lake, catalog=catalog)
        if not s.catalog:
            require_lake(s)
        with open_catalog(s) as source, open_catalog(s.model_copy(update={"catalog": to})) as target:
            counts = copy_catalog(source, target, replace=force)
            where = target.where
        if fmt is output.Format.json:
            output.print_json(counts)
        else:
            output.print_rows(["table", "rows"], [[n, c] for n, c in counts.items()], fmt)
        output.info(f"copied {sum(counts.values())} rows into {where}; point --catalog (or `catalog`) at it")

    app.add_typer(group, name="catalog")
