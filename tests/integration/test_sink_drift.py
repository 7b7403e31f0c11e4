"""Schema drift while ONE sink runs, then the table folder read by engines that are not eventlake.

One topic gets, batch after batch (each landed before the next is produced): an int field
that turns double, new fields, null-only fields, objects gaining keys (nested too), `{}` that
later has fields, fractional timestamps. Spark (`spark.read.parquet`, default options),
pyarrow.dataset, polars, pandas and `eventlake query` must all read the table folder as it
is and agree with the source, id by id; Glue's table and every partition must declare what
Athena's Parquet rules accept for every file.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from eventlake.broker import TopicAdmin
from eventlake.catalog import open_catalog
from eventlake.catalog.glue import GluePublisher, PublishReport
from eventlake.catalog.hive_types import Array, HiveType, Struct, format_type, parse
from eventlake.config import Settings, load_settings
from eventlake.config.aws import AwsSettings
from eventlake.query import connect
from eventlake.sink.conform import file_schema
from eventlake.sink.runner import Sink
from eventlake.types import TableRef, table_name_for_topic
from tests.fixtures_sink import produce_events

pytestmark = pytest.mark.integration

PER_BATCH = 400
COLUMNS = ["id", "v", "n", "late", "o", "empty", "extra", "flag", "tags", "at", "ts2", "tag"]
TS_COLUMNS = ("at", "ts2")


def _event(batch: int, i: int) -> dict[str, Any]:
    """Batch 0: v int, n/late null, o {a}, empty {}; 1: v double; 2: new fields, o gains b;
    3: null-only batch for late and extra, o.c nested; 4: late typed bigint, empty gains k."""
    hour = 3 + i % 2  # both folders get files of every schema version
    frac = f"{i % 1000:03d}{i % 7}{i % 10}{i % 3}"  # 7 fractional digits: cut to milliseconds
    e: dict[str, Any] = {
        "id": i,
        "v": i if batch == 0 else i + 0.5,
        "n": None,
        "late": None,
        "o": {"a": i},
        "empty": {},
        "tag": f"b{batch}",
        "at": f"2024-01-02T{hour:02d}:{i % 60:02d}:{(i // 60) % 60:02d}.{frac}Z",
        "ts2": f"2024-01-02 05:06:07.{frac[:4]}+01:00",
    }
    if batch >= 2:
        e["extra"] = None if batch == 3 else f"x{i}"
        e["flag"] = i % 3 == 0 if batch != 3 else None
        e["tags"] = [f"t{i % 5}"] * (i % 3)
        e["o"] = {"a": i, "b": f"s{i}"}
    if batch >= 3:
        e["o"]["c"] = {"d": i / 4}
    if batch == 4:
        e["late"] = i * 1000
        e["empty"] = {"k": i % 9}
    return e


def _ms(text: str) -> int:
    """The sink's rule: ISO-8601 to UTC epoch milliseconds, finer digits cut."""
    head, _, frac = text.replace(" ", "T").partition(".")
    digits = frac[: len(frac) - len(frac.lstrip("0123456789"))]
    zone = frac[len(digits) :]
    when = dt.datetime.fromisoformat(head + zone.replace("Z", "+00:00"))
    return int(when.timestamp()) * 1000 + int((digits + "000")[:3])


def _expected(e: dict[str, Any]) -> dict[str, Any]:
    o = {"a": e["o"]["a"], "b": e["o"].get("b"), "c": e["o"].get("c")}
    expected: dict[str, Any] = _norm(
        {
            "id": e["id"],
            "v": float(e["v"]),
            "n": None,
            "late": e["late"],
            "o": o,
            "empty": e["empty"] or None,
            "extra": e.get("extra"),
            "flag": e.get("flag"),
            "tags": e.get("tags"),
            "at": _ms(e["at"]),
            "ts2": _ms(e["ts2"]),
            "tag": e["tag"],
        }
    )
    return expected


