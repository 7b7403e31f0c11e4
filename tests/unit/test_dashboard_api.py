"""The dashboard's HTTP API over a real lake (Parquet + catalog ledger), served by a real uvicorn.

No Kafka here: the lake is landed by the sink's own flush code (see tests/fixtures_dashboard.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventlake.catalog import open_catalog
from eventlake.dashboard.params import render_sql, resolve
from eventlake.dashboard.service import DashboardService
from eventlake.dashboard.specs import DashboardLibrary
from eventlake.errors import EventlakeError
from eventlake.query import connect
from eventlake.runtime import free_port
from tests.fixtures_dashboard import TickLake, client, running_dashboard, tick_lake, ticks  # noqa: F401
from tests.polling import wait_until


def test_health_answers_json(client: httpx.Client) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_tables_lists_the_landed_table(client: httpx.Client) -> None:
    tables = {t["name"]: t for t in client.get("/api/tables").json()["tables"]}
    assert tables["stock_ticks"]["rows"] == 60
    assert tables["stock_ticks"]["partition_keys"] == [["dt", "string"], ["hour", "string"]]


def test_query_returns_columns_and_rows(client: httpx.Client) -> None:
    r = client.post(
        "/api/query",
        json={
            "sql": "SELECT symbol, count(*) AS n, max(volume) AS top FROM stock_ticks GROUP BY symbol ORDER BY symbol"
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert body["columns"] == ["symbol", "n", "top"]
    assert body["rows"] == [["AAPL", 20, 580], ["MSFT", 20, 590], ["NVDA", 20, 600]]


def test_rows_carry_the_sinks_lineage_and_a_typed_event_time(client: httpx.Client) -> None:
    # What a panel author sees in the table the sink lands: where each row sat in Kafka, and `ts` a timestamp.
    sql = (
        "SELECT _topic, _partition, min(_offset), max(_offset), count(*), "
        "count(DISTINCT _key) = count(DISTINCT symbol), typeof(any_value(ts)) LIKE 'TIMESTAMP%' "
        "FROM stock_ticks GROUP BY ALL"
    )
    r = client.post("/api/query", json={"sql": sql})
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == [["stock-ticks", 0, 0, 59, 60, True, True]]


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"sql": "SELECT nope FROM stock_ticks"}, 400, 'column "nope"'),
        ({"sql": "SELECT * FROM no_such_table"}, 404, "no_such_table"),
        ({"sql": "COPY stock_ticks TO '/tmp/x.csv'"}, 400, ""),
        ({"sql": "SELEC 1"}, 400, "syntax"),
        ({}, 400, "sql: Field required"),
    ],
)
def test_query_errors_are_one_line_json(
    client: httpx.Client, payload: dict[str, str], status: int, fragment: str
) -> None:
    r = client.post("/api/query", json=payload)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    message = r.json()["error"]
    assert fragment.lower() in message.lower()
    assert message and "\n" not in message and "Traceback" not in message


def test_csv_download_has_a_header_and_every_row(client: httpx.Client) -> None:
    r = client.post("/api/query.csv", json={"sql": "SELECT symbol, price FROM stock_ticks ORDER BY ts LIMIT 3"})
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    assert list(csv.reader(io.StringIO(r.text))) == [
        ["symbol", "price"],
        ["AAPL", "100.0"],
        ["MSFT", "100.01"],
        ["NVDA", "100.02"],
    ]


def test_dashboards_list_and_detail(client: httpx.Client) -> None:
    listed = client.get("/api/dashboards").json()
    assert [d["name"] for d in listed["dashboards"]] == ["history", "stocks"]
    detail = client.get("/api/dashboards/stocks").json()
    assert [p["id"] for p in detail["panels"]] == ["price", "events-per-second", "rate", "volume", "latest"]
    assert detail["parameters"][0]["name"] == "symbol" and "AAPL" in detail["parameters"][0]["choices"]
    assert client.get("/api/dashboards/nope").status_code == 404


def test_panel_data_with_freshness_and_parameters(client: httpx.Client, tick_lake: TickLake) -> None:
    before = time.time()
    body = client.get("/api/panels/stocks/latest").json()
    assert body["error"] is None
    assert [r[0] for r in body["rows"]] == ["AAPL", "MSFT", "NVDA"]
    assert [r[1] for r in body["rows"]] == [100.57, 100.58, 100.59]  # the newest price of each
    # Freshness: when the newest landed file was created, and its newest event.
    assert before - 60 < body["landed_at"] <= before
    assert body["newest_event_at"] == pytest.approx(before, abs=30)

    only = client.get("/api/panels/stocks/latest", params={"symbol": "MSFT"}).json()
    assert [r[0] for r in only["rows"]] == ["MSFT"]
    assert client.get("/api/panels/stocks/events-per-second").json()["rows"] == [[1.0]]

    bad = client.get("/api/panels/stocks/latest", params={"symbol": "x' OR '1'='1"})
    assert bad.status_code == 400 and "must be one of" in bad.json()["error"]
    assert client.get("/api/panels/stocks/nope").status_code == 404


def _count(http: httpx.Client, table: str) -> int | None:
    """Rows of `table` as the dashboard's query engine sees it now (None: it does not know the table yet)."""
    answer = http.post("/api/query", json={"sql": f"SELECT count(*) FROM {table}"})
    return int(answer.json()["rows"][0][0]) if answer.status_code == 200 else None


