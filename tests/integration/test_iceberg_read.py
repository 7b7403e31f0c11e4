"""Reading Iceberg tables: time travel (`eventlake query --as-of`), partition pruning through
Iceberg's metadata, and hostile --as-of values. The table is made by eventlake's own Iceberg
commit code (real pyiceberg commits, real files): three flushes, three snapshots."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest

from eventlake.catalog import Column, Table
from eventlake.catalog.sqlite import SQLiteCatalog
from eventlake.config import Settings, load_settings
from eventlake.config.sink import SinkSettings
from eventlake.errors import UsageError
from eventlake.lake import open_lake
from eventlake.query import QueryError, connect
from eventlake.query.time_travel import TimeTravelError, parse_as_of
from eventlake.sink.iceberg_commit import flush_iceberg, iceberg_tables
from eventlake.sink.ledger import Batch
from eventlake.sink.table import SinkTable

TOPIC = "orders"
# (hour of 2026-01-01, events) of each flush: one snapshot each
FLUSHES = [(10, 40), (11, 30), (12, 20)]
REGIONS = ("eu", "us", "ap")


@dataclass
class IcebergLake:
    root: Path
    events: list[dict[str, Any]]
    snapshots: list[tuple[int, int, int]]  # (snapshot id, committed at ms, events landed by then)


def land_iceberg(root: Path, flushes: list[tuple[int, int]], lake: IcebergLake | None = None) -> IcebergLake:
    """Land each (hour, events) flush as one snapshot through eventlake's own Iceberg commit code."""
    settings = SinkSettings(table_format="iceberg", time_field="ts", partition_by=["region"])
    lake = lake or IcebergLake(root, [], [])
    events = lake.events
    with SQLiteCatalog(root / "_eventlake" / "catalog.sqlite") as store:
        table = SinkTable(store, open_lake(str(root)), TOPIC, "default", "parquet", ["region"], iceberg=True)
        ice = iceberg_tables(open_lake(str(root)), {TOPIC: table}, settings, Settings())[TOPIC]
        for hour, n in flushes:
            first = len(events)
            batch_events = [
                {
                    "id": first + i,
                    "qty": (first + i) % 7 + 1,
                    "region": REGIONS[i % 3],
                    "ts": f"2026-01-01T{hour}:{i % 60:02d}:00Z",
                }
                for i in range(n)
            ]
            events += batch_events
            batch = Batch(
                topic=TOPIC,
                partition=0,
                start=first or None,
                values=[orjson.dumps(e) for e in batch_events],
                offsets=np.arange(first, first + n, dtype=np.int64),
                timestamps=np.full(n, int(time.time() * 1000), dtype=np.int64),
                keys=[None] * n,
            )
            assert not flush_iceberg(batch, table, ice, settings, lambda letters: None, "g").conflict
            current = ice.refresh().current_snapshot()  # type: ignore[union-attr]
            assert current is not None
            lake.snapshots.append((current.snapshot_id, current.timestamp_ms, len(events)))
            while int(time.time() * 1000) <= current.timestamp_ms:  # the next commit gets a later time
                time.sleep(0.001)
    return lake


@pytest.fixture(scope="module")
def ice_lake(tmp_path_factory: pytest.TempPathFactory) -> IcebergLake:
    root = tmp_path_factory.mktemp("ice-read") / "lake"
    lake = land_iceberg(root, FLUSHES)
    with SQLiteCatalog(root / "_eventlake" / "catalog.sqlite") as store:
        # A plain-Parquet table beside it (no files): --as-of on it alone is refused.
        store.upsert_table(Table("default", "plain", str(root / "plain"), "parquet", [Column("x", "bigint")]))
    return lake


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _totals(lake: IcebergLake, as_of: str | None) -> tuple[int, int, int]:
    sql = "SELECT count(*) AS n, count(DISTINCT (_partition, _offset)) AS d, sum(qty) AS q FROM orders"
    with connect(load_settings(overrides={"lake": str(lake.root)}), as_of=as_of) as engine:
        row = engine.execute(sql).rows[0]
    return int(row[0]), int(row[1]), int(row[2] or 0)


def _expected(lake: IcebergLake, landed: int) -> tuple[int, int, int]:
    return landed, landed, sum(e["qty"] for e in lake.events[:landed])


