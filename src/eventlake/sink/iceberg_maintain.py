"""Maintenance of Iceberg tables by Iceberg's own means (the Iceberg side of `maintain`).

- **Compaction**: the small data files of closed hours are rewritten into files near the target
  and swapped in ONE `replace` snapshot (old files deleted, new ones added, no row changed).
- **Retention**: whole hours past `retention` leave in ONE `delete` snapshot.
- **Snapshot expiry**: snapshots older than `iceberg_snapshot_retention`, or past the newest
  `iceberg_max_snapshots` (the newest `iceberg_keep_snapshots` always stay), leave the metadata;
  the files only they referenced are deleted.
- **Orphans**: files under the table's folder that no metadata names, older than `iceberg_orphan_age`.

Exactly once with sinks committing beside it: every snapshot made here copies the current
snapshot's offset map (`eventlake.offsets.*`, see iceberg_commit) forward unchanged, so a sink
resumes from it as from its own appends. The commit is the catalog's compare-and-swap (pyiceberg's
own retry stays off, `commit.retry.num-retries=0`): a sink's append in between fails ours; we then
re-read the table and commit the same rewrite again if every input file is still live (the new
files hold exactly the inputs' rows, whatever else was appended), else give up this round and
delete what we wrote. Rewritten inputs stay on storage for older snapshots (time travel, queries
in flight) until expiry drops those snapshots.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from eventlake.catalog.compact import CompactionSummary
from eventlake.catalog.iceberg_sql import is_iceberg, open_iceberg_catalog
from eventlake.catalog.maintain import HOUR_S, TableReport
from eventlake.catalog.model import Table
from eventlake.catalog.store import CatalogStore
from eventlake.config import Settings
from eventlake.config.maintenance import MaintenanceSettings, retention_seconds
from eventlake.lake import Lake, open_lake
from eventlake.sink.iceberg_commit import GROUP_KEY, OFFSET_KEY
from eventlake.sink.iceberg_table import NO_RETRY
from eventlake.types import TableRef

if TYPE_CHECKING:
    from pyiceberg.manifest import DataFile, ManifestEntry
    from pyiceberg.table import Table as IcebergTable
    from pyiceberg.table.snapshots import Snapshot

log = logging.getLogger(__name__)

MAINTENANCE_KEY = "eventlake.maintenance"  # what made a snapshot of ours: compact or retention
ORPHAN_EVERY_S = 3600.0
METADATA_ORPHAN_AGE_S = 3600.0  # the orphan sweep reads every snapshot's manifests: at most hourly per table
_RETRIES = 50
# Sorted this way, rows of one Kafka partition stay together in the merged files (tight min/max stats).
_ORDER = ("_topic", "_partition", "_offset")


@dataclass
class IcebergPassReport:
    """What one pass did to one Iceberg table (merged into catalog.maintain.TableReport)."""

    hours_compacted: int = 0
    files_merged: int = 0
    files_written: int = 0
    hours_dropped: int = 0
    files_dropped: int = 0
    snapshots_expired: int = 0
    files_expired: int = 0  # files only expired snapshots referenced, deleted
    orphans_deleted: int = 0
    conflicts: int = 0  # compare-and-swap failures retried
    small_files: int = 0  # small files left in hours holding several files (status's small share)
    skipped: list[str] = field(default_factory=list)


def carried(table: IcebergTable) -> dict[str, str]:
    """The current snapshot's offset map and group: what every snapshot of ours must carry forward."""
    snap = table.current_snapshot()
    if snap is None or snap.summary is None:
        return {}
    props = snap.summary.additional_properties
    return {k: v for k, v in props.items() if k.startswith(OFFSET_KEY) or k == GROUP_KEY}