def test_old_partitions_are_not_in_recent_panels(client: httpx.Client, tick_lake: TickLake) -> None:
    # Ticks from two days ago land in their own dt partition, which a 15-minute panel never reads.
    tick_lake.land(ticks(30, end=time.time() - 2 * 86400, symbols=("IBM",)), partition=1)
    # The engine re-reads the catalog at most every query.refresh_s: until it has, the total is the old one.
    wait_until(lambda: _count(client, "stock_ticks") == 90, 20, "the landed IBM ticks reaching the query engine")
    symbols = [r[0] for r in client.get("/api/panels/stocks/latest").json()["rows"]]
    assert symbols == ["AAPL", "MSFT", "NVDA"]

    # The panel's query opens only the recent partitions' files: DuckDB's own count of files read.
    stocks = DashboardLibrary(tick_lake.settings.dashboard).get("stocks")
    sql, params = render_sql(stocks.panel("latest"), resolve(stocks, {}), time.time())
    assert params == {"symbol": "ALL"}
    engine = connect(tick_lake.settings)
    try:
        plan = str(engine.execute(f"EXPLAIN ANALYZE {sql}", params=params).rows[0][-1])
    finally:
        engine.close()
    read = re.search(r"Total Files Read: (\d+)", plan)
    assert read is not None, plan
    with open_catalog(tick_lake.settings) as store:
        files = store.list_files()
    recent = [f for f in files if f.partition["dt"] >= time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))]
    assert int(read.group(1)) == len(recent) < len(files)


def _events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    event = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            yield event, json.loads(line[6:])
        elif line.startswith(":"):
            yield "heartbeat", {}


def _until(
    events: Iterator[tuple[str, dict[str, Any]]], done: Callable[[str, dict[str, Any]], bool], timeout_s: float
) -> list[tuple[str, dict[str, Any]]]:
    seen = []
    deadline = time.monotonic() + timeout_s
    for event in events:
        seen.append(event)
        if done(*event) or time.monotonic() > deadline:
            break
    return seen