def test_as_of_a_snapshot_or_a_time_reads_the_table_as_it_was(ice_lake: IcebergLake) -> None:
    assert _totals(ice_lake, None) == _expected(ice_lake, len(ice_lake.events))
    seen = []
    for snapshot_id, at_ms, landed in ice_lake.snapshots:
        by_id = _totals(ice_lake, str(snapshot_id))
        assert by_id == _expected(ice_lake, landed)
        assert _totals(ice_lake, _iso(at_ms)) == by_id  # at its commit time: that snapshot
        seen.append(by_id[0])
    assert seen == sorted(seen) and len(set(seen)) == len(seen)  # a later snapshot sees more
    # Between two commits: the earlier one. Content too, not just counts.
    (_, first_ms, first_n), (_, second_ms, _), _ = ice_lake.snapshots
    with connect(load_settings(overrides={"lake": str(ice_lake.root)}), as_of=_iso(second_ms - 1)) as engine:
        rows = engine.execute("SELECT id, qty, region, _offset FROM orders ORDER BY _offset").rows
        frame = engine.df("SELECT region, sum(qty) AS q FROM orders GROUP BY region")  # as the notebooks read
    by_region = {r: sum(e["qty"] for e in ice_lake.events[:first_n] if e["region"] == r) for r in REGIONS}
    assert dict(zip(frame["region"], frame["q"].astype(int), strict=True)) == by_region
    assert second_ms - 1 >= first_ms
    assert rows == [(e["id"], e["qty"], e["region"], i) for i, e in enumerate(ice_lake.events[:first_n])]


def _cli(lake: IcebergLake, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("EVENTLAKE_")}
    return subprocess.run(
        [sys.executable, "-m", "eventlake.cli.main", "query", *args, "--lake", str(lake.root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_query_as_of_on_the_command_line_both_paths(ice_lake: IcebergLake) -> None:
    snapshot_id, _, landed = ice_lake.snapshots[0]
    sql = "SELECT count(*) AS n FROM orders"
    fast = _cli(ice_lake, sql, "--format", "json", "--as-of", str(snapshot_id))  # the fast path
    typer = _cli(ice_lake, sql, "--format=json", f"--as-of={snapshot_id}")  # `--x=v` goes to Typer
    for done in (fast, typer):
        assert done.returncode == 0, done.stderr[-2000:]
        assert json.loads(done.stdout) == [{"n": landed}]
    # A malformed value: a usage error (exit 2), one line that says what to give.
    bad = _cli(ice_lake, sql, "--as-of", "1; DROP TABLE orders")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "neither a snapshot id nor an ISO-8601 time" in bad.stderr, bad.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yesterday", "neither a snapshot id nor an ISO-8601 time"),
        ("2026-02-30T00:00:00Z", "not a valid time"),
        ("99999999999999999999", "neither a snapshot id"),
        ("9223372036854775808", "a snapshot id is at most"),
        ("2026-01-01T00:00:00Z\nDROP", "neither a snapshot id"),
        ("2026-01-01T10:00:00+99:99:99", "neither a snapshot id"),
        ("\x00" * 10_000, "neither a snapshot id"),
    ],
)
def test_a_malformed_as_of_is_refused_before_anything_opens(value: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_as_of(value)
    line = caught.value.one_line()
    assert message in line and "\n" not in line and len(line) < 400


@pytest.mark.parametrize(
    ("value", "sql", "message"),
    [
        ("9223372036854775807", "SELECT count(*) FROM orders", "table orders has no such snapshot"),
        ("2000-01-01T00:00:00Z", "SELECT count(*) FROM orders", "before table orders existed"),
        ("2000-01-01", "SELECT count(*) FROM plain", "reads no Iceberg table"),
        ("2000-01-01", "SELECT 1", "reads no Iceberg table"),
    ],
)
def test_an_as_of_the_tables_cannot_answer_is_one_line_saying_what_to_do(
    ice_lake: IcebergLake, value: str, sql: str, message: str
) -> None:
    settings = load_settings(overrides={"lake": str(ice_lake.root)})
    with connect(settings, as_of=value) as engine, pytest.raises(TimeTravelError) as caught:
        engine.execute(sql)
    assert message in caught.value.one_line() and caught.value.hint


def _planned(root: Path, sql: str) -> list[Any]:
    """The files the engine's Iceberg planner gives the query's WHERE (as `QueryEngine._prepare` does)."""
    import duckdb

    from eventlake.query.iceberg_files import IcebergFiles
    from eventlake.query.iceberg_filter import row_filter
    from eventlake.query.prune import base_tables, where_for

    with duckdb.connect() as con:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0])
    where = where_for(tree, base_tables(tree)[0])
    assert where is not None
    with SQLiteCatalog(root / "_eventlake" / "catalog.sqlite") as store:
        entry = next(t for t in store.list_tables() if t.name == TOPIC)
    files = IcebergFiles(open_lake(str(root)), Settings()).planned(
        entry, None, lambda kinds: row_filter(where, {TOPIC, "o"}, kinds, None)
    )
    return files