def live_entries(table: IcebergTable) -> list[ManifestEntry]:
    """The current snapshot's data file entries (its manifests' live rows)."""
    from pyiceberg.manifest import ManifestContent

    snap = table.current_snapshot()
    if snap is None:
        return []
    out: list[ManifestEntry] = []
    for manifest in snap.manifests(table.io):
        if manifest.content == ManifestContent.DATA:
            out += manifest.fetch_manifest_entry(table.io, discard_deleted=True)
    return out


def _hour_of(table: IcebergTable, f: DataFile) -> int | None:
    """Hours since the epoch of a data file's hour() partition value (None: no hour field)."""
    from pyiceberg.transforms import HourTransform

    spec = table.specs().get(f.spec_id)
    if spec is None:
        return None
    for i, pf in enumerate(spec.fields):
        if isinstance(pf.transform, HourTransform):
            value = f.partition[i]
            return int(value) if value is not None else None
    return None


def _key(table: IcebergTable, f: DataFile) -> tuple[Any, ...]:
    return (f.spec_id, *(f.partition[i] for i in range(len(f.partition))))


def _show(table: IcebergTable, key: tuple[Any, ...]) -> str:
    spec = table.specs()[key[0]]
    return "/".join(f"{pf.name}={v}" for pf, v in zip(spec.fields, key[1:], strict=False)) or "(unpartitioned)"


# ---- committing: replace and delete snapshots that carry the offset map


@dataclass
class _Plan:
    """The costly part of a replace/delete, kept across compare-and-swap retries: the parent's manifests
    rewritten without the inputs, and the inputs' delete entries. Still right on a newer head whose
    manifests include all of the planned parent's (only appends came between: a manifest is immutable,
    so every input is still live); the newer manifests are then kept as they are."""

    snapshot_id: int | None = None
    parent_manifests: set[str] | None = None
    existing: list[Any] = field(default_factory=list)
    deleted: list[Any] = field(default_factory=list)
    kept_files: set[str] = field(default_factory=set)  # manifests the plan wrote (never cleaned on a retry)


def _producer(operation: str, txn: Any, io: Any, props: dict[str, str], plan: _Plan) -> Any:
    """pyiceberg's overwrite producer deleting exactly the files named (it refuses a file that is no
    longer live: ValidationException), with the plan reused across retries. For compaction its summary
    says `replace` (pyiceberg 0.12 totals a summary only for append/overwrite/delete: made as overwrite)."""
    from pyiceberg.table.snapshots import Operation, Summary
    from pyiceberg.table.update.snapshot import _OverwriteFiles

    class _Swap(_OverwriteFiles):
        def _head_manifests(self) -> list[Any]:
            if self._parent_snapshot_id is None:
                return []
            parent = self._transaction.table_metadata.snapshot_by_id(self._parent_snapshot_id)
            return parent.manifests(self._io) if parent is not None else []

        def _still_planned(self) -> list[Any] | None:
            """The head's manifests that came after the plan, or None if the plan no longer holds."""
            if plan.parent_manifests is None:
                return None
            head = self._head_manifests()
            if not plan.parent_manifests <= {m.manifest_path for m in head}:
                return None
            return [m for m in head if m.manifest_path not in plan.parent_manifests]

        def _existing_manifests(self) -> list[Any]:
            newer = self._still_planned()
            if newer is not None:
                return plan.existing + newer
            before = set(self._written_manifests)
            plan.existing = super()._existing_manifests()
            plan.parent_manifests = {m.manifest_path for m in self._head_manifests()}
            plan.kept_files = set(self._written_manifests) - before
            return plan.existing

        def _deleted_entries(self) -> list[Any]:
            if self._still_planned() is None:
                plan.deleted = super()._deleted_entries()
            return plan.deleted

        def _clean_all_uncommitted(self) -> None:
            # A lost compare-and-swap: the plan's rewritten manifests serve the retry.
            self._written_manifests = [p for p in self._written_manifests if p not in plan.kept_files]
            super()._clean_all_uncommitted()

        def _summary(self, snapshot_properties: Any = None) -> Summary:
            made = super()._summary(snapshot_properties or {})
            if operation != "replace":
                return made
            return Summary(operation=Operation.REPLACE, **made.additional_properties)

    op = Operation.OVERWRITE if operation == "replace" else Operation.DELETE
    producer = _Swap(operation=op, transaction=txn, io=io, snapshot_properties=props)
    # One snapshot id for every attempt: the planned delete entries name it.
    if plan.snapshot_id is None:
        plan.snapshot_id = producer._snapshot_id
    producer._snapshot_id = plan.snapshot_id
    return producer


