"""Lake maintenance in the background of every sink, and the loop behind `eventlake maintain`.

Each pass (`catalog.maintain.maintain`) compacts closed table-hours, applies retention and
deletes what earlier passes retired or a killed one left behind. Why in the sink: a running
pipeline then needs no chores and no second process to remember; the sink already holds the
lake, the catalog and the tables' schema rule (merged files come out in the table's file
schema, as `conform.py` keeps them). The pass runs on its own thread with its own catalog
connection, so landing never waits for it: Parquet reading and writing release the GIL, and
every catalog change it makes is one short transaction. Several sinks of a group each run it;
catalog leases make them share the work. `eventlake maintain` runs the same loop alone, for
lakes whose sinks run with `maintenance.enabled = false` or for cron.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from eventlake.catalog import Table, open_catalog
from eventlake.catalog.compact import Conform
from eventlake.catalog.iceberg_sql import is_iceberg
from eventlake.catalog.maintain import MaintenanceReport, glue_follower, maintain
from eventlake.config import Settings
from eventlake.lake import open_lake
from eventlake.sink.arrays import conform_table
from eventlake.sink.conform import file_schema

log = logging.getLogger(__name__)

# A sink's first pass waits this long: passes come every few seconds, but a start is often a catch-up.
FIRST_PASS_AFTER_S = 20.0


def conformer_for(table: Table) -> Conform:
    """Merged rows in `table`'s file schema (the catalog's columns as Arrow types)."""
    schema = file_schema(table)
    return lambda data: conform_table(data, schema)


def maintain_once(
    settings: Settings, stop: Callable[[], bool] = lambda: False, now: float | None = None, iceberg: bool = True
) -> MaintenanceReport:
    """One pass over the lake and catalog of `settings`: the Parquet tables, then (with `iceberg`) the
    Iceberg tables, by Iceberg's means (sink/iceberg_maintain.py). `now`: a test's logical time."""
    cfg = settings.maintenance
    lake = open_lake(settings.lake, settings.s3)
    on_dropped = glue_follower(settings.aws) if cfg.glue == "sync" else None
    with open_catalog(settings) as store:
        report = maintain(
            store,
            lake,
            cfg,
            compression=settings.sink.compression,
            conform_for=conformer_for,
            on_dropped=on_dropped,
            now=now,
            stop=stop,
        )
        if iceberg and any(is_iceberg(t.parameters) for t in store.list_tables()):
            from eventlake.sink.iceberg_maintain import maintain_iceberg

            started = time.monotonic()
            report.tables += maintain_iceberg(store, lake, settings, now=now, stop=stop)
            report.seconds += time.monotonic() - started
        return report


def run_maintenance(
    settings: Settings,
    stop: threading.Event,
    on_pass: Callable[[MaintenanceReport], None] | None = None,
    wait_first: bool = False,
) -> None:
    """Pass after pass, `maintenance.interval_s` apart, until `stop` is set. A failed pass (an outage)
    is logged and the next one retries: nothing a pass does is left half-done in the catalog.
    `wait_first`: a sink waits FIRST_PASS_AFTER_S (or one interval, if longer) first, so its start
    (often a catch-up) has the machine."""
    if wait_first:
        stop.wait(max(FIRST_PASS_AFTER_S, settings.maintenance.interval_s))
    # Parquet passes come often (an open hour's files are merged seconds after landing); an Iceberg
    # pass loads metadata and may commit, so it keeps its own, slower cadence.
    iceberg_due = 0.0
    while not stop.is_set():
        try:
            iceberg = time.monotonic() >= iceberg_due
            if iceberg:
                iceberg_due = time.monotonic() + settings.maintenance.iceberg_interval_s
            report = maintain_once(settings, stop.is_set, iceberg=iceberg)
            if on_pass is not None:
                on_pass(report)
        except Exception as exc:
            log.warning("maintenance pass failed (retried in %.0f s): %s", settings.maintenance.interval_s, exc)
        stop.wait(settings.maintenance.interval_s)


class Maintainer:
    """The sink's maintenance thread: `start()` with the sink, `stop()` at its end (a pass in progress
    finishes its current partition; a kill instead is safe too)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=run_maintenance,
            args=(settings, self._stop, None, True),
            name="eventlake-maintain",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