def _data_files(root: Path) -> list[Path]:
    return sorted((root / TOPIC / "data").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("where", "matches"),
    [
        ("region = 'eu'", lambda e: e["region"] == "eu"),
        ("o.region IN ('eu', 'us') AND qty > 0", lambda e: e["region"] in ("eu", "us")),
        ("ts >= '2026-01-01T12:00:00Z'", lambda e: e["ts"] >= "2026-01-01T12"),
        (
            "ts BETWEEN TIMESTAMPTZ '2026-01-01 11:00:00+00' AND '2026-01-01T11:59:59Z' AND region = 'ap'",
            lambda e: e["ts"].startswith("2026-01-01T11") and e["region"] == "ap",
        ),
    ],
)
def test_a_filter_on_the_time_or_partition_field_plans_only_matching_files(
    ice_lake: IcebergLake, where: str, matches: Any
) -> None:
    """Every data file of a partition the WHERE rules out is broken: the query can only succeed
    (with the right count) if it never opened them."""
    expected = sum(1 for e in ice_lake.events if matches(e))
    wanted = [e for e in ice_lake.events if matches(e)]
    keep = {(f"hour={e['ts'][:13].replace('T', '-')}", f"region={e['region']}") for e in wanted}
    files = _data_files(ice_lake.root)
    broken = [f for f in files if (f.parent.parent.name, f.parent.name) not in keep]
    assert broken and len(broken) < len(files)
    # What pyiceberg plans for this WHERE: exactly the files of the matching partitions.
    assert len(_planned(ice_lake.root, f"SELECT count(*) FROM orders o WHERE {where}")) == len(files) - len(broken)
    saved = {f: f.read_bytes() for f in broken}
    try:
        for f in broken:
            f.write_bytes(b"not parquet")
        with connect(load_settings(overrides={"lake": str(ice_lake.root)})) as engine:
            sql = f"SELECT count(*) AS n FROM orders o WHERE {where}"
            assert engine.execute(sql).rows == [(expected,)]
            # Not prunable (an OR with an expression Iceberg cannot judge): every file is read, the broken ones too.
            with pytest.raises(QueryError):
                engine.execute(f"SELECT count(*) FROM orders o WHERE {where} OR qty + 0 > 100")
    finally:
        for f, data in saved.items():
            f.write_bytes(data)


def test_a_dashboard_panel_and_the_query_api_read_the_iceberg_table(ice_lake: IcebergLake, tmp_path: Path) -> None:
    from tests.fixtures_dashboard import running_dashboard

    board = tmp_path / "dash"
    board.mkdir()
    (board / "orders.toml").write_text(
        'title = "Orders"\ntable = "orders"\n\n[[panels]]\nid = "regions"\ntitle = "By region"\nchart = "bar"\n'
        'x = "region"\ny = "n"\nsql = "SELECT region, count(*) AS n FROM orders GROUP BY region ORDER BY region"\n'
    )
    settings = load_settings(overrides={"lake": str(ice_lake.root), "dashboard": {"dashboards_dir": str(board)}})
    expected = [[r, sum(1 for e in ice_lake.events if e["region"] == r)] for r in sorted(REGIONS)]
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        panel = http.get("/api/panels/orders/regions")
        assert panel.status_code == 200, panel.text
        assert panel.json()["rows"] == expected
        asked = http.post("/api/query", json={"sql": "SELECT count(*) AS n FROM orders WHERE region = 'eu'"})
        assert asked.status_code == 200, asked.text
        assert asked.json()["rows"] == [[expected[1][1]]]


