"""`eventlake maintain`: compaction of closed table-hours, retention and sweeps, outside the sink."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from eventlake.catalog.store import require_lake
from eventlake.cli import output
from eventlake.cli.common import CatalogOpt, ConfigOpt, LakeOpt, settings


def register(app: typer.Typer) -> None:
    @app.command("maintain")
    def maintain(
        ctx: typer.Context,
        once: Annotated[bool, typer.Option("--once", help="One pass, then exit (cron, tests).")] = False,
        fmt: Annotated[output.Format, typer.Option("--format", help="table or json")] = output.Format.table,
        lake: LakeOpt = None,
        catalog: CatalogOpt = None,
        config: ConfigOpt = None,
    ) -> None:
        """Keep the lake fast: merge closed hours' small files, drop expired partitions, sweep leftovers.

        Iceberg tables by Iceberg's means: a replace snapshot per compaction, a delete snapshot for
        retention, old snapshots expired, orphan files removed.

        Every sink already does this in the background (maintenance.enabled); run it here for
        lakes whose sinks have it off. Safe beside sinks, readers and other maintain processes.
        """
        s = settings(ctx, config, lake=lake, catalog=catalog)
        require_lake(s)
        from eventlake.sink.maintenance import maintain_once, run_maintenance

        if once:
            report = maintain_once(s)
            if fmt is not output.Format.table:
                output.print_json(report.to_dict())
                return
            output.print_rows(
                [
                    "table",
                    "hours compacted",
                    "files merged",
                    "files written",
                    "partitions dropped",
                    "files dropped",
                    "snapshots expired",  # Iceberg tables
                    "old files deleted",  # Iceberg tables: of expired snapshots, and orphans
                ],
                [
                    (
                        t.table,
                        t.partitions_compacted,
                        t.files_merged,
                        t.files_written,
                        t.partitions_dropped,
                        t.files_dropped,
                        t.snapshots_expired,
                        t.files_deleted,
                    )
                    for t in report.tables
                ],
                fmt,
                title=f"maintain ({report.seconds:.1f}s, {report.settled} old files deleted)",
            )
            return
        stop = threading.Event()

        def handler(_signum: int, _frame: Any) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, handler)
        output.info(f"maintaining {s.lake} every {s.maintenance.interval_s:g}s; Ctrl-C stops")
        run_maintenance(s, stop)