def test_stream_pushes_each_panel_then_only_changes(tick_lake: TickLake, tmp_path: Path) -> None:
    dash_dir = tmp_path / "dash"
    dash_dir.mkdir()
    (dash_dir / "live.toml").write_text("""
title = "Live"
table = "stock_ticks"
[[panels]]
id = "count"
title = "Ticks"
chart = "number"
y = "n"
refresh_s = 0.5
sql = "SELECT count(*) AS n FROM stock_ticks"
[[panels]]
id = "constant"
title = "Never changes"
chart = "number"
y = "one"
refresh_s = 0.5
sql = "SELECT 1 AS one"
""")
    settings = tick_lake.settings.model_copy(
        update={
            "dashboard": tick_lake.settings.dashboard.model_copy(
                update={"dashboards_dir": str(dash_dir), "stream_heartbeat_s": 0.5}
            )
        }
    )
    with (
        running_dashboard(settings) as url,
        httpx.Client(base_url=url, timeout=20) as http,
        http.stream("GET", "/api/stream/live") as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        first = _first_of_each(events, {"count", "constant"})
        assert first["count"]["rows"] == [[60]] and first["constant"]["rows"] == [[1]]
        assert first["count"]["landed_at"] is not None

        # Nothing lands: a few refresh intervals pass with heartbeats only.
        quiet = _until(events, lambda e, d: False, 2.0)
        assert [e for e, _ in quiet if e == "panel"] == []

        tick_lake.land(ticks(15), partition=2)
        changed = _until(events, lambda e, d: e == "panel" and d["panel"] == "count" and d["rows"] == [[75]], 15)
        assert changed[-1][1]["rows"] == [[75]]
        assert all(d.get("panel") != "constant" for _, d in changed)


def _first_of_each(events: Iterator[tuple[str, dict[str, Any]]], panels: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event, data in events:
        if event == "panel":
            found.setdefault(data["panel"], data)
        if set(found) >= panels:
            return found
    raise AssertionError("the stream ended early")


def test_a_panel_with_bad_sql_shows_its_error_not_a_failure(tick_lake: TickLake, tmp_path: Path) -> None:
    dash_dir = tmp_path / "dash"
    dash_dir.mkdir()
    (dash_dir / "oops.yaml").write_text(
        "title: Oops\npanels:\n  - title: Bad\n    sql: SELECT price FROM nowhere\n"
        "  - title: Good\n    chart: number\n    y: n\n"
        "    sql: SELECT count(*) AS n FROM stock_ticks\n"
    )
    settings = tick_lake.settings.model_copy(
        update={"dashboard": tick_lake.settings.dashboard.model_copy(update={"dashboards_dir": str(dash_dir)})}
    )
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=20) as http:
        bad = http.get("/api/panels/oops/bad")
        assert bad.status_code == 200
        assert "nowhere" in bad.json()["error"] and bad.json()["rows"] == []
        assert http.get("/api/panels/oops/good").json()["rows"] == [[60]]


def test_pages_render_and_a_missing_dashboard_says_so(client: httpx.Client) -> None:
    for path, marker in [
        ("/pipeline", 'data-page="pipeline"'),
        ("/query", 'id="sql"'),
        ("/dashboards", 'data-page="dashboards"'),
        ("/dashboards/stocks", 'data-name="stocks"'),
    ]:
        r = client.get(path)
        assert r.status_code == 200 and marker in r.text, path
        assert "/static/vendor/uplot/uPlot.iife.min.js" in r.text
    assert client.get("/", follow_redirects=False).headers["location"] == "/pipeline"
    missing = client.get("/dashboards/<script>")
    assert missing.status_code == 404
    assert "no dashboard named" in missing.text and "<script>'" not in missing.text
    js = client.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert js.status_code == 200 and "uPlot" in js.text[:200]


def test_every_shipped_panel_runs_over_a_sink_shaped_lake(tick_lake: TickLake) -> None:
    # The built-in dashboards and the examples in ./dashboards, against the table the sink lands.
    repo_dashboards = Path(__file__).resolve().parents[2] / "dashboards"
    settings = tick_lake.settings.model_copy(
        update={"dashboard": tick_lake.settings.dashboard.model_copy(update={"dashboards_dir": str(repo_dashboards)})}
    )
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=20) as http:
        names = [d["name"] for d in http.get("/api/dashboards").json()["dashboards"]]
        assert {"history", "lake", "stocks", "symbol"} <= set(names)
        tick_lake.land_prices()
        # The engine re-reads the catalog at most every query.refresh_s: until then stock_prices is unknown.
        wait_until(lambda: _count(http, "stock_prices") == 560, 20, "table stock_prices reaching the query engine")
        for name in ("history", "lake", "stocks", "symbol"):
            for panel in http.get(f"/api/dashboards/{name}").json()["panels"]:
                body = http.get(f"/api/panels/{name}/{panel['id']}").json()
                assert body["error"] is None, f"{name}/{panel['id']}: {body['error']}"
                assert body["rows"], f"{name}/{panel['id']} has no rows"


def test_pipeline_without_a_broker_still_shows_the_lake(tick_lake: TickLake) -> None:
    # No broker answers: lag is unknown and said so in one line; what the lake holds still shows.
    settings = tick_lake.settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=30) as http:
        r = http.get("/api/pipeline")
        assert r.status_code == 200
        body = r.json()
        assert body["broker"]["reachable"] is False
        assert len(body["errors"]) == 1 and "no Kafka broker answered" in body["errors"][0]
        assert [t["topic"] for t in body["sink"]] == ["stock-ticks"]
        assert body["sink"][0]["rows"] == 60 and body["sink"][0]["lag"] is None
        with open_catalog(tick_lake.settings) as store:
            files = len(store.list_files())  # one, or two when the ticks straddle an hour
        assert body["summary"]["rows_landed"] == 60 and body["summary"]["files"] == files
        assert [t["name"] for t in body["tables"]] == ["stock_ticks"]


def _settings(lake: TickLake, dashboard: dict[str, Any] | None = None, query: dict[str, Any] | None = None) -> Any:
    s = lake.settings
    return s.model_copy(
        update={
            "dashboard": s.dashboard.model_copy(update=dashboard or {}),
            "query": s.query.model_copy(update=query or {}),
        }
    )


