"""Property tests of the read-only guard: random SELECT trees, with or without one forbidden construct.

A small grammar builds SELECTs from tables, subqueries, CTEs, UNIONs, joins, VALUES and allowed
table functions, with expressions nested at random (CASE, CAST, casts, scalar and IN/EXISTS
subqueries, lists, lambdas, windows, allowed functions, string literals that quote forbidden
SQL). Leaves are slots of three kinds: a table (FROM item), an expression, a CTE body.

  1. Fill one slot, at whatever depth it sits (random nesting adds up to 40 more levels), with a
     forbidden construct of its kind (COPY/INSERT/UPDATE/DELETE as a CTE body, a file-reading or
     reflecting table function, a path as a table name, a reflection schema, getenv,
     current_setting...): `SqlGuard().check` refuses it (RefusedStatement or BadSql).
  2. Fill every slot with allowed constructs: the guard lets it through (binding is not its job).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eventlake.query.exceptions import BadSql, QueryError, RefusedStatement
from eventlake.query.guard import SqlGuard

TABLE, EXPR, CTE = "\x00T\x00", "\x00E\x00", "\x00C\x00"
SLOTS = (TABLE, EXPR, CTE)
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

ALLOWED_FILL = {
    TABLE: ["stock_ticks", "orders", '"default".stock_ticks', "eventlake.files", "range(3) AS r(x)"],
    EXPR: ["1", "symbol", "'text'", "NULL", "volume * 2"],
    CTE: ["SELECT 1 AS a", "SELECT symbol FROM stock_ticks", "VALUES (1), (2)"],
}
FORBIDDEN_FILL = {
    TABLE: [
        "read_csv('/etc/passwd')",
        "read_csv_auto('/etc/passwd')",
        "read_text('/etc/passwd')",
        "read_blob('/etc/passwd')",
        "read_json('/tmp/x.json')",
        "read_parquet('/tmp/x.parquet')",
        "parquet_scan('/tmp/x.parquet')",
        "parquet_metadata('/tmp/x.parquet')",
        "parquet_schema('/tmp/x.parquet')",
        "glob('/*')",
        "query('SELECT 1')",
        "query_table('stock_ticks')",
        "sniff_csv('/etc/passwd')",
        "duckdb_settings()",
        "duckdb_views()",
        "duckdb_databases()",
        "duckdb_tables()",
        "pragma_version()",
        "pragma_table_info('stock_ticks')",
        "sql_auto_complete('SEL')",
        "json_execute_serialized_sql('{}')",
        "checkpoint()",
        "'/etc/passwd'",
        "'/tmp/x.parquet'",
        '"/tmp/x.parquet"',
        '"/tmp/dir/x"."csv"',
        '"../x"."parquet"',
        "information_schema.tables",
        "information_schema.columns",
        "pg_catalog.pg_class",
        "pg_catalog.pg_settings",
        '"information_schema"."views"',
        "memory.main.stock_ticks",
        "system.main.duckdb_views",
        "main.read_csv('/etc/passwd')",
        "\"read_csv\"('/etc/passwd')",
        "READ_TEXT('/etc/passwd')",
    ],
    EXPR: [
        "getenv('HOME')",
        "current_setting('allowed_paths')",
        "CURRENT_SETTING('temp_directory')",
        "\"getenv\"('HOME')",
        "(SELECT content FROM read_text('/etc/passwd'))",
        "(SELECT count(*) FROM glob('/*'))",
        "(SELECT count(*) FROM information_schema.tables)",
        "(SELECT value FROM duckdb_settings() LIMIT 1)",
        "(SELECT count(*) FROM '/etc/passwd')",
        "list_transform([1], lambda v: (SELECT content FROM read_text('/etc/passwd')))",
    ],
    CTE: [
        "COPY (SELECT 1 AS a) TO '/tmp/x.csv'",
        "COPY stock_ticks TO '/tmp/x.parquet' (FORMAT parquet)",
        "COPY (SELECT 1 AS a) TO 'lake/stock_ticks/x.parquet' (FORMAT parquet, RETURN_FILES true)",
        "INSERT INTO stock_ticks VALUES (1) RETURNING *",
        "UPDATE stock_ticks SET price = 0 RETURNING *",
        "DELETE FROM stock_ticks RETURNING *",
        "SELECT * FROM read_csv('/etc/passwd')",
        "WITH y AS (COPY (SELECT 1) TO '/tmp/y.csv') SELECT * FROM y",
    ],
}
TRICKY_STRINGS = [
    "COPY (SELECT 1) TO '/etc/passwd'",
    "read_csv('/etc/passwd')",
    "; DROP VIEW stock_ticks; --",
    "information_schema.tables",
    "/* not a comment */",
    "-- nor this",
    "$$dollar$$",
    "getenv('HOME')",
    "\u0441\u043e\u0440\u0443 homoglyphs",
    "WITH x AS (INSERT INTO t VALUES (1)) SELECT 1",
]
ALLOWED_FUNCTIONS_1 = [
    "lower(CAST({} AS VARCHAR))",
    "upper(CAST({} AS VARCHAR))",
    "round(CAST({} AS DOUBLE), 2)",
    "coalesce({}, 0)",
    "CAST({} AS VARCHAR)",
    "sum({})",
    "max({})",
    "min({})",
    "avg({})",
    "count({})",
    "length(CAST({} AS VARCHAR))",
    "NOT ({} IS NULL)",
    "-({})",
]
ALLOWED_CONSTANTS = [
    "count(*)",
    "date_trunc('hour', TIMESTAMP '2024-01-01 10:30:00')",
    "strftime(TIMESTAMP '2024-01-01 10:30:00', '%Y-%m-%d')",
    "regexp_matches('abc', 'b')",
    "json_extract('{\"a\": 1}', '$.a')",
    "list_transform([1, 2], lambda v: v + 1)",
    "list_sum([1, 2, 3])",
    "[1, 2, 3]",
    "row_number() OVER (ORDER BY 1)",
    "current_date",
    "{'a': 1}",
    "1.5::DOUBLE",
    "DATE '2024-01-02'",
    "INTERVAL 1 HOUR",
]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@st.composite
def expressions(draw: st.DrawFn, depth: int) -> str:
    """A scalar expression; leaves may be EXPR slots, subqueries go one level down."""
    leaves = st.one_of(
        st.integers(-5, 1000).map(str),
        st.sampled_from(TRICKY_STRINGS).map(_quote),
        st.sampled_from(["symbol", "volume", "x", "NULL", "true"]),
        st.just(EXPR),
        st.sampled_from(ALLOWED_CONSTANTS),
    )
    if depth <= 0 or draw(st.booleans()):
        return draw(leaves)
    shape = draw(st.integers(0, 7))
    a = draw(expressions(depth - 1))
    if shape == 0:
        return (
            f"({a} {draw(st.sampled_from(['+', '-', '*', '=', '<', '||', 'AND', 'OR']))} "
            f"{draw(expressions(depth - 1))})"
        )
    if shape == 1:
        return f"CASE WHEN {a} THEN {draw(expressions(depth - 1))} ELSE {draw(expressions(depth - 1))} END"
    if shape == 2:
        return draw(st.sampled_from(ALLOWED_FUNCTIONS_1)).format(a)
    if shape == 3:
        return f"({draw(selects(depth - 2))})"
    if shape == 4:
        return f"{a} IN ({draw(selects(depth - 2))})"
    if shape == 5:
        return f"EXISTS ({draw(selects(depth - 2))})"
    if shape == 6:
        return f"[{a}, {draw(expressions(depth - 1))}]"
    return f"sum({a}) OVER (PARTITION BY {draw(expressions(depth - 1))} ORDER BY 1)"


@st.composite
def sources(draw: st.DrawFn, depth: int) -> str:
    """A FROM item: a table slot, a subquery, VALUES, an allowed table function, or a join of two."""
    alias = f"s{draw(st.integers(0, 99))}"
    shape = draw(st.integers(0, 6 if depth > 0 else 2))
    if shape == 0:
        return TABLE
    if shape == 1:
        return draw(
            st.sampled_from(
                [
                    "(VALUES (1, 'a'), (2, 'b')) AS v(x, y)",
                    "range(5) AS r(x)",
                    "generate_series(1, 3) AS g(x)",
                    "unnest([1, 2, 3]) AS u(x)",
                ]
            )
        )
    if shape == 2:
        return draw(st.sampled_from(["stock_ticks", "orders", "eventlake.tables", '"default".orders']))
    if shape in (3, 4):
        return f"({draw(selects(depth - 1))}) AS {alias}"
    join = draw(st.sampled_from(["JOIN", "LEFT JOIN", "CROSS JOIN", ","]))
    left, right = draw(sources(depth - 1)), draw(sources(depth - 1))
    return f"{left} {join} {right}" + (" ON true" if join.endswith("JOIN") and join != "CROSS JOIN" else "")


@st.composite
def selects(draw: st.DrawFn, depth: int) -> str:
    """A SELECT: maybe with CTEs (bodies are CTE slots or SELECTs), WHERE, GROUP BY, a UNION."""
    ctes = ""
    names: list[str] = []
    if depth > 0 and draw(st.integers(0, 2)) == 0:
        bodies = [CTE if draw(st.booleans()) else draw(selects(depth - 1)) for _ in range(draw(st.integers(1, 2)))]
        names = [f"c{depth}_{i}" for i in range(len(bodies))]
        ctes = "WITH " + ", ".join(f"{n} AS ({b})" for n, b in zip(names, bodies, strict=True)) + " "
    columns = draw(st.lists(expressions(depth), min_size=1, max_size=2))
    select_list = ", ".join(f"{c} AS col{i}" for i, c in enumerate(columns))
    source = draw(sources(depth))
    if names:
        source = f"{names[-1]}, {source}"
    sql = f"{ctes}SELECT {select_list} FROM {source}"
    if draw(st.booleans()):
        sql += f" WHERE {draw(expressions(depth))}"
    if draw(st.integers(0, 3)) == 0:
        sql += " GROUP BY ALL"
    if depth > 0 and draw(st.integers(0, 3)) == 0:
        op = draw(st.sampled_from(["UNION ALL", "UNION", "INTERSECT", "EXCEPT"]))
        sql = f"({sql}) {op} ({draw(selects(depth - 1))})"
    return sql


@st.composite
def trees(draw: st.DrawFn) -> str:
    """A SELECT at a random depth, wrapped in up to 40 more levels of subqueries."""
    sql = draw(selects(draw(st.integers(0, 3))))
    for level in range(draw(st.integers(0, 40))):
        sql = f"SELECT * FROM ({sql}) AS w{level}"
    return sql


def _fill(template: str, chosen: int | None, forbidden: str | None, draw: st.DrawFn) -> str:
    """Replace every slot: the `chosen`-th with `forbidden`, the others with allowed constructs."""
    out, index, i = [], 0, 0
    while i < len(template):
        slot = next((s for s in SLOTS if template.startswith(s, i)), None)
        if slot is None:
            out.append(template[i])
            i += 1
            continue
        out.append(
            forbidden if index == chosen and forbidden is not None else draw(st.sampled_from(ALLOWED_FILL[slot]))
        )
        index += 1
        i += len(slot)
    return "".join(out)


def _slots(template: str) -> list[str]:
    found, i = [], 0
    while i < len(template):
        slot = next((s for s in SLOTS if template.startswith(s, i)), None)
        if slot:
            found.append(slot)
            i += len(slot)
        else:
            i += 1
    return found


@st.composite
def poisoned(draw: st.DrawFn) -> tuple[str, str]:
    """(SQL with exactly one forbidden construct, that construct)."""
    template = draw(trees())
    slots = _slots(template)
    assume(slots)
    chosen = draw(st.integers(0, len(slots) - 1))
    forbidden = draw(st.sampled_from(FORBIDDEN_FILL[slots[chosen]]))
    sql = _fill(template, chosen, forbidden, draw)
    return draw(st.sampled_from(["", "", "", "EXPLAIN ", "EXPLAIN ANALYZE "])) + sql, forbidden


@st.composite
def clean(draw: st.DrawFn) -> str:
    return _fill(draw(trees()), None, None, draw)


@pytest.fixture(scope="module")
def guard() -> Iterator[SqlGuard]:
    g = SqlGuard()
    yield g
    close = getattr(g, "close", None)
    if close is not None:
        close()


@pytest.fixture(scope="module")
def parser() -> Iterator[duckdb.DuckDBPyConnection]:
    """A bare DuckDB connection, only to tell a generator bug (SQL DuckDB cannot parse) from a guard bug."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    yield con
    con.close()


