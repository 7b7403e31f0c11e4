"""`eventlake sink TOPIC...`: land topics in the lake, exactly once."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from eventlake.cli import output
from eventlake.cli.common import BootstrapOpt, CatalogOpt, ConfigOpt, LakeOpt, settings
from eventlake.config.sink import parse_workers
from eventlake.errors import UsageError


class TableFormatOpt(StrEnum):
    parquet = "parquet"
    iceberg = "iceberg"


class OnReset(StrEnum):
    fail = "fail"
    resume = "resume-from-start"


def register(app: typer.Typer) -> None:
    @app.command("sink")
    def sink(
        ctx: typer.Context,
        topics: Annotated[list[str], typer.Argument(help="Topics to land.", show_default=False)],
        lake: LakeOpt = None,
        fmt: Annotated[str | None, typer.Option("--format", help="parquet (default) or jsonl.")] = None,
        table_format: Annotated[
            TableFormatOpt | None,
            typer.Option(
                "--table-format",
                help="parquet (default: folders + ledger) or iceberg (Iceberg v2 tables).",
                show_default=False,
            ),
        ] = None,
        group: Annotated[str | None, typer.Option("--group", help="Consumer group (default eventlake-sink).")] = None,
        time_field: Annotated[
            str | None,
            typer.Option("--time-field", help="Event-time field: ISO-8601 or epoch s/ms (default: Kafka timestamp)."),
        ] = None,
        partition_by: Annotated[
            list[str] | None, typer.Option("--partition-by", help="Extra partition column after dt/hour (repeatable).")
        ] = None,
        until_idle: Annotated[
            float | None, typer.Option("--until-idle", help="Exit once caught up and idle this many seconds.", min=0)
        ] = None,
        flush_rows: Annotated[
            int | None, typer.Option("--flush-rows", help="Flush a partition at N rows.", min=1)
        ] = None,
        flush_bytes: Annotated[
            int | None, typer.Option("--flush-bytes", help="Flush a partition at B bytes.", min=1)
        ] = None,
        flush_seconds: Annotated[
            float | None,
            typer.Option("--flush-seconds", help="Flush a partition S seconds after its oldest buffered message."),
        ] = None,
        metrics_port: Annotated[
            int | None, typer.Option("--metrics-port", help="Serve Prometheus metrics on 127.0.0.1:P/metrics.")
        ] = None,
        on_reset: Annotated[
            OnReset | None,
            typer.Option(
                "--on-reset",
                help="A recreated topic or a retention gap: fail (default) or record it and resume-from-start.",
                show_default=False,
            ),
        ] = None,
        workers: Annotated[
            str | None,
            typer.Option(
                "--workers",
                help="Group members to run, one process each: 1..64 or auto (one per core). Default 1.",
                show_default=False,
            ),
        ] = None,
        catalog: CatalogOpt = None,
        bootstrap_servers: BootstrapOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Land TOPIC... in the lake as partitioned Parquet, exactly once (a consumer-group member)."""
        if workers is not None:
            try:
                workers = str(parse_workers(workers))
            except ValueError as exc:
                hint = "e.g. --workers 2, or --workers auto for one per core"
                raise UsageError(f"--workers: {exc}", hint=hint) from None
        s = settings(
            ctx,
            config,
            bootstrap_servers=bootstrap_servers,
            lake=lake,
            catalog=catalog,
            sink={
                "format": fmt,
                "table_format": table_format.value if table_format else None,
                "group": group,
                "time_field": time_field,
                "partition_by": partition_by or None,
                "until_idle": until_idle,
                "flush_rows": flush_rows,
                "flush_bytes": flush_bytes,
                "flush_seconds": flush_seconds,
                "metrics_port": metrics_port,
                "on_reset": on_reset.value if on_reset else None,
                "workers": workers,
            },
        )
        # Kafka client and Arrow load only for this command
        from eventlake.sink.workers import run_workers, topic_rows, worker_count

        n = worker_count(s.sink.workers)
        if n == 1:
            from eventlake.sink.runner import run_sink

            report = run_sink(s, topics)
        else:  # the parent only supervises: Arrow loads in the workers
            members = run_workers(s, topics, n)
            report = members.total
        output.info(
            f"sink: {report.rows} rows in {report.files} files ({report.bytes} bytes), "
            f"{report.dlq} to the DLQ, {report.flushes} flushes in {report.busy_seconds:.2f}s "
            f"({report.rows_per_s:,.0f} rows/s); {report.seconds:.1f}s in all"
        )
        if n > 1:
            parts = "; ".join(
                f"{w.slot}: {w.report.rows} rows from "
                + (", ".join(sorted(w.report.partitions, key=_partition_order)) or "no partition")
                for w in members.workers
            )
            restarts = f"; {members.restarts} restarted after dying" if members.restarts else ""
            output.info(f"sink workers: {len(members.workers)} ({parts}){restarts}")
        if len(topics) > 1:
            output.info("sink topics: " + ", ".join(f"{t} {rows} rows" for t, rows in topic_rows(report).items()))


def _partition_order(key: str) -> tuple[str, int]:
    topic, _, rest = key.rpartition("[")
    return topic, int(rest.rstrip("]") or 0)