def _norm(x: Any) -> Any:
    """One shape for every reader's values: numbers as float, times as epoch ms, NaN/NaT as None."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or str(x) in ("NaT", "<NA>"):
        return None
    if hasattr(x, "asDict"):  # a Spark Row
        x = x.asDict(recursive=True)
    if isinstance(x, dict):
        return {k: _norm(v) for k, v in x.items()}
    if isinstance(x, bool) or type(x).__name__ == "bool_":
        return bool(x)
    if isinstance(x, dt.datetime):  # naive values are UTC here (Spark session and pandas both)
        aware = x if x.tzinfo else x.replace(tzinfo=dt.UTC)
        return float(round(aware.timestamp() * 1000))
    if hasattr(x, "tolist") and not isinstance(x, str | bytes):  # numpy scalars and arrays
        return _norm(x.tolist())
    if isinstance(x, list | tuple):
        return [_norm(v) for v in x]
    if isinstance(x, int | float):
        return float(x)
    return x


def _by_id(rows: list[dict[str, Any]]) -> dict[float, dict[str, Any]]:
    out = {}
    for r in rows:
        row = {c: _norm(r.get(c)) for c in COLUMNS}
        for c in TS_COLUMNS:  # Spark gives these as epoch microseconds (see _spark)
            if isinstance(r.get(c), int) and r[c] > 10**14:
                row[c] = float(r[c] // 1000)
        out[row["id"]] = row
    return out


def _settings(bootstrap: str, lake: Path, group: str) -> Settings:
    return load_settings(
        overrides={
            "bootstrap_servers": bootstrap,
            "lake": str(lake),
            "sink": {"group": group, "time_field": "at", "flush_seconds": 0.3, "orphan_grace_seconds": 0.0},
        }
    )


def _aws(endpoint: str) -> AwsSettings:
    return AwsSettings(
        endpoint_url=endpoint, access_key_id="testing", secret_access_key=SecretStr("testing"), glue_database="drift"
    )


def _wait(what: str, ok: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


class Drifted:
    def __init__(
        self,
        settings: Settings,
        topic: str,
        source: dict[float, dict[str, Any]],
        first_publish: PublishReport,
        last_publish: PublishReport,
        rewritten_during_run: int,
    ) -> None:
        self.settings, self.topic, self.source = settings, topic, source
        self.first_publish, self.last_publish = first_publish, last_publish
        self.rewritten_during_run = rewritten_during_run
        self.ref = TableRef(settings.database, table_name_for_topic(topic))
        self.folder = Path(settings.lake) / self.ref.name


@pytest.fixture(scope="module")
def drifted(
    bootstrap: str, admin: TopicAdmin, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Drifted]:
    topic = f"drift-{int(time.time() * 1000) % 10**9}"
    admin.create(topic, partitions=3)
    settings = _settings(bootstrap, tmp_path_factory.mktemp("drift") / "lake", f"g-{topic}")
    stop = threading.Event()
    sink = Sink(settings, [topic], stop)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            sink.run()
        except BaseException as exc:  # surfaced by the test below
            failure.append(exc)

    thread = threading.Thread(target=run, name="drift-sink", daemon=True)
    thread.start()
    source: dict[float, dict[str, Any]] = {}
    publisher = GluePublisher(_aws(moto_endpoint))
    first_publish = PublishReport()
    with open_catalog(settings) as store:
        for batch in range(5):
            events = [_event(batch, i) for i in range(batch * PER_BATCH, (batch + 1) * PER_BATCH)]
            produce_events(bootstrap, topic, events)
            source.update({float(e["id"]): _expected(e) for e in events})
            _wait(
                f"batch {batch} to land",
                lambda: (
                    not failure
                    and sum(r["rows"] for r in store.ledger_summary(0) if r["topic"] == topic) == len(source)
                ),
            )
            if batch == 1:  # Glue partitions made now hold the schema of this moment
                assert sink.conformer is not None and sink.conformer.wait_idle(60)
                first_publish = publisher.publish(store, allow_local=True)
        assert not failure, failure
        assert sink.conformer is not None and sink.conformer.wait_idle(60)
        rewritten = sum(
            1 for f in store.list_files(TableRef(settings.database, table_name_for_topic(topic))) if "+r" in f.path
        )
        last_publish = publisher.publish(store, allow_local=True)
    stop.set()
    thread.join(60)
    assert not failure, failure
    yield Drifted(settings, topic, source, first_publish, last_publish, rewritten)


def _listed_and_present(d: Drifted) -> tuple[set[str], set[str]]:
    with open_catalog(d.settings) as store:
        listed = {Path(f.path).resolve().as_posix() for f in store.list_files(d.ref)}
    present = {p.resolve().as_posix() for p in d.folder.rglob("*") if p.is_file()}
    return listed, present


def test_every_file_holds_the_table_schema(drifted: Drifted) -> None:
    listed, present = _listed_and_present(drifted)
    assert listed == present and len(listed) > 10  # old files were deleted after their swap
    assert drifted.rewritten_during_run > 0  # rewritten by the running sink, not at its stop
    with open_catalog(drifted.settings) as store:
        table = store.get_table(drifted.ref)
        assert table is not None
        target = file_schema(table)
        assert sum(f.rows for f in store.list_files(drifted.ref)) == len(drifted.source)
    assert {c.name: c.type for c in table.columns}["v"] == "double"
    for path in present:
        schema = pq.read_schema(path)
        assert schema.equals(target), path
        assert "null" not in str(schema)


def _readers(d: Drifted) -> dict[str, list[dict[str, Any]]]:
    import pandas as pd
    import polars as pl

    folder = str(d.folder)
    glob = f"{folder}/**/*.parquet"
    with connect(d.settings) as engine:
        quoted = ", ".join(f'"{c}"' for c in COLUMNS)  # `at` is a keyword
        ours = engine.sql(f"SELECT {quoted} FROM {d.ref.name}").to_pylist()
    return {
        "pyarrow.dataset": pads.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist(),
        "polars.read_parquet": pl.read_parquet(glob).to_dicts(),
        "polars.scan_parquet": pl.scan_parquet(glob).collect().to_dicts(),
        "pandas": pd.read_parquet(folder).to_dict("records"),
        "eventlake query": ours,
    }


def _compare(name: str, rows: list[dict[str, Any]], source: dict[float, dict[str, Any]]) -> None:
    got = _by_id(rows)
    assert len(rows) == len(source), f"{name}: {len(rows)} rows, the source has {len(source)}"
    bad = [(i, got.get(i), want) for i, want in source.items() if got.get(i) != want]
    assert not bad, f"{name}: {len(bad)} rows differ, e.g. {bad[0]}"


def test_pyarrow_polars_pandas_and_eventlake_agree_with_the_source(drifted: Drifted) -> None:
    for name, rows in _readers(drifted).items():
        _compare(name, rows, drifted.source)


def test_spark_reads_the_table_folder_with_default_options(drifted: Drifted) -> None:
    pyspark = pytest.importorskip("pyspark", reason="pyspark is not installed (the `test` extra has it)")
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    assert pyspark.__version__
    spark = (
        SparkSession.builder.master("local[1]")
        .appName("eventlake-drift")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    try:
        df = spark.read.parquet(str(drifted.folder))  # default options: no mergeSchema
        cols = [F.unix_micros(F.col(c)).alias(c) if c in TS_COLUMNS else F.col(c) for c in COLUMNS]
        rows = [r.asDict(recursive=True) for r in df.select(*cols).collect()]
        assert df.count() == len(drifted.source)
        assert {"dt", "hour", "_offset"} <= set(df.columns)
    finally:
        spark.stop()
    _compare("spark", rows, drifted.source)


# ---- Glue: what Athena's Parquet rules accept for each file's physical and logical types


def athena_type(physical: str, logical: str) -> str:
    """The Glue/Hive type Athena reads a Parquet leaf column as."""
    if physical == "BOOLEAN":
        return "boolean"
    if physical == "INT32":
        return "date" if logical == "DATE" else "int"
    if physical == "INT64":
        return "timestamp" if logical == "TIMESTAMP" else "bigint"
    if physical == "DOUBLE":
        return "double"
    if physical == "FLOAT":
        return "float"
    if physical == "BYTE_ARRAY":
        return "string" if logical == "STRING" else "binary"
    raise AssertionError(f"no Athena type for Parquet {physical}/{logical}")


def _glue_leaves(name: str, hive: str | HiveType) -> dict[str, str]:
    """`o struct<a:bigint,l:array<string>>` -> {"o.a": "bigint", "o.l.list.element": "string"}."""
    t = parse(hive) if isinstance(hive, str) else hive
    if isinstance(t, Struct):
        out: dict[str, str] = {}
        for sub, field in t.fields:
            out.update(_glue_leaves(f"{name}.{sub}", field))
        return out
    if isinstance(t, Array):
        return _glue_leaves(f"{name}.list.element", t.item)
    return {name: format_type(t)}


def _file_leaves(path: str) -> dict[str, str]:
    schema = pq.ParquetFile(path).metadata.schema
    return {
        schema.column(i).path: athena_type(schema.column(i).physical_type, schema.column(i).logical_type.type)
        for i in range(len(schema))
    }


def test_glue_table_and_every_partition_declare_what_each_file_holds(drifted: Drifted, moto_endpoint: str) -> None:
    first, last = drifted.first_publish, drifted.last_publish
    assert first.partitions_added == 2 and last.partitions_added == 0
    assert last.partitions_updated == 2  # created at an older schema, brought to the table's
    glue = boto3.client("glue", **_aws(moto_endpoint).client_kwargs())
    table = glue.get_table(DatabaseName="drift", Name=drifted.ref.name)["Table"]
    declared = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    assert declared["v"] == "double" and declared["late"] == "bigint"
    parts = glue.get_partitions(DatabaseName="drift", TableName=drifted.ref.name)["Partitions"]
    assert len(parts) == 2
    with open_catalog(drifted.settings) as store:
        files = store.list_files(drifted.ref)
    for part in parts:
        cols = {c["Name"]: c["Type"] for c in part["StorageDescriptor"]["Columns"]}
        assert cols == declared
        leaves: dict[str, str] = {}
        for name, hive in cols.items():
            leaves.update(_glue_leaves(name, hive))
        values = dict(zip(["dt", "hour"], part["Values"], strict=True))
        mine = [f for f in files if f.partition == values]
        assert mine
        for f in mine:
            assert _file_leaves(f.path) == leaves, f.path


def test_publish_refuses_a_local_lake_without_the_flag(drifted: Drifted, moto_endpoint: str) -> None:
    from eventlake.catalog.exceptions import CatalogError

    with open_catalog(drifted.settings) as store, pytest.raises(CatalogError, match="local paths Athena"):
        GluePublisher(_aws(moto_endpoint)).publish(store)


def test_no_arrow_null_type_is_written(drifted: Drifted) -> None:
    for path in _listed_and_present(drifted)[1]:
        assert not any(pa.types.is_null(f.type) for f in pq.read_schema(path))