def _parses(con: duckdb.DuckDBPyConnection, sql: str) -> bool:
    try:
        return len(con.extract_statements(sql)) == 1
    except duckdb.Error:
        return False


@FUZZ
@given(case=poisoned())
def test_any_tree_with_a_forbidden_construct_is_refused(
    case: tuple[str, str], guard: SqlGuard, parser: duckdb.DuckDBPyConnection
) -> None:
    sql, forbidden = case
    assume(_parses(parser, sql))  # a refusal of SQL DuckDB cannot parse would prove nothing
    try:
        guard.check(sql)
    except (RefusedStatement, BadSql) as exc:
        assert "\n" not in str(exc)
        return
    except QueryError as exc:
        pytest.fail(f"{type(exc).__name__} instead of RefusedStatement/BadSql: {exc}")
    pytest.fail(f"the guard let {forbidden!r} through in:\n{sql}")


@FUZZ
@given(sql=clean())
def test_trees_of_allowed_constructs_pass_the_guard(
    sql: str, guard: SqlGuard, parser: duckdb.DuckDBPyConnection
) -> None:
    assume(_parses(parser, sql))
    try:
        guard.check(sql)
    except QueryError as exc:
        pytest.fail(f"{type(exc).__name__}: {exc}\nfor an allowed tree:\n{sql}")


