"""`eventlake crawl`: turn the lake's folders into catalog tables (Glue crawler rules)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from eventlake.catalog.store import require_lake
from eventlake.cli import output
from eventlake.cli.common import CatalogOpt, ConfigOpt, FormatOpt, LakeOpt, settings

if TYPE_CHECKING:
    from eventlake.catalog.crawler import CrawlSummary


def render(summary: CrawlSummary, fmt: output.Format) -> None:
    """Plain lines, so file names are never cut to fit a terminal."""
    if fmt is not output.Format.table:
        output.print_json(summary.to_dict())
        return

    def names(items: list[str]) -> str:
        return ", ".join(items) or "-"

    lines = [
        f"crawled {summary.lake} into database {summary.database}: {summary.files_seen} files "
        f"({summary.files_read} new or changed), {len(summary.skipped)} skipped",
        f"tables created: {names(summary.tables_created)}",
        f"tables updated: {names(summary.tables_updated)}",
        f"tables unchanged: {names(summary.tables_unchanged)}",
        f"partitions added: {summary.partitions_added}; files added: {summary.files_added}, "
        f"removed: {summary.files_removed}",
    ]
    lines += [f"schema change: {c}" for c in summary.schema_changes]
    lines += [f"table gone: {t}" for t in summary.tables_deleted]
    lines += [f"skipped {path}: {reason}" for path, reason in summary.skipped]
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    @app.command("crawl")
    def crawl(
        ctx: typer.Context,
        lake: LakeOpt = None,
        database: Annotated[str | None, typer.Option("--database", help="Database for the tables found.")] = None,
        include: Annotated[
            list[str] | None, typer.Option("--include", help="Only paths matching GLOB (repeat).", metavar="GLOB")
        ] = None,
        exclude: Annotated[
            list[str] | None, typer.Option("--exclude", help="Skip paths matching GLOB (repeat).", metavar="GLOB")
        ] = None,
        new_folders_only: Annotated[
            bool, typer.Option("--new-folders-only", help="Only folders added since the last crawl.")
        ] = False,
        fmt: FormatOpt = output.Format.table,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Classify files, infer schemas and partitions, and create or update tables."""
        s = settings(ctx, config, lake=lake, catalog=catalog)
        require_lake(s)
        from eventlake.catalog.crawler import crawl_lake

        if not sys.stderr.isatty():
            summary = crawl_lake(
                s, database=database, include=include, exclude=exclude, new_folders_only=new_folders_only or None
            )
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(
                TextColumn("crawling"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=output.err_console(),
                transient=True,
            ) as bar:
                task = bar.add_task("crawl", total=None)
                summary = crawl_lake(
                    s,
                    database=database,
                    include=include,
                    exclude=exclude,
                    new_folders_only=new_folders_only or None,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        render(summary, fmt)
