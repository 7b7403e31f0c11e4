"""Lakes for the query, crawl and compaction tests.

`sunk_lake` builds what the sink leaves behind without a broker: Hive-partitioned Parquet
files named by Kafka offsets, each recorded by one ledger entry (store.commit_flush), so
queries see exactly the files the ledger names. The source events come back as a pandas
DataFrame so tests can compare aggregates with pandas.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.catalog import Column, DataFile, LedgerEntry, Table, open_catalog
from eventlake.config import Settings, load_settings
from eventlake.types import TableRef

TOPIC = "stock-ticks"
TABLE = TableRef("default", "stock_ticks")
COLUMNS = [Column("symbol", "string"), Column("price", "double"), Column("volume", "bigint"), Column("ts", "timestamp")]
KEYS = [Column("dt", "date"), Column("hour", "int")]


@dataclass
class SunkLake:
    root: Path
    settings: Settings
    source: pd.DataFrame  # every event, with kafka_partition and offset


def lake_settings(root: Path, **extra: object) -> Settings:
    return load_settings(None, {"lake": str(root), **extra})


def source_events(
    rows: int = 3000, seed: int = 7, start: pd.Timestamp | None = None, span_s: int = 5 * 3600
) -> pd.DataFrame:
    """Events over two days and a few hours, ~10% null prices, spread over 3 Kafka partitions.

    `start`/`span_s`: when the events happen instead (UTC, naive), e.g. within one hour still to come."""
    rng = np.random.default_rng(seed)
    symbols = np.array(["AAPL", "MSFT", "AMZN", "GOOG", "NVDA"])
    start = pd.Timestamp("2024-01-01 22:00:00") if start is None else start
    ts = start + pd.to_timedelta(np.sort(rng.integers(0, span_s, rows)), unit="s")
    price = rng.normal(100, 20, rows).round(2)
    price[rng.random(rows) < 0.1] = np.nan
    df = pd.DataFrame(
        {
            "symbol": rng.choice(symbols, rows),
            "price": price,
            "volume": rng.integers(1, 1000, rows).astype("int64"),
            "ts": ts.astype("datetime64[us]"),
        }
    )
    df["kafka_partition"] = np.arange(rows) % 3
    df["offset"] = df.groupby("kafka_partition").cumcount()
    return df


def write_flush(
    store_root: Path, df: pd.DataFrame, partition: int, first: int, last: int, extra: list[str] | None = None
) -> list[DataFile]:
    """One flush of one Kafka partition: a Parquet file per (dt, hour), named by topic/partition/offsets."""
    table = pa.Table.from_pandas(df[["symbol", "price", "volume", "ts", *(extra or [])]], preserve_index=False)
    return _write_flush(store_root, table, _FlushKeys.of(df), partition, first, last)


@dataclass
class _FlushKeys:
    """Per event: its hour, event time (epoch s) and offset, as arrays (sliced per flush without pandas)."""

    hours: np.ndarray
    seconds: np.ndarray
    offsets: np.ndarray

    @classmethod
    def of(cls, df: pd.DataFrame) -> _FlushKeys:
        return cls(
            df["ts"].to_numpy().astype("datetime64[h]"),
            df["ts"].astype("int64").to_numpy() / 1e6,
            df["offset"].to_numpy(),
        )

    def slice(self, start: int, stop: int) -> _FlushKeys:
        return _FlushKeys(self.hours[start:stop], self.seconds[start:stop], self.offsets[start:stop])


def _write_flush(
    store_root: Path, table: pa.Table, keys: _FlushKeys, partition: int, first: int, last: int
) -> list[DataFile]:
    files = []
    for hour_of in np.unique(keys.hours):  # sorted: files in (dt, hour) order
        dt, hour = str(hour_of)[:10], str(hour_of)[11:13]
        folder = store_root / "stock_ticks" / f"dt={dt}" / f"hour={hour}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{TOPIC}-{partition}-{first:012d}-{last:012d}.parquet"
        mask = keys.hours == hour_of
        pq.write_table(table.filter(pa.array(mask)), path)
        events, offsets = keys.seconds[mask], keys.offsets[mask]
        files.append(
            DataFile(
                path=str(path),
                partition={"dt": dt, "hour": hour},
                rows=int(mask.sum()),
                bytes=path.stat().st_size,
                topic=TOPIC,
                kafka_partition=partition,
                first_offset=int(offsets.min()),
                last_offset=int(offsets.max()),
                min_event_time=float(events.min()),
                max_event_time=float(events.max()),
            )
        )
    return files


def build_sunk_lake(
    root: Path,
    rows: int = 3000,
    flush_rows: int = 250,
    start: pd.Timestamp | None = None,
    span_s: int = 5 * 3600,
    **extra: object,
) -> SunkLake:
    """`rows` events landed by flushes of `flush_rows` per Kafka partition (arrow slices: ~2-3 ms a flush)."""
    settings = lake_settings(root, **extra)
    source = source_events(rows, start=start, span_s=span_s)
    with open_catalog(settings) as store:
        store.upsert_table(
            Table("default", "stock_ticks", str(root / "stock_ticks"), "parquet", COLUMNS, KEYS, source="sink")
        )
        for partition, events in source.groupby("kafka_partition"):
            table = pa.Table.from_pandas(events[["symbol", "price", "volume", "ts"]], preserve_index=False)
            keys = _FlushKeys.of(events)
            for at in range(0, len(events), flush_rows):
                chunk = keys.slice(at, at + flush_rows)
                first, last = int(chunk.offsets.min()), int(chunk.offsets.max())
                files = _write_flush(root, table.slice(at, flush_rows), chunk, int(partition), first, last)
                store.commit_flush(
                    LedgerEntry(
                        TOPIC,
                        int(partition),
                        first,
                        last,
                        TABLE,
                        files,
                        len(chunk.offsets),
                        max_event_time=max(f.max_event_time or 0 for f in files),
                    )
                )
    return SunkLake(root, settings, source)


@pytest.fixture
def sunk_lake(tmp_path: Path) -> Iterator[SunkLake]:
    yield build_sunk_lake(tmp_path / "lake")


@pytest.fixture(scope="module")
def shared_sunk_lake(tmp_path_factory: pytest.TempPathFactory) -> SunkLake:
    """One `sunk_lake` for the tests of a module that only read it (built once: ~0.3 s each).

    A test that changes the lake, its files or its catalog takes `sunk_lake` instead.
    """
    return build_sunk_lake(tmp_path_factory.mktemp("shared") / "lake")


def lake_contents(root: Path) -> dict[str, bytes]:
    """Every file under `root` with its bytes: equal before and after means nothing was written."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def orders(rows: int = 600, seed: int = 3) -> pd.DataFrame:
    """Orders as another tool would export them: typed columns, a null now and then, dt/region."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "order_id": np.arange(rows, dtype="int64"),
            "amount": rng.normal(50, 15, rows).round(2),
            "paid": rng.random(rows) < 0.7,
            "ts": (pd.Timestamp("2024-03-01") + pd.to_timedelta(rng.integers(0, 3 * 86400, rows), unit="s")).astype(
                "datetime64[us]"
            ),
            "customer": rng.choice(["ann", "bob", "cy", "dee"], rows),
        }
    )
    df.loc[rng.random(rows) < 0.05, "amount"] = np.nan
    df["dt"] = df["ts"].dt.strftime("%Y-%m-%d")
    df["region"] = rng.choice(["eu", "us", "apac"], rows)
    return df


def write_hive_csv(root: Path, df: pd.DataFrame, keys: tuple[str, ...] = ("dt", "region")) -> list[Path]:
    paths = []
    for values, part in df.groupby(list(keys)):
        folder = root.joinpath(*(f"{k}={v}" for k, v in zip(keys, values, strict=True)))
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "part-0.csv"
        part.drop(columns=list(keys)).to_csv(path, index=False)
        paths.append(path)
    return paths


def write_hive_parquet(root: Path, df: pd.DataFrame, keys: tuple[str, ...] = ("dt", "region")) -> None:
    pq.write_to_dataset(pa.Table.from_pandas(df, preserve_index=False), root, partition_cols=list(keys))