def swap_files(
    table: IcebergTable,
    inputs: list[DataFile],
    outputs: list[DataFile],
    kind: str,
    report: IcebergPassReport | None = None,
) -> IcebergTable | None:
    """Delete `inputs` and add `outputs` in one snapshot (`replace` if outputs, else `delete`), with the
    offset map carried forward. Retried on a concurrent commit; None if an input is no longer live
    (another compactor or retention got there first) or the table never held still."""
    from pyiceberg.exceptions import CommitFailedException, ValidationException

    plan = _Plan()
    for attempt in range(_RETRIES):
        table = table.refresh()
        if table.properties.get(NO_RETRY) != "0":  # pyiceberg's retry would re-apply a stale summary
            with table.transaction() as txn:
                txn.set_properties({NO_RETRY: "0"})
            continue
        props = {**carried(table), MAINTENANCE_KEY: kind}
        txn = table.transaction()
        try:
            with _producer("replace" if outputs else "delete", txn, table.io, props, plan) as producer:
                for f in inputs:
                    producer.delete_data_file(f)
                for f in outputs:
                    producer.append_data_file(f)
        except ValidationException as exc:
            log.info("%s of %s given up: %s", kind, table.name(), exc)
            _delete_files(table, plan.kept_files)
            return None
        try:
            return txn.commit_transaction()
        except CommitFailedException:
            if report is not None:
                report.conflicts += 1
            time.sleep(min(0.5, 0.01 * (attempt + 1)))  # a sink appended first: look again
    _delete_files(table, plan.kept_files)
    return None


# ---- compaction


