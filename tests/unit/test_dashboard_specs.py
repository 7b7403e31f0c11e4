"""Dashboards as code: parsing TOML/YAML files, and parameters reaching SQL only as bound values."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from eventlake.config.dashboard import DashboardSettings
from eventlake.dashboard.exceptions import BadParameter, DashboardNotFound, DashboardSpecError
from eventlake.dashboard.params import render_sql, resolve, sql_literal, window_values
from eventlake.dashboard.specs import DashboardLibrary, parse_dashboard, parse_duration

REPO = Path(__file__).resolve().parents[2]

YAML_DASHBOARD = """
title: Orders
parameters:
  - name: region
    default: eu
    choices: [eu, us]
  - name: min_total
    type: float
    default: 10
panels:
  - title: Orders per minute
    chart: line
    x: minute
    y: orders
    refresh_s: 5s
    window: 30m
    sql: SELECT minute, orders FROM orders_by_minute WHERE region = {region} AND total >= {min_total}
  - title: Total
    chart: number
    y: total
    sql: SELECT 1 AS total
"""


def test_yaml_dashboard_parses_with_ids_durations_and_parameters() -> None:
    dash = parse_dashboard("orders", YAML_DASHBOARD, ".yaml")
    assert [p.id for p in dash.panels] == ["orders-per-minute", "total"]
    first = dash.panels[0]
    assert (first.chart, first.x, first.y, first.refresh_s, first.window) == ("line", "minute", ["orders"], 5.0, 1800.0)
    assert sorted(dash.all_parameters()) == ["min_total", "region"]


def test_parameters_are_bound_never_pasted_into_sql() -> None:
    dash = parse_dashboard("orders", YAML_DASHBOARD, ".yaml")
    sql, params = render_sql(dash.panels[0], resolve(dash, {"region": "us", "min_total": "12.5"}), now=0)
    assert sql.endswith("WHERE region = $region AND total >= $min_total")
    assert params == {"region": "us", "min_total": 12.5}
    # Only the names the panel's SQL uses are bound (DuckDB refuses extra ones).
    assert render_sql(dash.panels[1], resolve(dash, {}), now=0) == ("SELECT 1 AS total", {})
    with pytest.raises(BadParameter, match="must be one of eu, us"):
        resolve(dash, {"region": "eu' OR 1=1 --"})
    with pytest.raises(BadParameter, match="must be float"):
        resolve(dash, {"min_total": "1; DROP TABLE x"})
    with pytest.raises(BadParameter, match="no parameter 'nope'"):
        resolve(dash, {"nope": "1"})


def test_a_free_text_value_is_one_bound_value() -> None:
    hostile = "x'); DROP TABLE t; SELECT ('"
    text = (
        "title = 'f'\n[[parameters]]\nname = 'q'\ndefault = ''\n[[panels]]\ntitle = 'p'\n"
        "sql = 'SELECT {q} AS v, length({q}) AS n'\n"
    )
    dash = parse_dashboard("free", text, ".toml")
    sql, params = render_sql(dash.panels[0], resolve(dash, {"q": hostile}), now=0)
    assert hostile not in sql and params == {"q": hostile}
    # DuckDB reads it back as exactly the one string value it was.
    assert duckdb.execute(sql, params).fetchall() == [(hostile, len(hostile))]
    # Server-side literals (never viewer input) still double their quotes.
    assert sql_literal(hostile) == "'x''); DROP TABLE t; SELECT (" + "''" + "'"


def test_window_placeholders_cover_the_window_on_partition_columns() -> None:
    # 2026-01-01 00:05:00 UTC with a 10-minute window starts the previous day at 23:55.
    now = 1767225900.0
    values = window_values(600, now)
    assert values["window_start"] == "TIMESTAMPTZ '2025-12-31 23:55:00+00:00'"
    assert values["recent_partitions"] == "(dt > '2025-12-31' OR (dt = '2025-12-31' AND hour >= '23'))"
    relation = duckdb.sql(
        "SELECT dt, hour FROM (VALUES ('2025-12-31', '22'), ('2025-12-31', '23'), ('2026-01-01', '00'))"
        f" t(dt, hour) WHERE {values['recent_partitions']} ORDER BY ALL"
    )
    assert relation is not None  # a SELECT gives a relation
    rows = relation.fetchall()
    assert rows == [("2025-12-31", "23"), ("2026-01-01", "00")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title = 'x'\npanels = []", "panels: List should have at least 1 item"),
        ("title = 'x'\n[[panels]]\ntitle = 'p'\nchart = 'pie'\nsql = 'SELECT 1'", "panels.0.chart: Input should be"),
        ("title = 'x'\n[[panels]]\ntitle = 'p'\nchart = 'line'\nsql = 'SELECT 1'", "a line chart needs x and y fields"),
        ("title = 'x'\n[[panels]]\ntitle = 'p'\nsql = 'SELECT {who}'", "uses {who}, which no parameter declares"),
        (
            "title = 'x'\n[[parameters]]\nname = 's'\ndefault = 'a'\n[[panels]]\ntitle = 'p'\nsql = \"SELECT '{s}'\"",
            "panel 'p': {s} is inside a string literal; write it without quotes",
        ),
        (
            "title = 'x'\n[[parameters]]\nname = 's'\ndefault = 'a'\n[[panels]]\ntitle = 'p'\nsql = 'SELECT \"{s}\"'",
            "{s} is inside a quoted identifier",
        ),
        (
            "title = 'x'\n[[parameters]]\nname = 's'\ndefault = 'a'\n[[panels]]\ntitle = 'p'\nsql = 'SELECT 1 -- {s}'",
            "{s} is inside a comment",
        ),
        (
            "title = 'x'\n[[parameters]]\nname = 's'\ndefault = 'a'\n[[panels]]\ntitle = 'p'\nsql = 'SELECT x{s}'",
            "{s} is part of a larger token",
        ),
        ("title = 'x'\n[[panels]]\ntitle = 'p'\nsql = 'SELECT $s'", "raw SQL parameter '$s'"),
        (
            "title = 'x'\n[[parameters]]\nname = 'token'\ndefault = 'a'\n[[panels]]\ntitle = 'p'\nsql = 'SELECT 1'",
            "not a built-in one or 'token'",
        ),
        (
            "title = 'x'\n[[parameters]]\nname = 'Ab'\ndefault = 'a'\n[[parameters]]\nname = 'ab'\ndefault = 'a'\n"
            "[[panels]]\ntitle = 'p'\nsql = 'SELECT {Ab}, {ab}'",
            "differ only in upper/lower case",
        ),
        (
            "title = 'x'\n[[panels]]\ntitle = 'p'\nsql = 'SELECT 1'\n[[panels]]\ntitle = 'p'\nsql = 'SELECT 2'",
            "two panels have the id 'p'",
        ),
        ("title = = 'x'", "not valid TOML"),
    ],
)
def test_bad_dashboard_files_say_what_is_wrong_in_one_line(text: str, message: str) -> None:
    with pytest.raises(DashboardSpecError) as err:
        parse_dashboard("bad", text, ".toml")
    line = err.value.one_line()
    assert line.startswith("bad.toml: ")
    assert message in line
    assert "\n" not in line


def test_durations() -> None:
    assert [parse_duration(v) for v in ("500ms", "30s", "15m", "2h", 7, "1.5")] == [0.5, 30, 900, 7200, 7, 1.5]
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")


def test_library_serves_builtin_stocks_and_lets_a_file_override_it(tmp_path: Path) -> None:
    lib = DashboardLibrary(DashboardSettings(dashboards_dir=str(tmp_path)))
    stocks = lib.get("stocks")
    assert {p.chart for p in stocks.panels} == {"line", "bar", "area", "table", "number"}
    # Every built-in panel reads recent partitions only.
    assert all("{recent_partitions}" in p.sql for p in stocks.panels)

    (tmp_path / "stocks.toml").write_text("title = 'Mine'\n[[panels]]\ntitle = 'one'\nsql = 'SELECT 1 AS x'\n")
    (tmp_path / "broken.yaml").write_text("title: Broken\npanels: nope\n")
    assert lib.get("stocks").title == "Mine"
    good, bad = lib.list()
    assert [d.name for d in good] == ["history", "stocks"]
    assert list(bad) == ["broken"] and "panels" in bad["broken"]
    with pytest.raises(DashboardNotFound, match="no dashboard named 'gone'"):
        lib.get("gone")


def test_example_dashboards_in_the_repo_parse() -> None:
    files = sorted((REPO / "dashboards").glob("*.toml")) + sorted((REPO / "dashboards").glob("*.yaml"))
    assert {p.suffix for p in files} == {".toml", ".yaml"}, "the repo ships example dashboards of both kinds"
    for path in files:
        dash = parse_dashboard(path.stem, path.read_text(), path.suffix, str(path))
        for panel in dash.panels:
            sql, params = render_sql(panel, resolve(dash, {}), now=0)
            assert not re.search(r"\{[A-Za-z_]\w*\}", sql), f"{path.name}:{panel.id} left a placeholder"
            assert sorted(params) == sorted(set(re.findall(r"\$([A-Za-z_]\w*)", sql))), panel.id
