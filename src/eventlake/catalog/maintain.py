"""One maintenance pass over a lake: compact closed table-hours, apply retention, settle leftovers.

Run by a thread in every sink (`sink/maintenance.py`) and by `eventlake maintain`; any number
of them may run at once on one lake: a table-hour is compacted under its catalog lease, every
swap and drop is one conditional transaction, and every object written or retired but not yet
settled is named in `maintenance_pending`, so a process killed at any point leaves the tables
exact and its leftovers are deleted by whichever pass comes next.

What the pass reads is aggregated in SQL (files per partition, their bytes and newest file), so
its cost grows with the number of partitions, not of files; only a partition it compacts or
drops is listed file by file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from eventlake.catalog.compact import Conform, compact_partition, new_owner, open_hour_selection, settle_pending
from eventlake.catalog.iceberg_sql import is_iceberg
from eventlake.catalog.model import DataFile, Table
from eventlake.catalog.store import CatalogStore
from eventlake.config.maintenance import MaintenanceSettings
from eventlake.lake import Lake

log = logging.getLogger(__name__)

HOUR_S = 3600.0
ROLLUP_AFTER_S = 300.0
OPEN_HOUR_MERGES_PER_PASS = 4  # the newest block and up to three tiers

# Called with a table and the partitions retention just dropped (Glue follows, when asked to).
OnDropped = Callable[[Table, list[dict[str, str]]], None]


def hour_end(values: dict[str, str]) -> float | None:
    """Epoch seconds at which a `dt=YYYY-MM-DD/hour=HH/...` partition's hour ends; None for other layouts."""
    dt, hour = values.get("dt"), values.get("hour")
    if dt is None or hour is None or not hour.isdigit() or len(dt) != 10:
        return None
    try:
        start = datetime.strptime(dt, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    h = int(hour)
    return start + (h + 1) * HOUR_S if 0 <= h < 24 else None


@dataclass
class TableReport:
    table: str
    partitions_compacted: int = 0
    files_merged: int = 0  # inputs swapped out
    files_written: int = 0
    partitions_dropped: int = 0
    files_dropped: int = 0
    skipped: list[str] = field(default_factory=list)
    # Iceberg tables (sink/iceberg_maintain.py): snapshots expired, and files expiry and the orphan sweep deleted.
    snapshots_expired: int = 0
    files_deleted: int = 0


@dataclass
class MaintenanceReport:
    tables: list[TableReport] = field(default_factory=list)
    settled: int = 0  # retired or orphaned objects deleted
    ledger_rolled_up: int = 0  # ledger entries merged into hourly ones
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def maintain(
    store: CatalogStore,
    lake: Lake,
    cfg: MaintenanceSettings,
    *,
    compression: str = "zstd",
    conform_for: Callable[[Table], Conform] | None = None,
    on_dropped: OnDropped | None = None,
    owner: str | None = None,
    now: float | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> MaintenanceReport:
    """One pass over every sink-written Parquet table (see the module doc). `stop`: checked between partitions."""
    started = time.monotonic()
    now = time.time() if now is None else now
    owner = owner or new_owner()
    report = MaintenanceReport()
    for table in store.list_tables():
        if table.format != "parquet" or table.source != "sink" or is_iceberg(table.parameters) or stop():
            continue  # Iceberg tables are maintained by Iceberg's means (sink/iceberg_maintain.py)
        t0 = time.monotonic()
        tr = TableReport(str(table.ref))
        report.tables.append(tr)
        stats = store.partition_file_stats(table.ref, cfg.small_bytes)
        keep_s = cfg.retention_for(table.name, table.database)
        if keep_s is not None:
            _retention(store, lake, table, stats, keep_s, cfg, now, owner, tr, on_dropped)
        conform = conform_for(table) if conform_for else None
        for part in stats:
            if stop():
                break
            select = None
            if not _worth_compacting(part, cfg, now):
                select = _open_hour_rule(part, cfg, now)
                if select is None:
                    continue
            # An open hour may need a few merges in one pass (its newest block, then a full tier).
            before = tr.files_merged
            for _ in range(1 if select is None else OPEN_HOUR_MERGES_PER_PASS):
                result = compact_partition(
                    store,
                    lake,
                    table.ref,
                    part["values"],
                    owner=owner,
                    target_bytes=cfg.target_bytes,
                    compression=compression,
                    conform=conform,
                    lease_ttl_s=cfg.lease_s,
                    select=select,
                    pieces=select is not None,
                )
                tr.skipped += result.skipped
                if not result.retired:
                    break
                tr.partitions_compacted += tr.files_merged == before  # once per partition
                tr.files_merged += len(result.retired)
                tr.files_written += len(result.retired) - (result.files_before - result.files_after)
                if stop():
                    break
        store.record_maintenance(table.ref, "compact", time.monotonic() - t0, _detail(tr))
    report.settled = len(settle_pending(store, lake, cfg.grace_s))
    # Flush history is kept per hour once older than the closed-hour wait (5 minutes at least: well past
    # status's 60 s rate window, and the merged entry keeps the newest commit time): status stays as
    # fast on day 90 as on day 1. An hour still filling is merged again by later passes.
    report.ledger_rolled_up = store.rollup_ledger(time.time() - max(cfg.closed_after_minutes * 60, ROLLUP_AFTER_S))
    report.seconds = time.monotonic() - started
    store.record_maintenance(
        None,
        "pass",
        report.seconds,
        {"tables": len(report.tables), "settled": report.settled, "ledger_rolled_up": report.ledger_rolled_up},
    )
    return report


def _worth_compacting(part: dict[str, Any], cfg: MaintenanceSettings, now: float) -> bool:
    """A closed hour with more files than its bytes need, one of them small (cheap: from SQL aggregates)."""
    end = hour_end(part["values"])
    if end is None or end + cfg.closed_after_minutes * 60 > now:
        return False
    needed = max(1, -(-int(part["bytes"]) // cfg.target_bytes))
    return bool(part["files"] > needed and part["small"] > 0)


def _open_hour_rule(
    part: dict[str, Any], cfg: MaintenanceSettings, now: float
) -> Callable[[list[DataFile]], list[DataFile]] | None:
    """An hour not closed yet (or ending in the future) with small files to merge: which of them may go now.

    Its sink files older than `open_hour_seconds` (wall clock: file times are real, `now` may be
    logical) are merged a piece of at least that many seconds at a time, and `open_hour_fanout`
    pieces of one tier into one of the next (`open_hour_selection`); the hour is merged into one
    file once closed, as before. None: nothing to do for this partition now."""
    end = hour_end(part["values"])
    if cfg.open_hour_seconds <= 0 or end is None or end + cfg.closed_after_minutes * 60 <= now or part["small"] < 2:
        return None
    age_s = cfg.open_hour_seconds
    return partial(open_hour_selection, written_before=time.time() - age_s, window_s=age_s, fanout=cfg.open_hour_fanout)


def _retention(
    store: CatalogStore,
    lake: Lake,
    table: Table,
    stats: list[dict[str, Any]],
    keep_s: float,
    cfg: MaintenanceSettings,
    now: float,
    owner: str,
    tr: TableReport,
    on_dropped: OnDropped | None,
) -> None:
    """Drop whole partitions whose hour ended more than `keep_s` ago, unless data may still be on its way.

    "Unrecorded" data is data consumed from Kafka but not yet in a ledger entry: a sink's open
    buffer, or a flush written and not yet recorded (or crashed before recording, awaiting its
    replay). A buffer is flushed within flush_seconds, so a partition that got a file in the last
    `closed_after_minutes` is left for a later pass; a folder holding an object the catalog does
    not name (neither listed nor pending maintenance) may be such a flush, and is left as well.
    Late events for an hour already dropped land as usual and are dropped by the next pass.
    """
    expired = []
    for part in stats:
        end = hour_end(part["values"])
        if end is None or end + keep_s > now:
            continue
        # Wall clock: `now` may be a test's or bench's logical time, file times are real.
        if part["newest"] is not None and time.time() - part["newest"] < cfg.closed_after_minutes * 60:
            tr.skipped.append(f"{_show(part['values'])}: written to recently, dropped later")
            continue
        expired.append(part["values"])
    if not expired:
        return
    pending = {p for p, *_ in store.pending()}
    safe = []
    for values in expired:
        listed = {f.path for f in store.list_partition_files(table.ref, values)}
        folders = {lake.rel(p).rsplit("/", 1)[0] for p in listed}
        unknown = [o for d in folders for o in lake.list(d) if lake.uri(o.rel_path) not in listed | pending]
        if unknown:
            tr.skipped.append(f"{_show(values)}: holds {len(unknown)} unrecorded files (a flush on its way?)")
            continue
        safe.append(values)
    if not safe:
        return
    paths = store.drop_partitions(table.ref, safe, owner)
    tr.partitions_dropped += len(safe)
    tr.files_dropped += len(paths)
    log.info("retention dropped %d partitions (%d files) of %s", len(safe), len(paths), table.ref)
    if on_dropped is not None:
        on_dropped(table, safe)


def _show(values: dict[str, str]) -> str:
    return "/".join(f"{k}={v}" for k, v in values.items())


def _detail(tr: TableReport) -> dict[str, Any]:
    d = asdict(tr)
    d["skipped"] = tr.skipped[:5]
    return d


def glue_follower(aws: Any) -> OnDropped:
    """Deletes dropped partitions from Glue (maintenance.glue = sync)."""
    from eventlake.catalog.glue import GluePublisher

    publisher = GluePublisher(aws)

    def follow(table: Table, values_list: list[dict[str, str]]) -> None:
        publisher.remove_partitions(table, values_list)

    return follow


def maintenance_status(store: CatalogStore, cfg: MaintenanceSettings) -> dict[str, Any]:
    """What `status` and the Pipeline page show: per table, files, small files and their share,
    when compaction last looked at it; and when the last pass over the lake ran (all from SQL aggregates)."""
    runs = store.maintenance_runs()
    last = {(r["table"], r["kind"]): r for r in runs}
    tables = []
    for ref, st in sorted(store.table_file_stats(cfg.small_bytes).items(), key=lambda kv: str(kv[0])):
        run = last.get((str(ref), "compact"))
        keep = cfg.retention_for(ref.name, ref.database)
        tables.append(
            {
                "table": str(ref),
                "files": st["files"],
                "bytes": st["bytes"],
                "small_files": st["small"],
                "small_share": round(st["small"] / st["files"], 3) if st["files"] else 0.0,
                "last_compacted_at": run["ran_at"] if run else None,
                "retention": None if keep is None else f"{keep / 86400:g}d",
            }
        )
    # Iceberg tables keep their files in Iceberg's metadata: their figures are the last pass's (no read here).
    listed = {t["table"] for t in tables}
    for r in runs:
        d = r["detail"]
        if r["kind"] == "compact" and r["table"] not in listed and d.get("iceberg") and r["table"]:
            db, _, name = r["table"].partition(".")
            keep = cfg.retention_for(name, db)
            files = int(d.get("files", 0))
            tables.append(
                {
                    "table": r["table"],
                    "files": files,
                    "bytes": int(d.get("bytes", 0)),
                    "small_files": int(d.get("small_files", 0)),
                    "small_share": round(int(d.get("small_files", 0)) / files, 3) if files else 0.0,
                    "last_compacted_at": r["ran_at"],
                    "retention": None if keep is None else f"{keep / 86400:g}d",
                }
            )
    lake_pass = last.get((None, "pass"))
    return {
        "enabled": cfg.enabled,
        "target_file_mb": cfg.target_file_mb,
        "small_below_mb": round(cfg.small_bytes / 1024 / 1024, 1),
        "last_pass_at": lake_pass["ran_at"] if lake_pass else None,
        "last_pass_seconds": lake_pass["seconds"] if lake_pass else None,
        "tables": tables,
    }