def _worth(files: list[DataFile], cfg: MaintenanceSettings, target_bytes: int) -> bool:
    """More files than their bytes need, one of them small (the Parquet lake's rule)."""
    total = sum(f.file_size_in_bytes for f in files)
    needed = max(1, -(-total // target_bytes))
    small = int(target_bytes * cfg.small_file_fraction)
    return len(files) > needed and any(f.file_size_in_bytes < small for f in files)


def _runs(files: list[DataFile], target_bytes: int) -> list[list[DataFile]]:
    """Files cut into runs up to the target; a run of one file is already as merged as it gets."""
    runs: list[list[DataFile]] = []
    run: list[DataFile] = []
    size = 0
    for f in sorted(files, key=lambda f: f.file_path):
        if run and size + f.file_size_in_bytes > target_bytes:
            runs.append(run)
            run, size = [], 0
        run.append(f)
        size += f.file_size_in_bytes
    runs.append(run)
    return [r for r in runs if len(r) > 1]


def _rewrite(table: IcebergTable, run: list[DataFile]) -> list[DataFile]:
    """The rows of `run`, read by Iceberg's rules (field ids, evolved schema) and written as new files."""
    import pyarrow as pa
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
    from pyiceberg.table import FileScanTask

    data: pa.Table = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(
        [FileScanTask(f) for f in run]
    )
    order = [(c, "ascending") for c in _ORDER if c in data.schema.names]
    if order:
        data = data.sort_by(order)
    return list(_dataframe_to_data_files(table_metadata=table.metadata, df=data, io=table.io, write_uuid=uuid.uuid4()))


def compact_iceberg(
    table: IcebergTable,
    cfg: MaintenanceSettings,
    now: float,
    report: IcebergPassReport,
    *,
    closed_only: bool = True,
    target_bytes: int | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> IcebergTable:
    """Merge small files of closed hours (all hours with `closed_only=False`: `eventlake compact`) in one
    replace snapshot. Returns the table as it stands after."""
    target = target_bytes or cfg.target_bytes
    groups: dict[tuple[Any, ...], list[DataFile]] = defaultdict(list)
    for entry in live_entries(table):
        groups[_key(table, entry.data_file)].append(entry.data_file)
    inputs: list[DataFile] = []
    outputs: list[DataFile] = []
    hours = 0
    small = int(target * cfg.small_file_fraction)
    for key, files in sorted(groups.items(), key=lambda kv: str(kv[0])):
        if len(files) > 1:
            report.small_files += sum(f.file_size_in_bytes < small for f in files)
        if stop():
            continue
        hour = _hour_of(table, files[0])
        if closed_only and (hour is None or (hour + 1) * HOUR_S + cfg.closed_after_minutes * 60 > now):
            continue
        if not _worth(files, cfg, target):
            continue
        runs = _runs(files, target)
        for run in runs:
            outputs += _rewrite(table, run)
            inputs += run
            report.small_files -= sum(f.file_size_in_bytes < small for f in run)
        hours += bool(runs)
        log.debug("iceberg %s %s: %d files into runs of %d", table.name(), _show(table, key), len(files), len(runs))
    if not inputs:
        return table
    done = swap_files(table, inputs, outputs, "compact", report)
    if done is None:
        _delete_files(table, [f.file_path for f in outputs])
        report.small_files += sum(f.file_size_in_bytes < small for f in inputs)
        report.skipped.append(f"compaction of {hours} hours given up: its inputs changed (retried next pass)")
        return table.refresh()
    report.hours_compacted += hours
    report.files_merged += len(inputs)
    report.files_written += len(outputs)
    log.info("iceberg %s: compacted %d files into %d (%d hours)", table.name(), len(inputs), len(outputs), hours)
    return done


def compact_iceberg_table(settings: Settings, name: str, *, target_bytes: int) -> CompactionSummary:
    """`eventlake compact TABLE` for an Iceberg table: every hour (the open one too: sinks keep appending
    beside the replace), in one replace snapshot."""
    ref = TableRef.parse(name, settings.database)
    lake = open_lake(settings.lake, settings.s3)
    table = open_iceberg_catalog(lake, settings).load_table((ref.database, ref.name))
    before = live_entries(table)
    report = IcebergPassReport()
    after_table = compact_iceberg(
        table, settings.maintenance, time.time(), report, closed_only=False, target_bytes=target_bytes
    )
    after = live_entries(after_table) if report.files_merged else before
    return CompactionSummary(
        table=str(ref),
        partitions_compacted=report.hours_compacted,
        files_before=len(before),
        files_after=len(after),
        rows=sum(e.data_file.record_count for e in after),
        bytes_before=sum(e.data_file.file_size_in_bytes for e in before),
        bytes_after=sum(e.data_file.file_size_in_bytes for e in after),
        skipped=report.skipped,
    )


# ---- retention


def drop_expired_hours(
    table: IcebergTable, cfg: MaintenanceSettings, keep_s: float, now: float, report: IcebergPassReport
) -> IcebergTable:
    """Whole hours that ended more than `keep_s` ago leave in one delete snapshot. An hour a sink added
    to in the last `closed_after_minutes` waits for a later pass (late events for a dropped hour land as
    usual and are dropped by the next pass: retention by event time)."""
    by_hour: dict[int, list[ManifestEntry]] = defaultdict(list)
    for entry in live_entries(table):
        hour = _hour_of(table, entry.data_file)
        if hour is not None and (hour + 1) * HOUR_S + keep_s <= now:
            by_hour[hour].append(entry)
    if not by_hour:
        return table
    recent = now - cfg.closed_after_minutes * 60
    made_at = {s.snapshot_id: s.timestamp_ms / 1000 for s in table.metadata.snapshots}
    files: list[DataFile] = []
    hours = 0
    for hour, entries in sorted(by_hour.items()):
        if any(made_at.get(e.snapshot_id or 0, 0.0) > recent for e in entries):
            report.skipped.append(
                f"hour {time.strftime('%Y-%m-%dT%H', time.gmtime(hour * HOUR_S))}: written to recently"
            )
            continue
        files += [e.data_file for e in entries]
        hours += 1
    if not files:
        return table
    done = swap_files(table, files, [], "retention", report)
    if done is None:
        report.skipped.append("retention given up: its files changed (retried next pass)")
        return table.refresh()
    report.hours_dropped += hours
    report.files_dropped += len(files)
    log.info("iceberg %s: retention dropped %d hours (%d files)", table.name(), hours, len(files))
    return done


# ---- snapshot expiry


def _by_id(table: IcebergTable) -> dict[int, Snapshot]:
    """Snapshots by id (pyiceberg's snapshot_by_id scans the list: thousands of snapshots an hour)."""
    return {s.snapshot_id: s for s in table.metadata.snapshots}


def _chain(table: IcebergTable, by_id: dict[int, Snapshot]) -> list[Snapshot]:
    """The current snapshot's ancestry, oldest first (eventlake writes one branch: main)."""
    chain = []
    snap = table.current_snapshot()
    while snap is not None:
        chain.append(snap)
        snap = by_id.get(snap.parent_snapshot_id) if snap.parent_snapshot_id is not None else None
    return chain[::-1]


def _operation(snap: Snapshot) -> str:
    return str(snap.summary.operation.value) if snap.summary is not None else "append"


def _dropped_by(table: IcebergTable, snap: Snapshot, by_id: dict[int, Snapshot]) -> set[str]:
    """Files `snap` stopped referencing: manifests its parent listed and it does not, and data files it
    deleted. A plain append after an append drops nothing (a fast append keeps every manifest except the
    delete-only ones a replace or delete just wrote), so only those snapshots are read."""
    from pyiceberg.manifest import ManifestEntryStatus

    parent = by_id.get(snap.parent_snapshot_id) if snap.parent_snapshot_id is not None else None
    if parent is None or (_operation(snap) == "append" and _operation(parent) == "append"):
        return set()
    mine = snap.manifests(table.io)
    kept = {m.manifest_path for m in mine}
    out = {m.manifest_path for m in parent.manifests(table.io) if m.manifest_path not in kept}
    for m in mine:
        if m.added_snapshot_id == snap.snapshot_id and (m.deleted_files_count or 0) > 0:
            for e in m.fetch_manifest_entry(table.io, discard_deleted=False):
                if e.status == ManifestEntryStatus.DELETED:
                    out.add(e.data_file.file_path)
    return out


def expire_snapshots(
    table: IcebergTable, cfg: MaintenanceSettings, now: float, report: IcebergPassReport
) -> IcebergTable:
    """Expire the oldest snapshots past the retention or past `iceberg_max_snapshots` (never the
    newest `iceberg_keep_snapshots`, never one that stopped being current less than `grace_s` ago: a
    query may still read it), then delete the files only they referenced. The current snapshot
    carries the whole offset map, so resuming needs no older one. History is one line (each
    snapshot's parent is the one before), so what the expired snapshots referenced and the oldest
    kept one does not is exactly what the snapshots after the first expired one dropped: files are
    never re-added."""
    keep_s = retention_seconds(cfg.iceberg_snapshot_retention)
    cap = cfg.iceberg_max_snapshots
    if keep_s is None and cap == 0:
        return table
    by_id = _by_id(table)
    chain = _chain(table, by_id)
    protected = {ref.snapshot_id for ref in table.metadata.refs.values()}
    cut = 0  # chain[:cut] expire
    for i, snap in enumerate(chain[: max(0, len(chain) - cfg.iceberg_keep_snapshots)]):
        successor = chain[i + 1]
        too_many = cap > 0 and len(chain) - i > cap  # past the cap: expires whatever its age
        young = keep_s is None or snap.timestamp_ms / 1000 > now - keep_s
        if snap.snapshot_id in protected or (young and not too_many):
            break
        if successor.timestamp_ms / 1000 > now - cfg.grace_s:
            break
        cut = i + 1
    if cut == 0:
        return table
    expired = chain[:cut]
    doomed: set[str] = {s.manifest_list for s in expired}
    for snap in chain[1 : cut + 1]:  # (first expired, oldest kept]
        doomed |= _dropped_by(table, snap, by_id)
    ids = [s.snapshot_id for s in expired]
    from pyiceberg.exceptions import CommitFailedException

    for attempt in range(_RETRIES):
        table = table.refresh()
        present = {s.snapshot_id for s in table.metadata.snapshots}
        left = [i for i in ids if i in present]
        if not left:
            break  # another pass expired them: the files are unreferenced all the same
        try:
            # by_ids() deep-copies the whole metadata once per id (minutes for thousands of snapshots);
            # the set is what it fills, and commit() still leaves out every branch or tag head.
            expiry = table.maintenance.expire_snapshots()
            expiry._snapshot_ids_to_expire = set(left)
            expiry.commit()
            break
        except (CommitFailedException, ValueError) as exc:  # a concurrent commit, or a snapshot expired meanwhile
            if attempt == _RETRIES - 1:
                report.skipped.append(f"snapshot expiry given up: {exc}")
                return table.refresh()
            time.sleep(min(0.5, 0.01 * (attempt + 1)))
    table = table.refresh()
    if not {s.snapshot_id for s in table.metadata.snapshots}.isdisjoint(ids):
        return table
    report.snapshots_expired += len(ids)
    report.files_expired += _delete_files(table, sorted(doomed))
    log.info("iceberg %s: expired %d snapshots, deleted %d files", table.name(), len(ids), len(doomed))
    return table


# ---- orphans


def referenced_files(table: IcebergTable) -> set[str]:
    """Every file the table's metadata names: metadata files, manifest lists, manifests, data files."""
    names = {table.metadata_location, *(e.metadata_file for e in table.metadata.metadata_log)}
    names |= {s.statistics_path for s in table.metadata.statistics}
    seen: set[str] = set()
    for snap in table.metadata.snapshots:
        names.add(snap.manifest_list)
        for m in snap.manifests(table.io):
            if m.manifest_path in seen:
                continue
            seen.add(m.manifest_path)
            names.add(m.manifest_path)
            names |= {e.data_file.file_path for e in m.fetch_manifest_entry(table.io, discard_deleted=False)}
    return {_local(n) for n in names}


def remove_orphans(
    table: IcebergTable, lake: Lake, cfg: MaintenanceSettings, now: float, report: IcebergPassReport
) -> None:
    """Delete files under the table's folder that no metadata names and that are older than
    `iceberg_orphan_age` (younger ones may belong to a commit in flight: a sink writes its data files
    and manifests before its compare-and-swap)."""
    age = retention_seconds(cfg.iceberg_orphan_age)
    if age is None:
        return
    folder = lake.rel(_local(table.location()))
    objects = lake.list(folder)
    names = referenced_files(table.refresh())
    # Metadata files are written right before the compare-and-swap that names them (data files may wait
    # out a commit's retries): superseded ones (every commit writes one) need not wait as long.
    meta_age = min(age, METADATA_ORPHAN_AGE_S)
    doomed = [
        o.rel_path
        for o in objects
        if lake.path(o.rel_path) not in names
        and o.mtime is not None
        and o.mtime < now - (meta_age if o.rel_path.startswith(f"{folder}/metadata/") else age)
    ]
    for rel in doomed:
        lake.delete(rel)
    report.orphans_deleted += len(doomed)
    if doomed:
        log.info("iceberg %s: deleted %d orphan files", table.name(), len(doomed))


def _local(location: str) -> str:
    return urlparse(location).path if location.startswith("file:") else location


def _delete_files(table: IcebergTable, paths: Iterable[str]) -> int:
    n = 0
    for p in paths:
        try:
            table.io.delete(p)
            n += 1
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("could not delete %s: %s", p, exc)
    return n


# ---- the pass


def maintain_iceberg_table(
    table: IcebergTable,
    lake: Lake,
    cfg: MaintenanceSettings,
    now: float,
    *,
    keep_s: float | None = None,
    orphans: bool = True,
    stop: Callable[[], bool] = lambda: False,
) -> IcebergPassReport:
    """One pass over one Iceberg table: retention, compaction, snapshot expiry, orphans."""
    report = IcebergPassReport()
    if table.current_snapshot() is None:
        return report
    if keep_s is not None:
        table = drop_expired_hours(table, cfg, keep_s, now, report)
    if not stop():
        table = compact_iceberg(table, cfg, now, report, stop=stop)
    if not stop():
        table = expire_snapshots(table, cfg, now, report)
    if orphans and not stop():
        remove_orphans(table, lake, cfg, now, report)
    return report


def maintain_iceberg(
    store: CatalogStore,
    lake: Lake,
    settings: Settings,
    *,
    now: float | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> list[TableReport]:
    """The Iceberg tables' share of a maintenance pass; each table's run is recorded for `status`."""
    tables = [t for t in store.list_tables() if is_iceberg(t.parameters)]
    if not tables:
        return []
    from pyiceberg.exceptions import NoSuchTableError

    cfg = settings.maintenance
    now = time.time() if now is None else now
    catalog = open_iceberg_catalog(lake, settings)
    last_sweep = {r["table"]: r["ran_at"] for r in store.maintenance_runs() if r["kind"] == "iceberg_orphans"}
    out = []
    for t in tables:
        if stop():
            break
        try:
            table = catalog.load_table((t.database, t.name))
        except NoSuchTableError:
            continue  # registered, no flush yet
        t0 = time.monotonic()
        sweep = now - last_sweep.get(str(t.ref), 0.0) >= ORPHAN_EVERY_S
        ir = maintain_iceberg_table(
            table, lake, cfg, now, keep_s=cfg.retention_for(t.name, t.database), orphans=sweep, stop=stop
        )
        tr = _table_report(t, ir)
        out.append(tr)
        seconds = time.monotonic() - t0
        detail = {**vars(ir), "skipped": ir.skipped[:5], "iceberg": True, **_totals(table.refresh())}
        store.record_maintenance(t.ref, "compact", seconds, detail)
        if sweep:
            store.record_maintenance(t.ref, "iceberg_orphans", seconds, {"orphans_deleted": ir.orphans_deleted})
    return out


def _table_report(t: Table, ir: IcebergPassReport) -> TableReport:
    return TableReport(
        str(t.ref),
        partitions_compacted=ir.hours_compacted,
        files_merged=ir.files_merged,
        files_written=ir.files_written,
        partitions_dropped=ir.hours_dropped,
        files_dropped=ir.files_dropped,
        skipped=ir.skipped,
        snapshots_expired=ir.snapshots_expired,
        files_deleted=ir.files_expired + ir.orphans_deleted,
    )


def _totals(table: IcebergTable) -> dict[str, int]:
    """Files and bytes of the current snapshot (from its summary: no manifest read), for `status`."""
    snap = table.current_snapshot()
    summary = snap.summary.additional_properties if snap is not None and snap.summary is not None else {}
    return {
        "files": int(summary.get("total-data-files", 0)),
        "bytes": int(summary.get("total-files-size", 0)),
    }
