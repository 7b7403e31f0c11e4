"""Maintenance killed at random points leaves tables exact and its leftovers are swept.

Whole `eventlake maintain` processes SIGKILLed mid-pass: process-level, so it runs with
`make test`, not in the fast unit loop (`make check`). Closed hours are merged whole; the open
hour's older minutes into pieces, by the same lease / pending / conditional-swap machinery.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from eventlake.catalog import CatalogStore, open_catalog
from eventlake.catalog.compact import is_compacted, settle_pending
from eventlake.catalog.maintain import hour_end
from eventlake.lake import open_lake
from eventlake.query import connect
from tests.fixtures_query import TABLE, SunkLake, build_sunk_lake

ALL_ROWS = "SELECT symbol, price, volume, ts, dt, hour FROM stock_ticks ORDER BY ts, symbol, volume, price"
CMD = [sys.executable, "-c", "from eventlake.cli.main import run; run()", "maintain", "--once"]


def _on_disk(root: Path) -> set[str]:
    return {str(p) for p in (root / "stock_ticks").rglob("*.parquet")}


def _env(lake: SunkLake, **maintenance: str) -> dict[str, str]:
    return {
        **os.environ,
        "EVENTLAKE_LAKE": str(lake.root),
        "EVENTLAKE_MAINTENANCE__GRACE_S": "0",
        "EVENTLAKE_MAINTENANCE__LEASE_S": "1",
        "EVENTLAKE_MAINTENANCE__TARGET_FILE_MB": "1",
        **{f"EVENTLAKE_MAINTENANCE__{k.upper()}": v for k, v in maintenance.items()},
    }


def _merging(store: CatalogStore, pid: int, *, swapped: bool) -> bool:
    """Whether process `pid` began a merge (its pending output) or swapped one in (inputs it retired).
    Lease owners are `host:pid:id`, readable in the catalog for this kind of question."""
    kinds = {kind for _path, _ref, kind, owner, _at in store.pending() if f":{pid}:" in owner}
    return "retired" in kinds if swapped else bool(kinds)


def _kill_rounds(
    lake: SunkLake, env: dict[str, str], expected: pd.DataFrame, after: list[str], max_delay_s: float
) -> tuple[int, int, int]:
    """One maintain process per item of `after`, SIGKILLed a random time after its first merge
    `began` or after it `swapped` a first merged file in (if still running); the table is exact
    after each. Returns (kills, kills after a swap of that pass, pending entries left behind)."""
    rnd = random.Random(13)
    kills, kills_after_swap, left_behind = 0, 0, 0
    for anchor in after:
        proc = subprocess.Popen(CMD, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open_catalog(lake.settings) as store:
            while proc.poll() is None and not _merging(store, proc.pid, swapped=anchor == "swapped"):
                time.sleep(0.02)
            time.sleep(rnd.uniform(0.0, max_delay_s))  # then anywhere: writing, swapping, deleting
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
                kills_after_swap += anchor == "swapped"
            proc.wait(60)
            left_behind += len(store.pending())
        with connect(lake.settings) as engine:  # exact after every kill
            assert engine.sql(ALL_ROWS, max_rows=0).equals(expected)
    return kills, kills_after_swap, left_behind


def _clean_pass_sweeps_everything(lake: SunkLake, env: dict[str, str], expected: pd.DataFrame) -> None:
    time.sleep(1.1)  # the killed holders' leases (1 s) run out
    done = subprocess.run(CMD, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with open_catalog(lake.settings) as store:
        assert store.pending() == []
        # Temp files of writes cut short are swept once surely dead (a minute old): pretend it is later.
        settle_pending(store, open_lake(lake.settings.lake), 0.0, now=time.time() + 120)
        files = store.list_files(TABLE)
    assert _on_disk(lake.root) == {f.path for f in files}  # orphans of the killed passes are gone
    assert not any((lake.root / "_tmp").glob("*"))
    with connect(lake.settings) as engine:
        assert engine.sql(ALL_ROWS, max_rows=0).equals(expected)


def test_sigkill_of_maintain_at_random_points_leaves_the_table_exact_and_leftovers_are_swept(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=9000, flush_rows=5)  # ~1800 files in 5 hours
    with connect(lake.settings) as engine:
        expected = engine.sql(ALL_ROWS, max_rows=0)
    kills, _, left_behind = _kill_rounds(lake, _env(lake), expected, ["began"] * 4, max_delay_s=1.5)
    assert kills >= 3 and left_behind > 0
    _clean_pass_sweeps_everything(lake, _env(lake), expected)


def test_sigkill_of_maintain_merging_the_open_hour_leaves_it_exact_with_lineage_once(tmp_path: Path) -> None:
    # Event times in the next hour: open for the whole test, whenever it runs.
    start = (int(time.time()) // 3600 + 1) * 3600
    lake = build_sunk_lake(
        tmp_path / "lake", rows=360_000, flush_rows=400, start=pd.Timestamp(start, unit="s"), span_s=3599
    )  # 900 files of ~7 KB, all in that hour
    with open_catalog(lake.settings) as store:
        before = store.list_files(TABLE)
    [hour] = {tuple(f.partition.items()) for f in before}
    with connect(lake.settings) as engine:
        expected = engine.sql(ALL_ROWS, max_rows=0)
    # Sink files older than 0.06 s are merged, in pieces, as long as the hour is open (2 h after it ends).
    env = _env(lake, open_hour_seconds="0.06", closed_after_minutes="120")
    kills, after_swap, left_behind = _kill_rounds(lake, env, expected, ["began", "swapped"] * 2, max_delay_s=0.2)
    assert kills >= 3 and after_swap >= 1 and left_behind > 0
    _clean_pass_sweeps_everything(lake, env, expected)

    with open_catalog(lake.settings) as store:
        files = store.list_files(TABLE)
    assert {tuple(f.partition.items()) for f in files} == {hour}
    end = hour_end(dict(hour))
    assert end is not None and end + 120 * 60 > time.time()  # still open: the open-hour rule merged it
    pieces = [f for f in files if is_compacted(f)]
    assert pieces and len(files) < len(before)
    # Lineage: per Kafka partition, the files' offset ranges cover every offset exactly once, rows included.
    for p, events in lake.source.groupby("kafka_partition"):
        ranges = sorted((r.first_offset, r.last_offset, r.rows) for f in files for r in f.lineage() if r.partition == p)
        assert ranges[0][0] == 0 and ranges[-1][1] == len(events) - 1
        assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
        assert sum(r[2] for r in ranges) == len(events)