def test_csv_download_neutralises_formulas_but_keeps_numbers(client: httpx.Client, tick_lake: TickLake) -> None:
    formulas = ('=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1", " =1")
    tick_lake.land(ticks(len(formulas), symbols=formulas), partition=3)
    # The engine re-reads the catalog at most every query.refresh_s: until it has, the count is the old one.
    wait_until(lambda: _count(client, "stock_ticks") == 60 + len(formulas), 20, "the new rows reaching the engine")
    sql = (
        "SELECT symbol, -volume AS neg, '-1.5' AS s, '+3' AS p FROM stock_ticks "
        "WHERE symbol NOT IN ('AAPL', 'MSFT', 'NVDA') ORDER BY volume"
    )
    r = client.post("/api/query.csv", json={"sql": sql})
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.text, newline="")))
    assert rows[0] == ["symbol", "neg", "s", "p"]
    assert [row[0] for row in rows[1:]] == ["'" + f for f in formulas]
    assert [row[1:] for row in rows[1:]] == [[str(-10 * (i + 1)), "-1.5", "+3"] for i in range(len(formulas))]
    # Column names come from the data as well.
    header = client.post("/api/query.csv", json={"sql": "SELECT 1 AS \"=cmd|' /C calc'!A0\""}).text
    assert header.startswith("'=cmd|' /C calc'!A0\r\n")


def test_a_request_body_over_the_cap_is_refused_with_413(tick_lake: TickLake) -> None:
    settings = _settings(tick_lake, {"max_request_bytes": 2048})
    big = {"sql": "SELECT 1 -- " + "x" * 3000}

    def chunks() -> Iterator[bytes]:
        yield b'{"sql": "SELECT 1 -- '
        for _ in range(10):
            yield b"x" * 500
        yield b'"}'

    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=20) as http:
        for response in (
            http.post("/api/query", json=big),
            http.post("/api/query", content=chunks(), headers={"content-type": "application/json"}),
        ):
            assert response.status_code == 413
            assert response.json()["error"].startswith("request body larger than 2048 bytes")
        assert http.post("/api/query", json={"sql": "SELECT 1 AS one -- " + "x" * 1500}).json()["rows"] == [[1]]
    assert tick_lake.settings.dashboard.max_request_bytes == 1024 * 1024


def test_query_errors_map_to_statuses_by_class(tick_lake: TickLake, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tick_lake, query={"time_limit_s": 0.3, "max_result_bytes": 1024})
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=20) as http:
        slow = http.post("/api/query", json={"sql": "SELECT count(*) FROM range(100000000000) t(a) WHERE a % 7 = 3"})
        assert slow.status_code == 408 and "longer than 0.3 s" in slow.json()["error"]
        huge = http.post("/api/query", json={"sql": "SELECT repeat('x', 1000) AS s FROM range(100)"})
        assert huge.status_code == 413 and "max_result_bytes" in huge.json()["error"]
        refused = http.post("/api/query", json={"sql": "COPY stock_ticks TO 'x.csv'"})
        assert refused.status_code == 400

        class Unforeseen(EventlakeError):
            pass

        def fail(*args: Any, **kwargs: Any) -> Any:
            raise Unforeseen("something new\nwith a second line")

        monkeypatch.setattr(DashboardService, "run_sql", fail)
        odd = http.post("/api/query", json={"sql": "SELECT 1"})
        # A class that says nothing of its status is the server's side.
        assert odd.status_code == 500 and odd.json() == {"error": "something new with a second line"}


def test_out_of_range_parameters_are_400_not_500(tick_lake: TickLake, tmp_path: Path) -> None:
    dash_dir = tmp_path / "dash"
    dash_dir.mkdir()
    (dash_dir / "nums.toml").write_text(
        "title = 'Numbers'\n[[parameters]]\nname = 'n'\ntype = 'int'\ndefault = 1\n"
        "[[parameters]]\nname = 'f'\ntype = 'float'\ndefault = 0.5\n"
        "[[panels]]\nid = 'echo'\ntitle = 'Echo'\nsql = 'SELECT {n} AS n, {f} AS f'\n"
    )
    settings = _settings(tick_lake, {"dashboards_dir": str(dash_dir)})
    with running_dashboard(settings) as url, httpx.Client(base_url=url, timeout=20) as http:
        assert http.get("/api/panels/nums/echo", params={"n": 2**63 - 1, "f": "-1.5"}).json()["rows"] == [
            [2**63 - 1, -1.5]
        ]
        for params in ({"n": str(10**30)}, {"n": str(-(2**63) - 1)}, {"f": "1e400"}, {"f": "nan"}, {"n": "1_000"}):
            r = http.get("/api/panels/nums/echo", params=params)
            assert r.status_code == 400, params
            assert "parameter" in r.json()["error"] and "\n" not in r.json()["error"]
            assert http.get("/api/stream/nums", params=params).status_code == 400
