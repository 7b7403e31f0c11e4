"""Maintenance killed at random points leaves tables exact and its leftovers are swept.

Whole `eventlake maintain` processes SIGKILLed mid-pass: process-level, so it runs with
`make test`, not in the fast unit loop (`make check`).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from eventlake.catalog import open_catalog
from eventlake.catalog.compact import settle_pending
from eventlake.lake import open_lake
from eventlake.query import connect
from tests.fixtures_query import TABLE, build_sunk_lake

ALL_ROWS = "SELECT symbol, price, volume, ts, dt, hour FROM stock_ticks ORDER BY ts, symbol, volume, price"


def _on_disk(root: Path) -> set[str]:
    return {str(p) for p in (root / "stock_ticks").rglob("*.parquet")}


def test_sigkill_of_maintain_at_random_points_leaves_the_table_exact_and_leftovers_are_swept(tmp_path: Path) -> None:
    lake = build_sunk_lake(tmp_path / "lake", rows=9000, flush_rows=5)  # ~1800 files in 5 hours
    with connect(lake.settings) as engine:
        expected = engine.sql(ALL_ROWS, max_rows=0)
    env = {
        **os.environ,
        "EVENTLAKE_LAKE": str(lake.root),
        "EVENTLAKE_MAINTENANCE__GRACE_S": "0",
        "EVENTLAKE_MAINTENANCE__LEASE_S": "1",
        "EVENTLAKE_MAINTENANCE__TARGET_FILE_MB": "1",
    }
    cmd = [sys.executable, "-c", "from eventlake.cli.main import run; run()", "maintain", "--once"]
    rnd = random.Random(13)
    kills, left_behind = 0, 0
    for _ in range(4):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open_catalog(lake.settings) as store:
            while proc.poll() is None and not store.pending():  # its first merge has begun
                time.sleep(0.02)
            time.sleep(rnd.uniform(0.0, 1.5))  # then anywhere: writing, swapping, deleting
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(60)
            left_behind += len(store.pending())
        with connect(lake.settings) as engine:  # exact after every kill
            assert engine.sql(ALL_ROWS, max_rows=0).equals(expected)
    assert kills >= 3 and left_behind > 0
    time.sleep(1.1)  # the killed holders' leases (1 s) run out
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
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
