"""`eventlake status`: per topic and partition, lag, rate, freshness, files and DLQ counts."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, CatalogOpt, ConfigOpt, LakeOpt, settings


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
        from eventlake.broker import TopicAdmin
        from eventlake.catalog import open_catalog
        from eventlake.sink import sink_health

        admin = TopicAdmin(s.bootstrap_servers, s.kafka, timeout_s=min(5.0, s.kafka.connect_timeout_s))

        def partitions(topic: str) -> list[int]:
            return [p.partition for p in admin.describe(topic).partitions]

        from eventlake.catalog.maintain import maintenance_status

        with open_catalog(s) as store:
            topics = sink_health(store, admin.offsets, partitions=partitions)
            maint = maintenance_status(store, s.maintenance)
        if fmt is output.Format.json:
            # Each topic gains its table's maintenance figures (files, small files, last compaction and pass).
            by_table = {m["table"]: m for m in maint["tables"]}
            output.print_json(
                [
                    {**t.as_dict(), "maintenance": {**by_table.get(t.table, {}), "last_pass_at": maint["last_pass_at"]}}
                    for t in topics
                ]
            )
            return
        if not topics:
            output.info("nothing landed yet: run `eventlake sink TOPIC` first")
            return
        now = time.time()
        rows = []
        for t in topics:
            for p in t.partitions:
                rows.append(
                    (
                        p.topic,
                        p.partition,
                        _opt(p.lag),
                        p.rows,
                        f"{p.rows_per_s:g}",
                        _age(p.last_flush_at, now),
                        _secs(p.freshness_s),
                        p.files,
                        _size(p.bytes),
                        p.dlq,
                        p.state,
                    )
                )
        output.print_rows(
            ["topic", "part", "lag", "rows", "rows/s", "flushed", "fresh", "files", "size", "dlq", "state"],
            rows,
            fmt,
            title="sink status ("
            + ", ".join(
                f"{t.topic} -> {t.table}" + (f" (recreated {t.incarnation}x)" if t.incarnation else "") for t in topics
            )
            + ")",
        )
        _print_maintenance(maint, now, fmt)


def _print_maintenance(maint: dict[str, object], now: float, fmt: output.Format) -> None:
    """Files per table, the share of small ones (what compaction can still merge), and when maintenance ran."""
    tables = maint["tables"]
    assert isinstance(tables, list)
    last = maint["last_pass_at"]
    ran = _age(last, now) if isinstance(last, float) else "never"
    state = "on in every sink" if maint["enabled"] else "off in sinks (run `eventlake maintain`)"
    output.print_rows(
        ["table", "files", "size", "small files", "small share", "compacted", "retention"],
        [
            (
                t["table"],
                t["files"],
                _size(t["bytes"]),
                t["small_files"],
                f"{100 * t['small_share']:.0f}%",
                _age(t["last_compacted_at"], now) or "never",
                t["retention"] or "off",
            )
            for t in tables
        ],
        fmt,
        title=f"maintenance ({state}; last pass {ran}; small = under {maint['small_below_mb']} MB)",
    )


def _opt(value: object) -> str:
    return "?" if value is None else str(value)


def _age(ts: float | None, now: float) -> str:
    return "" if ts is None else f"{_secs(max(0.0, now - ts))} ago"


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _secs(value: float | None) -> str:
    if value is None:
        return ""
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.0f}m"
    if value < 172800:
        return f"{value / 3600:.0f}h"
    return f"{value / 86400:.0f}d"
