"""SQL over what the real sink landed from a real broker (local and S3 lakes), and crawling S3."""

from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from eventlake.catalog.crawler import crawl_lake
from eventlake.config import Settings, load_settings
from eventlake.lake import open_lake
from eventlake.lake.local_s3 import LocalS3
from eventlake.query import QueryError, connect
from eventlake.sink import run_sink
from eventlake.types import table_name_for_topic
from tests.fixtures_query import orders
from tests.fixtures_sink import produce_events, s3_server  # noqa: F401

pytestmark = pytest.mark.integration


def ticks(n: int, seed: int = 11) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [
        {
            "symbol": rnd.choice(["AAPL", "MSFT", "NVDA"]),
            "price": None if i % 10 == 0 else round(rnd.uniform(10, 500), 2),
            "volume": rnd.randrange(1, 1000),
            "at_ms": 1_704_067_200_000 + i * 997,
        }
        for i in range(n)
    ]


def _settings(bootstrap: str, lake: str, group: str, **extra: Any) -> Settings:
    return load_settings(
        overrides={
            "bootstrap_servers": bootstrap,
            "lake": lake,
            "sink": {"group": group, "until_idle": 2.0, "time_field": "at_ms", "flush_rows": 1500},
            **extra,
        }
    )


def _check_aggregates(settings: Settings, table: str, events: list[dict[str, Any]]) -> None:
    src = pd.DataFrame(events)
    with connect(settings) as engine:
        total = engine.execute(f"SELECT count(*), count(price), sum(volume), avg(price) FROM {table}").rows[0]
        by_symbol = engine.df(f"SELECT symbol, count(*) AS n, avg(price) AS p FROM {table} GROUP BY 1 ORDER BY 1")
    assert (total[0], total[1], int(total[2])) == (len(src), src["price"].count(), src["volume"].sum())
    assert total[3] == pytest.approx(src["price"].mean(), rel=1e-12)
    want = src.groupby("symbol").agg(n=("volume", "size"), p=("price", "mean")).reset_index()
    assert by_symbol["symbol"].tolist() == want["symbol"].tolist()
    assert by_symbol["n"].tolist() == want["n"].tolist()
    assert by_symbol["p"].tolist() == pytest.approx(want["p"].tolist(), rel=1e-12)


def test_aggregates_over_a_sunk_topic_equal_pandas(bootstrap: str, topic: str, tmp_path: Path) -> None:
    events = ticks(6000)
    sent = produce_events(bootstrap, topic, events)
    settings = _settings(bootstrap, str(tmp_path / "lake"), f"g-{topic}")
    assert run_sink(settings, [topic]).rows == len(events)
    table = table_name_for_topic(topic)

    _check_aggregates(settings, table, events)

    with connect(settings) as engine:
        files = engine.df(
            f"SELECT partition, min(first_offset) AS lo, max(last_offset) AS hi, sum(rows) AS n "
            f"FROM eventlake.files WHERE topic = '{topic}' GROUP BY 1 ORDER BY 1"
        )
        marks = engine.df(f"SELECT * FROM eventlake.watermarks WHERE topic = '{topic}' ORDER BY partition")
    per_part = pd.Series([p for p, _ in sent.by_coord]).value_counts().sort_index()
    assert files["n"].tolist() == per_part.tolist()
    assert files["lo"].tolist() == [0] * len(per_part)
    assert files["hi"].tolist() == (per_part - 1).tolist()
    # The broker answers: every partition is landed to its end, lag 0.
    assert marks["lag"].tolist() == [0] * len(per_part)
    assert marks["end_offset"].tolist() == per_part.tolist()
    last_event = {p: max(e["at_ms"] for (q, _), e in sent.by_coord.items() if q == p) for p in per_part.index}
    watermark = pd.Timestamp(min(last_event.values()), unit="ms")
    assert set(marks["watermark"]) == {watermark}

    # Events produced after the sink stopped are lag, per partition, until a sink lands them.
    more = produce_events(bootstrap, topic, ticks(500, seed=12))
    with connect(settings) as engine:
        lag = engine.df(f"SELECT partition, lag FROM eventlake.watermarks WHERE topic = '{topic}' ORDER BY 1")
    behind = pd.Series([p for p, _ in more.by_coord]).value_counts()
    assert lag["lag"].tolist() == [int(behind.get(p, 0)) for p in lag["partition"]]
    assert lag["lag"].sum() == 500


def test_s3_lake_sunk_and_crawled_is_queryable(bootstrap: str, topic: str, tmp_path: Path, s3_server: LocalS3) -> None:
    events = ticks(3000, seed=5)
    produce_events(bootstrap, topic, events)
    settings = _settings(
        bootstrap,
        f"s3://{s3_server.bucket}/{topic}-lake",
        f"g-{topic}",
        catalog=f"sqlite:///{tmp_path / 'catalog.sqlite'}",
        **s3_server.overrides(),
    )
    assert run_sink(settings, [topic]).rows == len(events)
    # Another tool drops a Hive-partitioned CSV export beside the sunk table.
    df = orders(200)
    lake = open_lake(settings.lake, settings.s3)
    for (dt, region), part in df.groupby(["dt", "region"]):
        csv_table = pa.Table.from_pandas(part.drop(columns=["dt", "region"]), preserve_index=False)
        lake.write_atomic(f"exports/dt={dt}/region={region}/part.csv", functools.partial(pacsv.write_csv, csv_table))

    summary = crawl_lake(settings)

    assert summary.tables_created == ["default.exports"] and summary.skipped == []
    _check_aggregates(settings, table_name_for_topic(topic), events)
    with connect(settings) as engine:
        got = engine.execute("SELECT region, count(*), sum(amount) FROM exports GROUP BY 1 ORDER BY 1").rows
        pruned = engine.execute("SELECT count(*) FROM exports WHERE dt = DATE '2024-03-02'").rows
    want = df.groupby("region").agg(n=("order_id", "size"), s=("amount", "sum"))
    assert [(r, n) for r, n, _ in got] == list(zip(want.index, want["n"], strict=True))
    assert [s for _, _, s in got] == pytest.approx(want["s"].tolist())
    assert pruned == [((df["dt"] == "2024-03-02").sum(),)]

    # Pruning on S3 too: with every object outside dt=2024-03-02 gone, the filtered query still answers.
    with connect(settings) as engine:
        for obj in lake.list("exports"):
            if "dt=2024-03-02/" not in obj.rel_path:
                lake.delete(obj.rel_path)
        assert engine.execute("SELECT count(*) FROM exports WHERE dt = DATE '2024-03-02'").rows == pruned
        with pytest.raises(QueryError, match="cannot be read"):
            engine.execute("SELECT count(*) FROM exports")
