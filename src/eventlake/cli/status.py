"""`eventlake status`: per topic and partition, lag, rate, freshness, files and DLQ counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from eventlake.broker import TopicAdmin
from eventlake.catalog import open_catalog
from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, CatalogOpt, ConfigOpt, LakeOpt, settings
from eventlake.sink import sink_health


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        ctx: typer.Context,
        lake: LakeOpt = None,
        fmt: Annotated[output.Format, typer.Option("--format", help="table or json")] = output.Format.table,
        catalog: CatalogOpt = None,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Show what the sink has landed and how far behind Kafka it is."""
        s = settings(ctx, config, bootstrap_servers=bootstrap_servers, lake=lake, catalog=catalog)
        admin = TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=min(5.0, s.kafka.connect_timeout_s))
        with open_catalog(s) as store:
            topics = sink_health(store, admin.offsets)
        if fmt is output.Format.json:
            output.print_json([t.as_dict() for t in topics])
            return
        if not topics:
            output.info("nothing landed yet: run `eventlake sink TOPIC` first")
            return
        rows = []
        for t in topics:
            for p in t.partitions:
                rows.append((
                    p.topic, p.partition, p.table, p.next_offset, _opt(p.lag), p.rows, f"{p.rows_per_s:g}",
                    _when(p.last_flush_at), _secs(p.freshness_s), p.files, p.bytes, t.dlq,
                ))
        output.print_rows(
            ["topic", "partition", "table", "next_offset", "lag", "rows", "rows/s", "last_flush",
             "freshness", "files", "bytes", "dlq (topic)"], rows, fmt, title="sink status",
        )


def _opt(value: object) -> str:
    return "?" if value is None else str(value)


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"