def test_glue_publish_registers_the_iceberg_table_as_athena_reads_it(tmp_path: Path, moto_endpoint: str) -> None:
    """moto's Glue server; after new commits a second publish moves metadata_location on."""
    import boto3
    from pydantic import SecretStr

    from eventlake.catalog.glue import GluePublisher
    from eventlake.catalog.iceberg_sql import open_iceberg_catalog
    from eventlake.config.aws import AwsSettings

    root = tmp_path / "lake"
    lake = land_iceberg(root, [(10, 5)])
    aws = AwsSettings(endpoint_url=moto_endpoint, access_key_id="testing", secret_access_key=SecretStr("testing"))
    glue = boto3.client("glue", **aws.client_kwargs())
    database = f"ice_{tmp_path.name[-12:].lower().replace('-', '_')}"
    aws = aws.model_copy(update={"glue_database": database})

    def published() -> dict[str, Any]:
        with SQLiteCatalog(root / "_eventlake" / "catalog.sqlite") as store:
            GluePublisher(aws).publish(store, allow_local=True, lake=open_lake(str(root)), settings=Settings())
        table: dict[str, Any] = glue.get_table(DatabaseName=database, Name=TOPIC)["Table"]
        return table

    def current() -> Any:
        return open_iceberg_catalog(open_lake(str(root)), Settings()).load_table(("default", TOPIC))

    first = published()
    assert first["TableType"] == "EXTERNAL_TABLE"
    assert first["Parameters"]["table_type"] == "ICEBERG"
    assert first["Parameters"]["metadata_location"] == current().metadata_location
    assert "previous_metadata_location" not in first["Parameters"]
    assert first["StorageDescriptor"]["Location"] == current().location()
    assert {"id", "qty", "region", "ts", "_offset"} <= {c["Name"] for c in first["StorageDescriptor"]["Columns"]}
    assert not first.get("PartitionKeys")  # Iceberg keeps its partitions in the metadata
    # The metadata file Glue names is a real Iceberg metadata file of this table, with its snapshot.
    meta = json.loads(Path(first["Parameters"]["metadata_location"].removeprefix("file://")).read_text())
    assert meta["current-snapshot-id"] == lake.snapshots[-1][0]

    land_iceberg(root, [(11, 4)], lake)
    again = published()
    assert again["Parameters"]["metadata_location"] == current().metadata_location
    assert again["Parameters"]["previous_metadata_location"] == first["Parameters"]["metadata_location"]
    assert again["Parameters"]["metadata_location"] != first["Parameters"]["metadata_location"]
    # Publishing with nothing new keeps both.
    assert published()["Parameters"] == again["Parameters"]
    # With iceberg.catalog = glue, Glue is the table's own catalog: publishing leaves it alone, so an
    # older metadata file can never overwrite the one a later commit set.
    land_iceberg(root, [(12, 3)], lake)
    with SQLiteCatalog(root / "_eventlake" / "catalog.sqlite") as store:
        report = GluePublisher(aws).publish(
            store, allow_local=True, lake=open_lake(str(root)), settings=Settings(iceberg={"catalog": "glue"})
        )
    assert report.tables_in_glue == [f"default.{TOPIC}"] and not report.tables_updated
    assert glue.get_table(DatabaseName=database, Name=TOPIC)["Table"]["Parameters"] == again["Parameters"]


@pytest.mark.parametrize("time_field", ["ts", None])
def test_a_field_named_event_time_is_kept_beside_the_sinks_time_column(tmp_path: Path, time_field: str | None) -> None:
    """A JSON `_event_time` lands as `_x5f_event_time` (the Parquet lake's rule for reserved names),
    with or without --time-field; the sink's `_event_time` stays the parsed event time."""
    from eventlake.catalog.iceberg_sql import open_iceberg_catalog
    from eventlake.sink.names import unescape

    root = tmp_path / "lake"
    settings = SinkSettings(table_format="iceberg", time_field=time_field)
    sent = [
        [{"id": i, "ts": f"2026-01-01T10:{i:02d}:00Z", "_event_time": f"checkout-{i}"} for i in range(5)],
        [{"id": i, "ts": f"2026-01-01T11:{i:02d}:00Z", "_event_time": f"later-{i}"} for i in range(5, 8)],
    ]
    with SQLiteCatalog(root / "_eventlake" / "catalog.sqlite") as store:
        table = SinkTable(store, open_lake(str(root)), TOPIC, "default", "parquet", [], iceberg=True)
        ice = iceberg_tables(open_lake(str(root)), {TOPIC: table}, settings, Settings())[TOPIC]
        first = 0
        for events in sent:
            n = len(events)
            batch = Batch(
                topic=TOPIC,
                partition=0,
                start=first or None,
                values=[orjson.dumps(e) for e in events],
                offsets=np.arange(first, first + n, dtype=np.int64),
                timestamps=np.full(n, int(time.time() * 1000), dtype=np.int64),
                keys=[None] * n,
            )
            letters: list[Any] = []
            assert not flush_iceberg(batch, table, ice, settings, letters.extend, "g").conflict
            assert letters == []
            first += n
    iceberg = open_iceberg_catalog(open_lake(str(root)), Settings()).load_table(("default", TOPIC))
    names = iceberg.schema().as_arrow().names
    assert "_x5f_event_time" in names
    assert unescape("_x5f_event_time") == "_event_time"
    with connect(load_settings(overrides={"lake": str(root)})) as engine:
        rows = engine.execute("SELECT id, _x5f_event_time FROM orders ORDER BY id").rows
    # The second flush (after the catalog entry adopted the renamed column) lands in the same column.
    assert rows == [(i, f"checkout-{i}") for i in range(5)] + [(i, f"later-{i}") for i in range(5, 8)]
    data = iceberg.scan().to_arrow()
    if time_field is None:
        assert "_event_time" not in names  # the sink's column exists only with --time-field
    else:
        source = iceberg.schema().find_field(iceberg.spec().fields[0].source_id).name
        assert source == "_event_time"  # hour() partitions the sink's column, not the user's field
        stamps = sorted(t.isoformat() for t in data["_event_time"].to_pylist())
        assert stamps == sorted(
            dt.datetime.fromisoformat(str(e["ts"]).replace("Z", "+00:00")).isoformat() for b in sent for e in b
        )


