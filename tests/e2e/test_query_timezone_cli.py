"""`eventlake query` on a machine whose clock is not in UTC."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from eventlake.catalog import Column, DataFile, Table, open_catalog
from eventlake.types import TableRef
from tests.e2e.conftest import Run
from tests.fixtures_query import lake_settings


def test_timestamps_read_as_utc_on_a_machine_in_another_zone(cli: Run, tmp_path: Path) -> None:
    """The sink stores UTC instants and the catalog says `timestamp` (UTC wall-clock time, as
    Athena reads it): a machine in New York must see midnight UTC as midnight, not 19:00."""
    root = tmp_path / "lake"
    folder = root / "ticks" / "price=12.50"
    folder.mkdir(parents=True)
    path = folder / "t+0+0+0.parquet"
    pq.write_table(pa.table({"ts": pa.array([1_704_067_200_000], pa.timestamp("ms", tz="UTC"))}), path)
    settings = lake_settings(root)
    ref = TableRef("default", "ticks")
    with open_catalog(settings) as store:
        store.upsert_table(
            Table(
                ref.database,
                ref.name,
                str(root / "ticks"),
                "parquet",
                [Column("ts", "timestamp")],
                [Column("price", "decimal(6,2)")],
                source="sink",
            )
        )
        store.add_files(ref, [DataFile(str(path), {"price": "12.50"}, 1, path.stat().st_size)])
    done = cli(
        "query", "--lake", str(root), "--format", "csv", "SELECT ts, price, typeof(price) AS t FROM ticks",
        env={"TZ": "America/New_York"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert list(csv.reader(done.stdout.splitlines()))[1:] == [["2024-01-01T00:00:00", "12.50", "DECIMAL(6,2)"]]
