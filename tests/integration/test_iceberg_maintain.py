"""Maintenance of Iceberg tables on real files, through eventlake's own commit code (flush_iceberg):
compaction in one replace snapshot while a writer commits and a reader reads, snapshot expiry and
orphan removal deleting exactly what no snapshot needs, retention by whole hours, and a compaction
process SIGKILLed mid-way (`eventlake maintain --once`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from eventlake.catalog import CatalogStore
from eventlake.config import Settings, load_settings
from eventlake.config.maintenance import MaintenanceSettings
from eventlake.lake import open_lake
from eventlake.sink.iceberg_commit import OFFSET_KEY, recorded_offsets
from eventlake.sink.iceberg_maintain import (
    IcebergPassReport,
    compact_iceberg,
    drop_expired_hours,
    expire_snapshots,
    remove_orphans,
)
from eventlake.sink.maintenance import maintain_once
from tests.iceberg_writer import IcebergWriter

TOPIC = "ticks"
HOUR = 3600
EVENTLAKE = str(Path(sys.executable).with_name("eventlake"))
# Every hour's few-KB files fit one 1 MB target; closed as soon as the hour ended.
CFG = MaintenanceSettings(target_file_mb=1, closed_after_minutes=0, grace_s=0)


class Writer:
    """A sink's committing side for one topic: each flush is one snapshot through flush_iceberg."""

    def __init__(self, lake_dir: Path, store: CatalogStore) -> None:
        self.writer = IcebergWriter(load_settings(overrides={"lake": str(lake_dir)}), store, TOPIC)
        self.lake, self.table, self.ice = self.writer.lake, self.writer.table, self.writer.ice
        self.next: dict[int, int] = {}

    def flush(self, partition: int, rows: int, at: float) -> None:
        first = self.next.get(partition, 0)
        events = [{"p": partition, "n": first + i, "s": "x" * 20} for i in range(rows)]
        result = self.writer.flush(partition, first or None, first, events, at)
        assert not result.conflict
        self.next[partition] = first + rows

    def current(self) -> Any:
        return self.ice.refresh()

    def seed(self, hours_ago: list[int], flushes: int, partitions: int = 3, rows: int = 10) -> None:
        for h in hours_ago:
            at = (int(time.time() // HOUR) - h) * HOUR + 60  # inside that hour
            for _ in range(flushes):
                for p in range(partitions):
                    self.flush(p, rows, at)


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def store(lake_dir: Path) -> Any:
    with CatalogStore(lake_dir / "_eventlake" / "catalog.sqlite") as s:
        yield s


def check_exact(table: Any, snapshot_id: int | None = None) -> dict[int, int]:
    """The snapshot's rows are every offset its offset map records, each exactly once; returns the map."""
    snap = table.snapshot_by_id(snapshot_id) if snapshot_id else table.current_snapshot()
    recorded = {
        int(k.rsplit(".", 1)[1]): int(v)
        for k, v in snap.summary.additional_properties.items()
        if k.startswith(OFFSET_KEY)
    }
    rows = table.scan(snapshot_id=snap.snapshot_id, selected_fields=("_partition", "_offset")).to_arrow()
    seen: dict[int, list[int]] = {}
    for p, o in zip(rows["_partition"].to_pylist(), rows["_offset"].to_pylist(), strict=True):
        seen.setdefault(p, []).append(o)
    assert {p: sorted(v) for p, v in seen.items()} == {p: list(range(n)) for p, n in recorded.items() if n}
    return recorded


def _own(lake_dir: Path) -> Any:
    """The table through a catalog of its own, as the maintenance thread has (pyiceberg's Table.refresh()
    changes the object in place: a writer's table object must not be shared with another thread)."""
    from eventlake.catalog.iceberg_sql import open_iceberg_catalog

    return open_iceberg_catalog(open_lake(str(lake_dir)), Settings()).load_table(("default", TOPIC))


def _files(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*") if p.is_file()}


def _planned(table: Any) -> set[str]:
    return {t.file.file_path.removeprefix("file://") for t in table.scan().plan_files()}


def _hours(table: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for t in table.scan().plan_files():
        out.setdefault(t.file.partition[0], []).append(t.file)
    return out


def test_compaction_beside_a_committing_writer_and_a_reader_keeps_every_row_exactly_once(
    lake_dir: Path, store: CatalogStore
) -> None:
    writer = Writer(lake_dir, store)
    writer.seed([4, 3, 2], flushes=3)  # 3 closed hours x 3 partitions x 3 flushes: 27 small files
    table = writer.current()
    before_hours = _hours(table)
    assert all(len(files) == 9 for files in before_hours.values())
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = [0]

    def write() -> None:  # keeps committing into the open hour
        try:
            while not stop.is_set():
                for p in range(3):
                    writer.flush(p, 5, time.time())
                stop.wait(0.1)  # three commits a round: a sink of three partitions at flush_seconds 0.1
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:  # its own catalog connection, as a query engine
        from eventlake.catalog.iceberg_sql import open_iceberg_catalog

        catalog = open_iceberg_catalog(open_lake(str(lake_dir)), Settings())
        try:
            while not stop.is_set():
                check_exact(catalog.load_table(("default", TOPIC)))
                reads[0] += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for t in threads:
        t.start()
    report = IcebergPassReport()
    try:
        deadline = time.monotonic() + 30
        while reads[0] < 2 and not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        compacted: Any = compact_iceberg(_own(lake_dir), CFG, time.time(), report)
        seen = reads[0]
        while reads[0] < seen + 2 and not errors and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors
    assert report.files_merged == 27 and report.hours_compacted == 3, report
    # One replace snapshot did it, and it carries the offset map forward.
    replace = [s for s in compacted.metadata.snapshots if s.summary.operation.value == "replace"]
    assert len(replace) == 1
    table = writer.current()
    recorded = check_exact(table)
    assert recorded == writer.next == {(p): n for (_, p), n in recorded_offsets(table).items()}
    assert table.scan().to_arrow().num_rows == sum(writer.next.values())
    hours = _hours(table)
    for hour in before_hours:  # each closed hour is now one file, under the target
        assert len(hours[hour]) == 1 and hours[hour][0].file_size_in_bytes < CFG.target_bytes
    print(f"reads during the run: {reads[0]}, commit conflicts retried: {report.conflicts}")


def test_expiry_and_orphan_removal_delete_exactly_the_unreferenced_files(lake_dir: Path, store: CatalogStore) -> None:
    writer = Writer(lake_dir, store)
    writer.seed([3, 2], flushes=4)
    table: Any = compact_iceberg(writer.current(), CFG, time.time(), IcebergPassReport())
    writer.flush(0, 5, time.time())  # one append after the replace
    table = writer.current()
    folder = lake_dir / TOPIC
    current = table.current_snapshot()
    kept_manifests = {m.manifest_path for m in current.manifests(table.io)}
    data = {f for f in _files(folder) if "/data/" in f}
    manifests = {f for f in _files(folder / "metadata") if f.endswith(".avro") and "snap-" not in f}
    lists = {f for f in _files(folder / "metadata") if "snap-" in f}
    # What no snapshot but the current one needs: replaced data files, older manifests and manifest lists.
    expected = (data - _planned(table)) | (manifests - kept_manifests) | (lists - {current.manifest_list})
    assert len(data - _planned(table)) == 24
    before = _files(folder)

    report = IcebergPassReport()
    cfg = CFG.model_copy(update={"iceberg_keep_snapshots": 1, "iceberg_snapshot_retention": "1h"})
    table = expire_snapshots(table, cfg, time.time() + 2 * HOUR, report)
    after = _files(folder)
    assert before - after == expected
    assert [s.snapshot_id for s in table.metadata.snapshots] == [current.snapshot_id]
    assert check_exact(table) == writer.next

    # Orphans: planted files no metadata names; only those older than the safety age go.
    some = sorted(_planned(table))[0]
    old_data, young_data = folder / "data" / "old-orphan.parquet", folder / "data" / "young-orphan.parquet"
    old_meta = folder / "metadata" / "old-orphan-m0.avro"
    for f in (old_data, young_data, old_meta):
        shutil.copy(some, f)
    two_days_ago = time.time() - 2 * 86400
    for f in (old_data, old_meta):
        os.utime(f, (two_days_ago, two_days_ago))
    before = _files(folder)
    remove_orphans(table, open_lake(str(lake_dir)), cfg, time.time(), report)
    assert before - _files(folder) == {str(old_data), str(old_meta)}
    assert report.orphans_deleted == 2
    assert check_exact(writer.current()) == writer.next


def test_snapshots_past_the_cap_expire_even_within_the_retention(lake_dir: Path, store: CatalogStore) -> None:
    """A busy sink makes thousands of snapshots an hour and each one makes every commit slower:
    iceberg_max_snapshots bounds them whatever their age; the table and its offsets stay exact."""
    writer = Writer(lake_dir, store)
    writer.seed([0], flushes=4)  # 12 snapshots, all young
    table: Any = writer.current()
    assert len(table.metadata.snapshots) == 12
    newest = [s.snapshot_id for s in _history(table)][-5:]
    report = IcebergPassReport()
    capped = CFG.model_copy(update={"iceberg_keep_snapshots": 1, "iceberg_max_snapshots": 5})
    table = expire_snapshots(table, capped, time.time(), report)
    assert [s.snapshot_id for s in _history(table)] == newest and report.snapshots_expired == 7
    assert check_exact(table) == writer.next
    # Without a cap, young snapshots stay (the retention alone decides).
    writer.seed([0], flushes=1)
    uncapped = CFG.model_copy(update={"iceberg_keep_snapshots": 1, "iceberg_max_snapshots": 0})
    table = expire_snapshots(writer.current(), uncapped, time.time(), IcebergPassReport())
    assert len(table.metadata.snapshots) == 8


def _history(table: Any) -> list[Any]:
    return sorted(table.metadata.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number))


def test_retention_drops_whole_expired_hours_in_one_delete_snapshot(lake_dir: Path, store: CatalogStore) -> None:
    writer = Writer(lake_dir, store)
    writer.seed([50, 49], flushes=2)  # two days ago
    kept_from = dict(writer.next)
    writer.seed([3], flushes=2)
    report = IcebergPassReport()
    # Hours written to in the last closed_after_minutes wait: the seed just wrote them all.
    waited = drop_expired_hours(writer.current(), MaintenanceSettings(), 86400, time.time(), report)
    assert report.hours_dropped == 0 and report.skipped
    table: Any = drop_expired_hours(waited, CFG, 86400, time.time(), report)
    assert report.hours_dropped == 2 and report.files_dropped == 12
    snap = table.current_snapshot()
    assert snap.summary.operation.value == "delete"
    assert recorded_offsets(table) == {(TOPIC, p): n for p, n in writer.next.items()}  # carried forward
    rows = table.scan(selected_fields=("_partition", "_offset")).to_arrow()
    left = sorted(zip(rows["_partition"].to_pylist(), rows["_offset"].to_pylist(), strict=True))
    assert left == sorted((p, o) for p in writer.next for o in range(kept_from[p], writer.next[p]))
    # The sink goes on from the recorded offsets.
    writer.flush(0, 3, time.time())
    assert recorded_offsets(writer.current())[(TOPIC, 0)] == writer.next[0]


def _maintain(lake_dir: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTLAKE_")}
    env |= {"EVENTLAKE_MAINTENANCE__TARGET_FILE_MB": "1", "EVENTLAKE_MAINTENANCE__CLOSED_AFTER_MINUTES": "0"}
    return subprocess.Popen(
        [EVENTLAKE, "maintain", "--once", "--format", "json", "--lake", str(lake_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_a_compaction_process_sigkilled_midway_leaves_the_table_exact(lake_dir: Path, store: CatalogStore) -> None:
    writer = Writer(lake_dir, store)
    writer.seed([5, 4, 3, 2], flushes=3, partitions=2)
    table = writer.current()
    data = lake_dir / TOPIC / "data"
    inputs = _files(data)
    proc = _maintain(lake_dir)
    deadline = time.monotonic() + 60
    # Kill it once it has written merged files but before the replace names them.
    while not (_files(data) - inputs) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)  # reaps it and closes its pipes
    written = _files(data) - inputs
    assert written, "the kill did not land mid-way"
    table = writer.current()
    assert check_exact(table) == writer.next
    assert table.current_snapshot().summary.operation.value == "append"  # nothing was swapped
    assert not (written & _planned(table))  # its files are never read

    writer.flush(1, 4, time.time())  # the sink goes on meanwhile
    # The next pass (in this process: a second start of the CLI costs seconds) does the work.
    settings = load_settings(
        overrides={"lake": str(lake_dir), "maintenance": {"target_file_mb": 1, "closed_after_minutes": 0}}
    )
    [report] = maintain_once(settings).tables
    assert report.table == f"default.{TOPIC}" and report.partitions_compacted == 4, report
    table = writer.current()
    assert check_exact(table) == writer.next
    assert len(_planned(table)) == 4 + 1  # an hour a file, and the open hour's append
    # The killed pass's files are orphans: removed once older than the safety age.
    report_ = IcebergPassReport()
    cfg = CFG.model_copy(update={"iceberg_keep_snapshots": 1})
    table = expire_snapshots(table, cfg, time.time() + 2 * HOUR, report_)
    remove_orphans(table, open_lake(str(lake_dir)), cfg, time.time() + 2 * 86400, report_)
    assert _files(data) == _planned(writer.current())
    assert report_.orphans_deleted >= len(written)
    assert check_exact(writer.current()) == writer.next


def test_an_iceberg_sink_compacts_closed_hours_in_its_background(bootstrap: str, topic: str, tmp_path: Path) -> None:
    """A real sink (session broker) with --table-format iceberg runs the maintenance thread: its small
    files of two closed hours end as one file an hour, every event still there once."""
    from eventlake.catalog.iceberg_sql import open_iceberg_catalog
    from eventlake.sink import run_sink
    from eventlake.types import table_name_for_topic
    from tests.fixtures_sink import produce_events

    n, hour_ms = 1500, HOUR * 1000
    base = (int(time.time() * 1000) // hour_ms - 4) * hour_ms
    events = [{"id": i, "at": base + i * (2 * hour_ms // n)} for i in range(n)]
    sent = produce_events(bootstrap, topic, events)
    settings = load_settings(
        overrides={
            "bootstrap_servers": bootstrap,
            "lake": str(tmp_path / "lake"),
            "sink": {
                "group": f"g-{topic}",
                "flush_rows": 100,
                "consume_batch": 100,
                "time_field": "at",
                "table_format": "iceberg",
            },
            "maintenance": {
                "interval_s": 1.0,
                "iceberg_interval_s": 1.0,
                "closed_after_minutes": 0.0,
                "target_file_mb": 1,
            },
        }
    )
    stop = threading.Event()
    sink = threading.Thread(target=run_sink, args=(settings, [topic], stop), daemon=True)
    sink.start()
    files: dict[int, list[Any]] = {}
    try:
        deadline = time.monotonic() + 120
        while True:
            table: Any = None
            # Not made yet; opened here only: pyiceberg's SqlCatalog makes its SQL tables on first open,
            # and two first opens at once (the sink's and ours) race that.
            with contextlib.suppress(Exception):
                catalog = open_iceberg_catalog(open_lake(settings.lake), settings)
                table = catalog.load_table(("default", table_name_for_topic(topic)))
            if table is not None and table.current_snapshot() is not None:
                files = _hours(table)
                if sum(recorded_offsets(table).values()) == n and all(len(f) == 1 for f in files.values()):
                    break
            assert time.monotonic() < deadline, f"files per hour after 120 s: {[len(f) for f in files.values()]}"
            time.sleep(0.5)
    finally:
        stop.set()
        sink.join(60)
    assert len(files) == 2
    rows = table.scan(selected_fields=("_partition", "_offset", "id")).to_arrow()
    landed = sorted(zip(rows["_partition"].to_pylist(), rows["_offset"].to_pylist(), strict=True))
    assert landed == sorted(sent.by_coord)
    assert sorted(rows["id"].to_pylist()) == list(range(n))
    assert any(s.summary.operation.value == "replace" for s in table.metadata.snapshots)