def test_icebergs_java_library_reads_the_table_eventlake_wrote(ice_lake: IcebergLake) -> None:
    """A reader that is not pyiceberg (Iceberg's Java API through the JdbcCatalog on the lake's
    SQLite catalog) sees every row once, the right values, and the current snapshot."""
    from tests.iceberg_java import read_with_iceberg_java

    got = read_with_iceberg_java(ice_lake.root, "default", TOPIC, "qty")
    n = len(ice_lake.events)
    assert got == {
        "rows": n,
        "distinct": n,
        "sum": sum(e["qty"] for e in ice_lake.events),
        "snapshot": ice_lake.snapshots[-1][0],
        "format_version": 2,
    }
    assert _totals(ice_lake, None) == (got["rows"], got["distinct"], got["sum"])  # eventlake agrees


def test_the_engines_incremental_plan_equals_a_full_plan_across_appends_rewrites_and_deletes(tmp_path: Path) -> None:
    """IcebergFiles re-plans a moved snapshot from the manifests it has not seen; after every kind
    of commit its files must be exactly pyiceberg's full `scan().plan_files()` of that snapshot."""
    from pyiceberg.catalog.sql import SqlCatalog

    from eventlake.catalog.iceberg_catalog import open_iceberg_catalog
    from eventlake.query.iceberg_files import IcebergFiles

    root = tmp_path / "lake"
    lake = land_iceberg(root, [(10, 30)])
    catalog = open_iceberg_catalog(open_lake(str(root)), Settings())
    assert isinstance(catalog, SqlCatalog)  # the catalog whose metadata location is read without a parse
    with SQLiteCatalog(root / "_eventlake" / "catalog.sqlite") as store:
        entry = next(t for t in store.list_tables() if t.name == TOPIC)
    planner = IcebergFiles(open_lake(str(root)), Settings())

    def check(step: str) -> None:
        table = catalog.load_table(("default", TOPIC))
        tasks = table.scan().plan_files()
        full = sorted((t.file.file_path.removeprefix("file://"), t.file.record_count) for t in tasks)
        planned, _ = planner.files([entry])
        assert sorted((f.path, f.rows) for f in planned[("default", TOPIC)]) == full, step
        assert sum(n for _, n in full) == len(table.scan().to_arrow()), step

    check("first append")
    before = planner.files([entry])[0]
    assert planner.files([entry]) == (before, False)  # nothing committed: same plan, not moved
    for hour in (11, 12):
        land_iceberg(root, [(hour, 20)], lake)
        check(f"append of hour {hour}")
    table = catalog.load_table(("default", TOPIC))
    table.overwrite(table.scan().to_arrow())  # a rewrite of every file in one snapshot (as compaction)
    check("overwrite")
    catalog.load_table(("default", TOPIC)).delete("region == 'eu'")  # whole files dropped
    check("delete of a partition")
    catalog.load_table(("default", TOPIC)).delete("qty == 1")  # files rewritten without some rows
    check("delete of rows")
    land_iceberg(root, [(13, 20)], lake)
    check("append after the deletes")