def test_the_generators_mostly_make_sql_duckdb_parses(parser: duckdb.DuckDBPyConnection) -> None:
    """The properties skip unparsable SQL; most generated trees must parse, or they test nothing."""
    samples: list[Any] = []

    @settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(sql=clean(), bad=poisoned())
    def collect(sql: str, bad: tuple[str, str]) -> None:
        samples.append((_parses(parser, sql), _parses(parser, bad[0])))

    collect()
    assert sum(a for a, _ in samples) >= 0.8 * len(samples)
    assert sum(b for _, b in samples) >= 0.8 * len(samples)


SETTINGS_FOR_SLOT = {TABLE: "SELECT * FROM {}", EXPR: "SELECT {} AS a", CTE: "WITH c AS ({}) SELECT * FROM c"}
WRAPPERS = [
    "{}",
    "SELECT * FROM ({}) AS s",
    "SELECT 1 AS a UNION ALL ({})",
    "SELECT (SELECT count(*) FROM ({}) AS q)",
    "WITH w AS ({}) SELECT * FROM w",
    "EXPLAIN ANALYZE {}",
]
EVERY_FORBIDDEN = [(slot, f, w) for slot, fills in FORBIDDEN_FILL.items() for f in fills for w in WRAPPERS]


@pytest.mark.parametrize(
    ("slot", "forbidden", "wrapper"),
    EVERY_FORBIDDEN,
    ids=[f"{f[:40]}|{w.split('{')[0].strip()[:20] or 'bare'}" for _, f, w in EVERY_FORBIDDEN],
)
def test_each_forbidden_construct_is_refused_in_each_wrapper(
    slot: str, forbidden: str, wrapper: str, guard: SqlGuard
) -> None:
    """The properties draw forbidden constructs at random; this tries every one, in six positions."""
    sql = wrapper.format(SETTINGS_FOR_SLOT[slot].format(forbidden))
    with pytest.raises((RefusedStatement, BadSql)):
        guard.check(sql)
