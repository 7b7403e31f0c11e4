"""`python -m bench.iceberg_commits [N]`: the Iceberg sink's commit cost as snapshots accumulate.

N empty appends (the commit path alone: the flush's catalog read, the offset check, pyiceberg's
fast append and the catalog's swap) to one table in a fresh local lake, 3 partitions in turn;
prints wall and CPU milliseconds per commit for each hundred. No broker, no data files.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

from eventlake.catalog.iceberg_sql import open_iceberg_catalog
from eventlake.config import Settings, load_settings
from eventlake.lake import open_lake
from eventlake.sink.iceberg_commit import _commit, next_offset
from eventlake.sink.iceberg_table import IcebergSinkTable
from eventlake.sink.ledger import Batch


def main(commits: int) -> None:
    root = tempfile.mkdtemp(prefix="iceberg-commits-")
    try:
        settings = load_settings(overrides={"lake": root})
        lake = open_lake(settings.lake, settings.s3)
        ice = IcebergSinkTable(open_iceberg_catalog(lake, Settings()), lake, "default", "t", "t", "_timestamp", [])
        ice.ensure(pa.schema([pa.field("x", pa.int64()), pa.field("_timestamp", pa.timestamp("us", tz="UTC"))]))
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(commits):
            partition, first = i % 3, (i // 3) * 10
            batch = Batch("ev", partition, first, [], np.asarray([first + 9]), np.zeros(1, dtype=np.int64), [])
            batch.ledger_topic = "ev"
            next_offset(ice, "ev", partition)  # the flush's one catalog read
            if _commit(ice, batch, [], "bench") is None:
                raise RuntimeError(f"commit {i} was refused")
            if (i + 1) % 100 == 0:
                now_wall, now_cpu = time.perf_counter(), time.process_time()
                print(
                    f"commits {i - 98}-{i + 1}: {(now_wall - wall) * 10:.1f} ms wall, "
                    f"{(now_cpu - cpu) * 10:.1f} ms CPU per commit",
                    flush=True,
                )
                wall, cpu = now_wall, now_cpu
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 400)
