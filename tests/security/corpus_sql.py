"""Attacks on the read-only SQL surface, grouped by the root cause they probe, plus positive controls.

SQL is written with `<<target>>` tokens that `render` fills with real paths of the module's
lake (`targets`): the data files the catalog lists, the catalog itself, files planted beside
the lake and in the engine's temp folder, and marked paths for files an attack might create.

Classes (the `klass` of each case):
  nested-write  data-modifying nodes nested in a SELECT (CTE bodies, subqueries, set-operation
                branches, EXPLAIN ANALYZE of them)
  statement     every non-SELECT statement, written to harm the lake where it can
  names         table names that are paths, schemas that are paths (replacement scans), the temp
                folder, catalog-qualified and reflection names
  files         functions that read files, run SQL from a string or reflect DuckDB; hidden by
                quoting, comments, homoglyphs, lambdas, lateral joins, PIVOT, SUMMARIZE...
  leak          absolute paths and settings: refused, or answered without the secret (`no-leak`)
  multi         more than one statement per request
DoS cases (`DOS`) are built by functions: their SQL is megabytes long or 5000 levels deep.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.security.conftest import MARKER, REAL_TMP, SqlLake

REFUSED = ("RefusedStatement", "BadSql")
NAMES = ("RefusedStatement", "BadSql", "UnknownTable")
ONE_STATEMENT = "one statement"


@dataclass(frozen=True)
class Attack:
    """One attack: refused on every surface (or, for `no-leak`, answered without a secret), nothing changed."""

    id: str
    klass: str
    sql: str
    errors: tuple[str, ...] = REFUSED  # acceptable QueryError subclasses (library)
    mode: str = "refuse"  # refuse | no-leak
    cli: bool = False  # also run through `eventlake query` (slow: ~1 s each)
    params: dict[str, str] | None = None  # named parameters (library only)
    message: str | None = None  # a fragment the error must contain

    @property
    def http(self) -> tuple[int, ...]:
        # A table that does not exist is a 404 (UnknownTable); every other refusal a 400.
        return (400, 404) if "UnknownTable" in self.errors else (400,)


def targets(lake: SqlLake) -> dict[str, str]:
    """Real paths the attacks aim at; engine temp folders must be known (`lake.engine_temp`)."""
    ticks = [p for p in lake.data_files if "stock_ticks" in p.parts]
    orders = [p for p in lake.data_files if "orders" in p.parts]
    lake_file = ticks[0]
    temp_dirs = [p for p in lake.engine_temp if p.is_dir()] or [lake.legacy_temp]
    temp_files = sorted(f for d in temp_dirs for f in d.rglob("*") if f.is_file())
    temp_file = temp_files[0] if temp_files else lake.legacy_temp / "canary.csv"
    return {
        "lake_file": str(lake_file),
        "lake_file_stem": str(lake_file.with_suffix("")),
        "orders_file": str(orders[0]),
        "lake_dir": str(lake_file.parent),
        "lake_root": str(lake.root),
        "catalog": str(lake.catalog),
        "new_lake_file": str(lake_file.parent / f"{MARKER}.parquet"),
        "tmp_out": str(lake.tmp / f"{MARKER}.csv"),
        "sys_tmp_out": str(REAL_TMP / f"{MARKER}.csv"),
        "cwd_rel_lake_file": str(Path("..") / lake_file.relative_to(lake.base)),
        "planted": str(lake.planted_csv),
        "planted_stem": str(lake.planted_csv.with_suffix("")),
        "secret": str(lake.secret),
        "secret_stem": str(lake.secret.with_suffix("")),
        "outside_dir": str(lake.secret.parent),
        "legacy_temp": str(lake.legacy_temp),
        "temp_dir": str(temp_dirs[0]),
        "temp_file": str(temp_file),
        "temp_file_stem": str(temp_file.with_suffix("")),
        "temp_file_ext": temp_file.suffix.lstrip(".") or "csv",
        "marker": MARKER,
    }


def render(sql: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        sql = sql.replace(f"<<{key}>>", value)
    assert "<<" not in sql or ">>" not in sql.split("<<", 1)[1], f"unfilled target in {sql[:200]}"
    return sql


# -- class 1: data-modifying nodes nested in a SELECT ---------------------------------------------------------
COPY = "COPY (SELECT 1 AS a) TO '<<lake_file>>' (FORMAT parquet)"
INSERT = (
    "INSERT INTO stock_ticks VALUES ('EVIL', 1.0, 1, TIMESTAMP '2024-01-01 00:00:00', DATE '2024-01-01', 0) "
    "RETURNING 1 AS a"
)
CTE = f"WITH x AS ({COPY}) SELECT * FROM x"


def _nested_write() -> list[Attack]:
    k = "nested-write"
    return [
        Attack("cte-copy-to-lake-file", k, CTE, cli=True),
        Attack(
            "cte-copy-table-over-lake-file",
            k,
            "WITH x AS (COPY stock_ticks TO '<<lake_file>>' (FORMAT parquet)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-csv-truncates-lake-file",
            k,
            "WITH x AS (COPY (SELECT 'x' AS a WHERE false) TO '<<lake_file>>' (FORMAT csv, HEADER false)) "
            "SELECT * FROM x",
        ),
        Attack(
            "cte-copy-to-orders-file",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO '<<orders_file>>' (FORMAT parquet)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-new-file-in-lake",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO '<<new_lake_file>>' (FORMAT parquet)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-over-catalog", k, "WITH x AS (COPY (SELECT 1 AS a) TO '<<catalog>>' (FORMAT csv)) SELECT * FROM x"
        ),
        Attack(
            "cte-copy-to-private-tmp",
            k,
            "WITH x AS (COPY (SELECT * FROM stock_ticks) TO '<<tmp_out>>' (FORMAT csv)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-to-system-tmp",
            k,
            "WITH x AS (COPY (SELECT * FROM stock_ticks) TO '<<sys_tmp_out>>' (FORMAT csv)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-to-shared-temp-folder",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO '<<legacy_temp>>/<<marker>>.csv' (FORMAT csv)) SELECT * FROM x",
            cli=True,
        ),
        Attack(
            "cte-copy-to-engine-temp-folder",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO '<<temp_dir>>/<<marker>>.parquet' (FORMAT parquet)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-relative-to-cwd",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO '<<marker>>.csv' (FORMAT csv)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-dotdot-to-lake-file",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO '<<cwd_rel_lake_file>>' (FORMAT parquet)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-partitioned-into-lake-dir",
            k,
            "WITH x AS (COPY (SELECT 1 AS a, 2 AS b) TO '<<lake_dir>>' "
            "(FORMAT parquet, PARTITION_BY (b), OVERWRITE_OR_IGNORE true)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-overwrite-table-folder",
            k,
            "WITH x AS (COPY (SELECT 1 AS a, 2 AS b) TO '<<lake_root>>/orders' "
            "(FORMAT parquet, PARTITION_BY (b), OVERWRITE true)) SELECT * FROM x",
        ),
        Attack(
            "cte-copy-return-files",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO '<<lake_file>>' (FORMAT parquet, RETURN_FILES true)) SELECT * FROM x",
        ),
        Attack("cte-copy-second-of-two", k, f"WITH a AS (SELECT 1 AS n), b AS ({COPY}) SELECT * FROM a, b"),
        Attack("cte-copy-unreferenced", k, f"WITH x AS ({COPY}) SELECT 1 AS one"),
        Attack("cte-copy-materialized", k, f"WITH x AS MATERIALIZED ({COPY}) SELECT * FROM x"),
        Attack("cte-copy-not-materialized", k, f"WITH x AS NOT MATERIALIZED ({COPY}) SELECT * FROM x"),
        Attack("cte-copy-recursive-keyword", k, f"WITH RECURSIVE x AS ({COPY}) SELECT * FROM x"),
        Attack("cte-inside-cte-body", k, f"WITH x AS (WITH y AS ({COPY}) SELECT * FROM y) SELECT * FROM x"),
        Attack("subquery-cte-copy", k, f"SELECT * FROM ({CTE}) AS s", cli=True),
        Attack("scalar-subquery-cte-copy", k, f"SELECT (WITH x AS ({COPY}) SELECT count(*) FROM x) AS n"),
        Attack("exists-cte-copy", k, f"SELECT 1 AS one WHERE EXISTS ({CTE})"),
        Attack("in-subquery-cte-copy", k, f"SELECT count(*) FROM stock_ticks WHERE volume IN ({CTE})"),
        Attack("any-subquery-cte-copy", k, f"SELECT count(*) FROM stock_ticks WHERE volume > ANY ({CTE})"),
        Attack("setop-branch-copy", k, f"SELECT 1 AS a UNION ALL ({CTE})", cli=True),
        Attack("setop-branch-insert", k, f"SELECT 1 AS a UNION ALL (WITH x AS ({INSERT}) SELECT * FROM x)", cli=True),
        Attack("setop-intersect-copy", k, f"SELECT 1 AS a INTERSECT ({CTE})"),
        Attack("setop-except-copy", k, f"SELECT 1 AS a EXCEPT ({CTE})"),
        Attack("setop-union-by-name-copy", k, f"SELECT 1 AS a UNION BY NAME ({CTE})"),
        Attack("setop-left-branch-copy", k, f"({CTE}) UNION SELECT 2 AS a"),
        Attack("setop-deep-branch-copy", k, f"SELECT 1 AS a UNION (SELECT 2 UNION ALL ({CTE}))"),
        Attack("lateral-cte-copy", k, f"SELECT * FROM range(1) AS r, LATERAL ({CTE}) AS l"),
        Attack("join-cte-copy", k, f"SELECT * FROM stock_ticks JOIN ({CTE}) AS s ON true LIMIT 1"),
        Attack(
            "where-three-levels-deep-copy",
            k,
            "SELECT * FROM stock_ticks WHERE symbol IN (SELECT symbol FROM (SELECT symbol, volume FROM stock_ticks "
            f"WHERE volume IN ({CTE})) AS a) LIMIT 1",
        ),
        Attack(
            "order-by-subquery-copy",
            k,
            f"SELECT symbol FROM stock_ticks ORDER BY (WITH x AS ({COPY}) SELECT count(*) FROM x) LIMIT 1",
        ),
        Attack(
            "case-subquery-copy", k, f"SELECT CASE WHEN true THEN (WITH x AS ({COPY}) SELECT count(*) FROM x) END AS n"
        ),
        Attack(
            "function-arg-subquery-copy", k, f"SELECT coalesce((WITH x AS ({COPY}) SELECT count(*) FROM x), 0) AS n"
        ),
        Attack(
            "lambda-subquery-copy",
            k,
            f"SELECT list_transform([1, 2], lambda v: v + (WITH x AS ({COPY}) SELECT count(*) FROM x)) AS l",
        ),
        Attack(
            "old-arrow-lambda-subquery-copy",
            k,
            f"SELECT list_transform([1, 2], v -> v + (WITH x AS ({COPY}) SELECT count(*) FROM x)) AS l",
        ),
        Attack("array-subquery-copy", k, f"SELECT ARRAY({CTE}) AS l"),
        Attack(
            "window-order-subquery-copy",
            k,
            f"SELECT sum(volume) OVER (ORDER BY (WITH x AS ({COPY}) SELECT count(*) FROM x)) FROM stock_ticks",
        ),
        Attack(
            "values-subquery-copy", k, f"SELECT * FROM (VALUES ((WITH x AS ({COPY}) SELECT count(*) FROM x))) AS v(n)"
        ),
        Attack("from-first-cte-copy", k, f"WITH x AS ({COPY}) FROM x"),
        Attack("explain-analyze-copy", k, f"EXPLAIN ANALYZE {CTE}", cli=True),
        Attack("explain-copy", k, f"EXPLAIN {CTE}"),
        Attack("explain-analyze-insert", k, f"EXPLAIN ANALYZE WITH x AS ({INSERT}) SELECT * FROM x"),
        Attack("explain-analyze-subquery-copy", k, f"EXPLAIN ANALYZE SELECT * FROM ({CTE}) AS s"),
        Attack("cte-insert-into-view", k, f"WITH x AS ({INSERT}) SELECT * FROM x"),
        Attack(
            "cte-insert-into-system-table",
            k,
            "WITH x AS (INSERT INTO eventlake.files DEFAULT VALUES RETURNING *) SELECT * FROM x",
        ),
        Attack(
            "cte-insert-select-orders",
            k,
            "WITH x AS (INSERT INTO orders SELECT * FROM orders RETURNING 1 AS a) SELECT * FROM x",
        ),
        Attack("cte-update-returning", k, "WITH x AS (UPDATE stock_ticks SET price = 0 RETURNING *) SELECT * FROM x"),
        Attack("cte-delete-returning", k, "WITH x AS (DELETE FROM stock_ticks RETURNING *) SELECT * FROM x", cli=True),
        Attack(
            "cte-delete-from-system-table", k, "WITH x AS (DELETE FROM eventlake.tables RETURNING *) SELECT * FROM x"
        ),
        Attack(
            "cte-copy-path-as-parameter",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO $target (FORMAT parquet)) SELECT * FROM x",
            params={"target": "<<lake_file>>"},
        ),
        Attack(
            "cte-copy-comments-hide-keywords",
            k,
            "WITH/*COPY*/x AS(/* a harmless comment */COPY/**/(SELECT 1 AS a)TO'<<lake_file>>'"
            "(FORMAT parquet))SELECT*FROM x",
        ),
        Attack(
            "cte-copy-mixed-case",
            k,
            "wItH x As (cOpY (SeLeCt 1 aS a) tO '<<lake_file>>' (fOrMaT PaRqUeT)) sElEcT * FrOm x",
        ),
        Attack(
            "cte-copy-dollar-quoted-path",
            k,
            "WITH x AS (COPY (SELECT 1 AS a) TO $$<<lake_file>>$$ (FORMAT parquet)) SELECT * FROM x",
        ),
        Attack("cte-copy-quoted-cte-name", k, f'WITH "select" AS ({COPY}) SELECT * FROM "select"'),
        Attack(
            "cte-copy-newlines-and-line-comments",
            k,
            f"-- a report\nWITH x AS (\n\t-- the rows\n\t{COPY}\n)\nSELECT *\nFROM x -- done\n",
        ),
        Attack(
            "cte-copy-from-first-body",
            k,
            "WITH x AS (COPY (FROM stock_ticks) TO '<<lake_file>>' (FORMAT parquet)) SELECT * FROM x",
        ),
        Attack("cte-copy-nbsp-whitespace", k, CTE.replace(" ", "\u00a0", 6)),
        Attack(
            "cte-copy-read-text-to-tmp",
            k,
            "WITH x AS (COPY (SELECT * FROM read_text('<<secret>>')) TO '<<tmp_out>>' (FORMAT csv)) SELECT * FROM x",
        ),
    ]


# -- class 1: statements that are not SELECT ---------------------------------------------------------------
def _statements() -> list[Attack]:
    k = "statement"
    return [
        Attack("stmt-copy-to-lake-file", k, COPY, cli=True),
        Attack("stmt-copy-table-to-cwd", k, "COPY stock_ticks TO '<<marker>>.csv'"),
        Attack("stmt-copy-from-secret", k, "COPY stock_ticks FROM '<<secret>>'"),
        Attack("stmt-copy-database", k, "COPY FROM DATABASE memory TO memory"),
        Attack("stmt-insert", k, INSERT),
        Attack("stmt-insert-or-replace", k, "INSERT OR REPLACE INTO orders SELECT * FROM orders"),
        Attack("stmt-update", k, "UPDATE stock_ticks SET price = 0"),
        Attack("stmt-delete", k, "DELETE FROM stock_ticks"),
        Attack("stmt-truncate", k, "TRUNCATE stock_ticks"),
        Attack(
            "stmt-merge",
            k,
            "MERGE INTO orders USING (SELECT 1 AS order_id) AS s ON s.order_id = orders.order_id "
            "WHEN MATCHED THEN DELETE",
        ),
        Attack("stmt-create-table-as", k, "CREATE TABLE t AS SELECT * FROM stock_ticks"),
        Attack("stmt-create-temp-table", k, "CREATE TEMP TABLE t AS SELECT 1 AS a"),
        Attack("stmt-create-view-over-file", k, "CREATE VIEW v AS SELECT * FROM read_csv('<<secret>>')"),
        Attack(
            "stmt-replace-table-view",
            k,
            "CREATE OR REPLACE VIEW stock_ticks AS SELECT * FROM read_text('<<secret>>')",
            cli=True,
        ),
        Attack("stmt-create-table-macro", k, "CREATE MACRO m() AS TABLE SELECT * FROM read_csv('<<secret>>')"),
        Attack("stmt-create-temp-macro", k, "CREATE TEMP MACRO add1(a) AS a + 1"),
        Attack("stmt-create-secret", k, "CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')"),
        Attack("stmt-create-schema", k, "CREATE SCHEMA evil"),
        Attack("stmt-create-sequence", k, "CREATE SEQUENCE s"),
        Attack("stmt-create-type", k, "CREATE TYPE mood AS ENUM ('sad', 'ok')"),
        Attack("stmt-create-index", k, "CREATE INDEX i ON stock_ticks (symbol)"),
        Attack("stmt-drop-view", k, "DROP VIEW stock_ticks", cli=True),
        Attack("stmt-drop-table", k, "DROP TABLE IF EXISTS stock_ticks"),
        Attack("stmt-drop-schema-cascade", k, "DROP SCHEMA eventlake CASCADE"),
        Attack("stmt-alter-view-rename", k, "ALTER VIEW stock_ticks RENAME TO gone"),
        Attack("stmt-alter-table-add-column", k, "ALTER TABLE stock_ticks ADD COLUMN x INTEGER"),
        Attack("stmt-attach-catalog-sqlite", k, "ATTACH '<<catalog>>' AS cat (TYPE sqlite)", cli=True),
        Attack("stmt-attach-new-duckdb-in-lake", k, "ATTACH '<<lake_dir>>/<<marker>>.duckdb' AS evil"),
        Attack("stmt-attach-memory", k, "ATTACH ':memory:' AS m"),
        Attack("stmt-detach", k, "DETACH DATABASE IF EXISTS memory"),
        Attack("stmt-install", k, "INSTALL httpfs"),
        Attack("stmt-force-install", k, "FORCE INSTALL httpfs FROM core_nightly"),
        Attack("stmt-load", k, "LOAD httpfs"),
        Attack("stmt-load-from-path", k, "LOAD '<<tmp_out>>.duckdb_extension'"),
        Attack("stmt-update-extensions", k, "UPDATE EXTENSIONS"),
        Attack("stmt-set-allowed-paths", k, "SET allowed_paths = ['/']", cli=True),
        Attack("stmt-set-external-access", k, "SET enable_external_access = true"),
        Attack("stmt-set-global", k, "SET GLOBAL threads = 1"),
        Attack("stmt-set-variable", k, "SET VARIABLE target = '<<lake_file>>'"),
        Attack("stmt-reset", k, "RESET allowed_paths"),
        Attack("stmt-pragma-enable-profiling", k, "PRAGMA enable_profiling"),
        Attack("stmt-pragma-profile-output", k, "PRAGMA profile_output = '<<lake_file>>'"),
        Attack("stmt-pragma-table-info", k, "PRAGMA table_info('stock_ticks')"),
        Attack("stmt-call-checkpoint", k, "CALL checkpoint()"),
        Attack("stmt-call-pragma-version", k, "CALL pragma_version()"),
        Attack("stmt-export-database", k, "EXPORT DATABASE '<<lake_dir>>'"),
        Attack("stmt-import-database", k, "IMPORT DATABASE '<<lake_dir>>'"),
        Attack("stmt-checkpoint", k, "CHECKPOINT"),
        Attack("stmt-force-checkpoint", k, "FORCE CHECKPOINT"),
        Attack("stmt-vacuum", k, "VACUUM"),
        Attack("stmt-vacuum-analyze", k, "VACUUM ANALYZE stock_ticks"),
        Attack("stmt-analyze", k, "ANALYZE"),
        Attack("stmt-begin", k, "BEGIN TRANSACTION"),
        Attack("stmt-commit", k, "COMMIT"),
        Attack("stmt-rollback", k, "ROLLBACK"),
        Attack("stmt-prepare-copy", k, f"PREPARE p AS {COPY}"),
        Attack("stmt-prepare-select", k, "PREPARE p AS SELECT 1"),
        Attack("stmt-execute", k, "EXECUTE p"),
        Attack("stmt-deallocate", k, "DEALLOCATE p"),
        Attack("stmt-use", k, "USE memory.eventlake"),
        Attack("stmt-comment-on", k, "COMMENT ON VIEW stock_ticks IS 'mine now'"),
        Attack("stmt-detach-system", k, "DETACH system"),
    ]


# -- class 2: names that are paths, temp folder, qualified and reflection names ---------------------------------
def _names() -> list[Attack]:
    k = "names"
    return [
        Attack("path-table-etc-passwd", k, "SELECT * FROM '/etc/passwd'", cli=True),
        Attack("path-table-double-quoted-lake-file", k, 'SELECT * FROM "<<lake_file>>"', cli=True),
        Attack("path-table-single-quoted-lake-file", k, "SELECT * FROM '<<lake_file>>'"),
        Attack("path-table-catalog", k, "SELECT * FROM '<<catalog>>'"),
        Attack("path-table-glob-lake", k, "SELECT count(*) FROM '<<lake_root>>/**/*.parquet'"),
        Attack("path-table-secret", k, "SELECT * FROM '<<secret>>'"),
        Attack("path-table-planted-in-lake", k, "SELECT * FROM '<<planted>>'"),
        Attack("path-table-relative-dotdot", k, "SELECT * FROM '<<cwd_rel_lake_file>>'"),
        Attack("path-table-in-join", k, "SELECT * FROM stock_ticks, '<<secret>>' LIMIT 1"),
        Attack("path-table-in-subquery", k, "SELECT * FROM (SELECT * FROM '<<secret>>') AS s"),
        Attack("path-table-in-cte", k, "WITH s AS (SELECT * FROM '<<secret>>') SELECT * FROM s"),
        Attack("path-table-union-branch", k, "SELECT 'a' AS secret UNION ALL SELECT * FROM '<<secret>>'"),
        Attack("path-table-in-where", k, "SELECT 1 AS one WHERE 'x' IN (SELECT * FROM '<<secret>>')"),
        Attack("path-table-from-first", k, "FROM '<<secret>>'"),
        Attack("path-table-dollar-quoted", k, "SELECT * FROM $$<<secret>>$$"),
        Attack("path-table-relative-name", k, 'SELECT * FROM "planted.csv"'),
        Attack("path-table-url", k, "SELECT * FROM 'https://example.com/x.csv'"),
        Attack("path-table-file-uri", k, "SELECT * FROM 'file://<<secret>>'"),
        Attack("path-table-home", k, "SELECT * FROM '~/.bashrc'"),
        Attack("schema-path-replacement-scan", k, 'SELECT * FROM "<<planted_stem>>"."csv"', errors=NAMES, cli=True),
        Attack("schema-path-secret", k, 'SELECT * FROM "<<secret_stem>>"."csv"', errors=NAMES),
        Attack("schema-path-lake-parquet", k, 'SELECT * FROM "<<lake_file_stem>>"."parquet"', errors=NAMES),
        Attack("schema-path-relative", k, 'SELECT * FROM "../outside/secret"."csv"', errors=NAMES),
        Attack("schema-path-catalog-qualified", k, 'SELECT * FROM memory."<<secret_stem>>"."csv"', errors=NAMES),
        Attack(
            "schema-path-in-cte", k, 'WITH s AS (SELECT * FROM "<<secret_stem>>"."csv") SELECT * FROM s', errors=NAMES
        ),
        Attack(
            "schema-path-in-union",
            k,
            'SELECT \'a\' AS secret UNION ALL SELECT * FROM "<<secret_stem>>"."csv"',
            errors=NAMES,
        ),
        Attack("temp-dir-read", k, 'SELECT * FROM "<<legacy_temp>>/canary"."csv"', errors=NAMES, cli=True),
        Attack("temp-dir-read-quoted-file", k, "SELECT * FROM '<<legacy_temp>>/canary.csv'"),
        Attack("temp-dir-read-engine-file", k, "SELECT * FROM '<<temp_file>>'"),
        Attack(
            "temp-dir-read-engine-file-schema-path",
            k,
            'SELECT * FROM "<<temp_file_stem>>"."<<temp_file_ext>>"',
            errors=NAMES,
        ),
        Attack("temp-dir-glob", k, "SELECT * FROM glob('<<legacy_temp>>/*')"),
        Attack("temp-dir-read-text", k, "SELECT * FROM read_text('<<legacy_temp>>/canary.csv')"),
        Attack("catalog-qualified-memory", k, "SELECT * FROM memory.main.stock_ticks", errors=NAMES),
        Attack("catalog-qualified-memory-default", k, 'SELECT * FROM memory."default".stock_ticks', errors=NAMES),
        Attack("catalog-qualified-system-main", k, "SELECT * FROM system.main.duckdb_views", errors=NAMES),
        Attack("catalog-qualified-temp", k, "SELECT * FROM temp.main.stock_ticks", errors=NAMES),
        Attack("catalog-qualified-quoted", k, 'SELECT * FROM "memory"."main"."stock_ticks"', errors=NAMES),
        Attack("catalog-qualified-eventlake-files", k, "SELECT * FROM memory.eventlake.files", errors=NAMES),
        Attack("information-schema-tables", k, "SELECT * FROM information_schema.tables", errors=NAMES, cli=True),
        Attack("information-schema-views", k, "SELECT view_definition FROM information_schema.views", errors=NAMES),
        Attack("information-schema-columns", k, "SELECT * FROM information_schema.columns", errors=NAMES),
        Attack("information-schema-quoted", k, 'SELECT * FROM "information_schema"."schemata"', errors=NAMES),
        Attack("information-schema-upper", k, "SELECT * FROM INFORMATION_SCHEMA.TABLES", errors=NAMES),
        Attack("pg-catalog-settings", k, "SELECT * FROM pg_catalog.pg_settings", errors=NAMES),
        Attack("pg-catalog-views", k, "SELECT definition FROM pg_catalog.pg_views", errors=NAMES),
        Attack(
            "pg-catalog-in-subquery",
            k,
            "SELECT count(*) FROM stock_ticks WHERE symbol IN (SELECT relname FROM pg_catalog.pg_class)",
            errors=NAMES,
        ),
        Attack("reflection-view-duckdb-views", k, "SELECT sql FROM duckdb_views", errors=NAMES),
        Attack("reflection-view-duckdb-tables", k, "SELECT * FROM duckdb_tables", errors=NAMES),
        Attack("reflection-view-sqlite-master", k, "SELECT sql FROM sqlite_master", errors=NAMES),
        Attack("reflection-view-pragma-database-list", k, "SELECT * FROM pragma_database_list", errors=NAMES),
        Attack("reflection-view-main-qualified", k, "SELECT sql FROM main.duckdb_views", errors=NAMES),
        Attack("reflection-view-pg-settings-bare", k, "SELECT * FROM pg_settings", errors=NAMES),
        Attack("internal-system-registration", k, "SELECT path FROM __eventlake_files", errors=NAMES),
    ]


# -- class 2: functions that read files, run SQL from strings, reflect DuckDB ---------------------------------
def _files() -> list[Attack]:
    k = "files"
    return [
        Attack("fn-read-csv-etc-passwd", k, "SELECT * FROM read_csv('/etc/passwd')", cli=True),
        Attack("fn-read-csv-auto-secret", k, "SELECT * FROM read_csv_auto('<<secret>>')"),
        Attack("fn-read-csv-file-list", k, "SELECT * FROM read_csv(['<<secret>>', '<<planted>>'])"),
        Attack("fn-read-text-secret", k, "SELECT content FROM read_text('<<secret>>')", cli=True),
        Attack("fn-read-blob-catalog", k, "SELECT content FROM read_blob('<<catalog>>')"),
        Attack("fn-read-json", k, "SELECT * FROM read_json('<<secret>>')"),
        Attack("fn-read-json-auto", k, "SELECT * FROM read_json_auto('<<secret>>')"),
        Attack("fn-read-ndjson", k, "SELECT * FROM read_ndjson('<<secret>>')"),
        Attack("fn-read-parquet-lake-file", k, "SELECT * FROM read_parquet('<<lake_file>>')"),
        Attack("fn-read-parquet-glob", k, "SELECT count(*) FROM read_parquet('<<lake_root>>/**/*.parquet')"),
        Attack("fn-parquet-scan", k, "SELECT * FROM parquet_scan('<<lake_file>>')"),
        Attack("fn-parquet-metadata", k, "SELECT * FROM parquet_metadata('<<lake_file>>')", cli=True),
        Attack("fn-parquet-schema", k, "SELECT * FROM parquet_schema('<<lake_file>>')"),
        Attack("fn-parquet-file-metadata", k, "SELECT * FROM parquet_file_metadata('<<lake_file>>')"),
        Attack("fn-parquet-kv-metadata", k, "SELECT * FROM parquet_kv_metadata('<<lake_file>>')"),
        Attack("fn-glob-lake", k, "SELECT * FROM glob('<<lake_root>>/**')"),
        Attack("fn-glob-root", k, "SELECT * FROM glob('/*')"),
        Attack("fn-query-string", k, "SELECT * FROM query('SELECT * FROM read_csv(''<<secret>>'')')", cli=True),
        Attack("fn-query-table", k, "SELECT * FROM query_table('stock_ticks')"),
        Attack("fn-query-table-list", k, "SELECT * FROM query_table(['stock_ticks', 'orders'])"),
        Attack("fn-sniff-csv", k, "SELECT * FROM sniff_csv('<<secret>>')"),
        Attack("fn-sqlite-scan-catalog", k, "SELECT * FROM sqlite_scan('<<catalog>>', 'files')"),
        Attack("fn-read-duckdb", k, "SELECT * FROM read_duckdb('<<catalog>>')"),
        Attack("fn-delta-scan", k, "SELECT * FROM delta_scan('<<lake_dir>>')"),
        Attack("fn-iceberg-scan", k, "SELECT * FROM iceberg_scan('<<lake_dir>>')"),
        Attack("fn-checkpoint-table-function", k, "SELECT * FROM checkpoint()"),
        Attack("fn-force-checkpoint-table-function", k, "SELECT * FROM force_checkpoint()"),
        Attack("fn-read-csv-quoted-name", k, "SELECT * FROM \"read_csv\"('<<secret>>')"),
        Attack("fn-read-csv-schema-qualified", k, "SELECT * FROM main.read_csv('<<secret>>')"),
        Attack("fn-read-csv-system-qualified", k, "SELECT * FROM system.main.read_csv('<<secret>>')"),
        Attack("fn-read-csv-uppercase", k, "SELECT * FROM READ_CSV('<<secret>>')"),
        Attack("fn-read-csv-homoglyph", k, "SELECT * FROM re\u0430d_csv('<<secret>>')", errors=NAMES),
        Attack("fn-copy-fullwidth-letters", k, "\uff23\uff2f\uff30\uff39 (SELECT 1) TO '<<lake_file>>'"),
        Attack("fn-read-csv-zero-width-space", k, "SELECT * FROM read\u200b_csv('<<secret>>')", errors=NAMES),
        Attack("fn-read-csv-nbsp", k, "SELECT\u00a0*\u00a0FROM\u00a0read_csv('<<secret>>')"),
        Attack("fn-read-csv-comment-split", k, "SELECT * FROM /* x */ read_csv /* y */ ('<<secret>>')"),
        Attack("fn-read-csv-line-comment", k, "SELECT * FROM -- read\n read_csv('<<secret>>')"),
        Attack("fn-read-text-dollar-quoted", k, "SELECT * FROM read_text($$<<secret>>$$)"),
        Attack("fn-read-text-dollar-tagged", k, "SELECT * FROM read_text($q$<<secret>>$q$)"),
        Attack("fn-read-text-concat-path", k, "SELECT * FROM read_text('<<outside_dir>>' || '/secret.csv')"),
        Attack("fn-read-text-getenv-path", k, "SELECT * FROM read_text(getenv('HOME') || '/.bashrc')"),
        Attack("fn-read-text-parameter", k, "SELECT * FROM read_text($p)", params={"p": "<<secret>>"}),
        Attack("fn-read-text-scalar-subquery", k, "SELECT (SELECT content FROM read_text('<<secret>>')) AS c"),
        Attack(
            "fn-read-text-in-lambda",
            k,
            "SELECT list_transform([1], lambda v: (SELECT content FROM read_text('<<secret>>'))) AS l",
        ),
        Attack(
            "fn-read-text-lateral", k, "SELECT * FROM (VALUES ('<<secret>>')) AS v(p), LATERAL read_text(p)", cli=True
        ),
        Attack("fn-read-csv-lateral-column", k, "SELECT * FROM stock_ticks, LATERAL read_csv(symbol) LIMIT 1"),
        Attack("fn-glob-cross-join-lateral", k, "SELECT * FROM range(1) CROSS JOIN LATERAL glob('<<lake_root>>/*')"),
        Attack("fn-read-text-join-on", k, "SELECT * FROM range(1) AS r JOIN read_text('<<secret>>') AS t ON true"),
        Attack(
            "fn-unnest-of-read-text", k, "SELECT * FROM unnest((SELECT list(content) FROM read_text('<<secret>>')))"
        ),
        Attack(
            "fn-range-arg-read-text", k, "SELECT * FROM range((SELECT length(content) FROM read_text('<<secret>>')))"
        ),
        Attack("fn-generate-series-getenv", k, "SELECT * FROM generate_series(1, length(getenv('HOME')))"),
        Attack("fn-pivot-read-csv", k, "PIVOT (SELECT * FROM read_csv('<<secret>>')) ON secret USING count(*)"),
        Attack(
            "fn-unpivot-read-csv", k, "UNPIVOT (SELECT * FROM read_csv('<<secret>>')) ON COLUMNS(*) INTO NAME k VALUE v"
        ),
        Attack("fn-pivot-in-subquery", k, "SELECT * FROM (PIVOT read_csv('<<secret>>') ON secret) AS p"),
        Attack("fn-summarize-read-csv", k, "SUMMARIZE SELECT * FROM read_csv('<<secret>>')"),
        Attack("fn-summarize-path", k, "SUMMARIZE '<<lake_file>>'"),
        Attack("fn-describe-path", k, "DESCRIBE '<<lake_file>>'"),
        Attack("fn-describe-read-parquet", k, "DESCRIBE SELECT * FROM read_parquet('<<lake_file>>')"),
        Attack("fn-show-read-csv", k, "SHOW SELECT * FROM read_csv('<<secret>>')"),
        Attack("fn-from-first-read-csv", k, "FROM read_csv('<<secret>>') SELECT *"),
        Attack("fn-columns-star-read-csv", k, "SELECT COLUMNS(*) FROM read_csv('<<secret>>')"),
        Attack(
            "fn-struct-pack-subquery", k, "SELECT struct_pack(s := (SELECT content FROM read_text('<<secret>>'))) AS s"
        ),
        Attack(
            "fn-limit-subquery",
            k,
            "SELECT * FROM stock_ticks LIMIT (SELECT length(content) FROM read_text('<<secret>>'))",
        ),
        Attack(
            "fn-qualify-subquery",
            k,
            "SELECT * FROM stock_ticks QUALIFY row_number() OVER () = (SELECT count(*) FROM glob('/*'))",
        ),
        Attack("fn-cast-subquery", k, "SELECT CAST((SELECT content FROM read_text('<<secret>>')) AS VARCHAR) AS c"),
        Attack("fn-sample-read-csv", k, "SELECT * FROM read_csv('<<secret>>') USING SAMPLE 1"),
        Attack(
            "fn-json-execute-serialized-sql",
            k,
            "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM read_text(''<<secret>>'')'))",
            cli=True,
        ),
        Attack("fn-json-execute-serialized-sql-scalar", k, "SELECT json_execute_serialized_sql('{}') AS j"),
        Attack("fn-sql-auto-complete", k, "SELECT * FROM sql_auto_complete('SEL')"),
        Attack("fn-getenv", k, "SELECT getenv('HOME') AS home", cli=True),
        Attack("fn-getenv-in-where", k, "SELECT count(*) FROM stock_ticks WHERE symbol = getenv('USER')"),
        Attack("fn-pragma-version", k, "SELECT * FROM pragma_version()"),
        Attack("fn-pragma-table-info", k, "SELECT * FROM pragma_table_info('stock_ticks')"),
        Attack("fn-pragma-storage-info", k, "SELECT * FROM pragma_storage_info('stock_ticks')"),
        Attack("fn-pragma-database-size", k, "SELECT * FROM pragma_database_size()"),
        Attack("fn-duckdb-extensions", k, "SELECT * FROM duckdb_extensions()"),
        Attack("fn-duckdb-secrets", k, "SELECT * FROM duckdb_secrets()"),
        Attack("fn-duckdb-functions", k, "SELECT * FROM duckdb_functions()"),
        Attack("fn-duckdb-temporary-files", k, "SELECT * FROM duckdb_temporary_files()"),
        Attack("fn-duckdb-memory", k, "SELECT * FROM duckdb_memory()"),
    ]


# -- class 3: settings and absolute paths -------------------------------------------------------------------
def _leaks() -> list[Attack]:
    k = "leak"
    return [
        Attack("current-setting-allowed-paths", k, "SELECT current_setting('allowed_paths') AS p", cli=True),
        Attack("current-setting-allowed-directories", k, "SELECT current_setting('allowed_directories') AS p"),
        Attack("current-setting-temp-directory", k, "SELECT current_setting('temp_directory') AS p"),
        Attack("current-setting-home-directory", k, "SELECT current_setting('home_directory') AS p"),
        Attack(
            "current-setting-in-where",
            k,
            "SELECT count(*) FROM stock_ticks WHERE current_setting('allowed_paths')::VARCHAR LIKE '%stock%'",
        ),
        Attack("current-setting-uppercase", k, "SELECT CURRENT_SETTING('ALLOWED_PATHS') AS p"),
        Attack("current-setting-quoted-name", k, "SELECT \"current_setting\"('allowed_paths') AS p"),
        Attack("current-setting-schema-qualified", k, "SELECT main.current_setting('allowed_paths') AS p"),
        Attack("duckdb-settings", k, "SELECT * FROM duckdb_settings()", cli=True),
        Attack("duckdb-settings-filtered", k, "SELECT value FROM duckdb_settings() WHERE name = 'allowed_paths'"),
        Attack("duckdb-views-sql", k, "SELECT sql FROM duckdb_views()"),
        Attack("duckdb-databases-path", k, "SELECT path FROM duckdb_databases()"),
        Attack("duckdb-tables-sql", k, "SELECT sql FROM duckdb_tables()"),
        Attack("duckdb-columns", k, "SELECT * FROM duckdb_columns()"),
        Attack("pragma-show", k, "SELECT * FROM pragma_show('stock_ticks')"),
        Attack("explain-plan-paths", k, "EXPLAIN SELECT * FROM stock_ticks", mode="no-leak", errors=()),
        Attack(
            "explain-analyze-plan-paths",
            k,
            "EXPLAIN ANALYZE SELECT count(*) FROM stock_ticks",
            mode="no-leak",
            errors=(),
        ),
        Attack("files-path-absolute", k, "SELECT path FROM eventlake.files", mode="no-leak", errors=(), cli=True),
        Attack("files-star", k, "SELECT * FROM eventlake.files", mode="no-leak", errors=()),
        Attack(
            "tables-location-absolute", k, "SELECT location FROM eventlake.tables", mode="no-leak", errors=(), cli=True
        ),
        Attack("tables-star", k, "SELECT * FROM eventlake.tables", mode="no-leak", errors=()),
        Attack("watermarks-star", k, "SELECT * FROM eventlake.watermarks", mode="no-leak", errors=()),
        Attack("filename-virtual-column", k, "SELECT filename FROM stock_ticks LIMIT 5", mode="no-leak", errors=()),
        Attack("filename-virtual-column-orders", k, "SELECT DISTINCT filename FROM orders", mode="no-leak", errors=()),
        Attack("describe-table", k, "DESCRIBE stock_ticks", mode="no-leak", errors=()),
        Attack("saved-view-rows", k, "SELECT * FROM ticks_by_symbol", mode="no-leak", errors=()),
        Attack("table-rows", k, "SELECT * FROM stock_ticks LIMIT 50", mode="no-leak", errors=()),
    ]


# -- class 4: one statement per request -----------------------------------------------------------------------
def _multi() -> list[Attack]:
    k = "multi"
    bad = ("BadSql",)
    return [
        Attack("multi-statement", k, "SELECT 1; SELECT 2", errors=bad, message=ONE_STATEMENT, cli=True),
        Attack("multi-statement-three", k, "SELECT 1; SELECT 2; SELECT 3", errors=bad, message=ONE_STATEMENT),
        Attack("multi-statement-double-semicolon", k, "SELECT 1;; SELECT 2", errors=bad, message=ONE_STATEMENT),
        Attack(
            "multi-statement-semicolon-in-string", k, "SELECT ';' AS s; SELECT 2", errors=bad, message=ONE_STATEMENT
        ),
        Attack(
            "multi-statement-after-line-comment", k, "SELECT 1 -- first\n; SELECT 2", errors=bad, message=ONE_STATEMENT
        ),
        Attack("multi-statement-copy-second", k, f"SELECT 1; {COPY}", cli=True),
        Attack("multi-statement-attach-second", k, "SELECT 1; ATTACH '<<catalog>>' AS c (TYPE sqlite)"),
        Attack("multi-statement-set-first", k, "SET allowed_paths = ['/']; SELECT * FROM read_text('<<secret>>')"),
        Attack("multi-statement-block-comment", k, "SELECT 1 /* ; */ ; DROP VIEW stock_ticks"),
        Attack("multi-statement-explain-first", k, "EXPLAIN SELECT 1; SELECT 2"),
        Attack("multi-statement-pragma-first", k, "PRAGMA profile_output = '<<lake_file>>'; SELECT 1"),
    ]


ATTACKS: list[Attack] = [*_nested_write(), *_statements(), *_names(), *_files(), *_leaks(), *_multi()]


# -- saved views written into the catalog by someone else (bypassing `eventlake views create`) -----------------
SAVED_VIEW_ATTACKS: dict[str, str] = {
    "saved-view-cte-copy": CTE,
    "saved-view-setop-insert": f"SELECT 1 AS a UNION ALL (WITH x AS ({INSERT}) SELECT * FROM x)",
    "saved-view-read-text": "SELECT * FROM read_text('<<secret>>')",
    "saved-view-path-table": "SELECT * FROM '<<secret>>'",
    "saved-view-schema-path": 'SELECT * FROM "<<planted_stem>>"."csv"',
    "saved-view-current-setting": "SELECT current_setting('allowed_paths') AS p",
    "saved-view-getenv": "SELECT getenv('HOME') AS home",
}


# -- DoS -----------------------------------------------------------------------------------------------------
QUERY_ERRORS = ("BadSql", "RefusedStatement", "QueryTimeout", "ResultTooLarge", "OutOfMemory", "QueryError")
DEPTH_ERRORS = ("BadSql", "RefusedStatement", "QueryTimeout")
SIZE_WORDS = (
    "max_sql_bytes",
    "max_request_bytes",
    "262144",
    "262,144",
    "256 KiB",
    "256 KB",
    "256KiB",
    "256KB",
    "256 kB",
    "0.25 MiB",
)
RESULT_LIMIT = 16 * 1024 * 1024
RESULT_WORDS = (
    "max_result_bytes",
    str(RESULT_LIMIT),
    f"{RESULT_LIMIT:,}",
    "16 MiB",
    "16MiB",
    "16.0 MiB",
    "16 MB",
    "16MB",
    "16.0 MB",
    "16.8 MB",
)


@dataclass(frozen=True)
class Dos:
    """A request built to hold the server: answered within the time limit and a memory bound, one line."""

    id: str
    build: Callable[[], str]
    errors: tuple[str, ...]  # acceptable QueryError subclasses; empty with ok=True: it may also succeed
    http: tuple[int, ...]
    ok: bool = False  # a correct answer is fine too (deep but legal SQL)
    words: tuple[str, ...] = ()  # one of these must be in the error (e.g. the limit it broke)
    query: dict[str, Any] = field(default_factory=dict)  # query settings for this case
    cli: bool = False

    @property
    def surfaces(self) -> tuple[str, ...]:
        return ("library", "http") if self.id in HTTP_DOS else ("library",)


# DoS cases also sent through POST /api/query (each probe is a process: ~2 s).
HTTP_DOS = frozenset(
    {
        "huge-sql-3mb",
        "over-limit-in-bytes-not-chars",
        "deep-nesting-5000",
        "deep-subquery-5000",
        "long-plus-chain-40000",
        "result-200mb",
        "long-running-cross-join",
        "runaway-recursive-cte",
        "memory-hog-string-agg",
    }
)


def _nested_ctes(depth: int) -> str:
    sql = "SELECT 1 AS a"
    for i in range(depth):
        sql = f"WITH c{i} AS ({sql}) SELECT * FROM c{i}"
    return sql


DOS: list[Dos] = [
    Dos("huge-sql-3mb", lambda: "SELECT '" + "x" * 3_000_000 + "' AS s", ("BadSql",), (400, 413), words=SIZE_WORDS),
    Dos(
        "huge-sql-2.7mb-expression",
        lambda: "SELECT " + "+".join(["1"] * 1_350_000),
        ("BadSql",),
        (400, 413),
        words=SIZE_WORDS,
    ),
    Dos(
        "huge-sql-in-list",
        lambda: "SELECT count(*) FROM stock_ticks WHERE volume IN (" + ",".join(str(i) for i in range(400_000)) + ")",
        ("BadSql",),
        (400, 413),
        words=SIZE_WORDS,
    ),
    Dos(
        "over-limit-in-bytes-not-chars",
        lambda: "SELECT '" + "\u00e9" * 140_000 + "' AS s",
        ("BadSql",),
        (400, 413),
        words=SIZE_WORDS,
    ),
    Dos(
        "deep-nesting-5000",
        lambda: "SELECT " + "(" * 5000 + "1" + ")" * 5000,
        DEPTH_ERRORS,
        (400, 408),
        ok=True,
        cli=True,
    ),
    Dos(
        "deep-subquery-5000",
        lambda: "SELECT * FROM " + "(SELECT * FROM " * 5000 + "stock_ticks" + ") AS s" * 5000,
        DEPTH_ERRORS,
        (400, 408),
        ok=True,
        cli=True,
    ),
    Dos(
        "deep-case-5000",
        lambda: "SELECT " + "CASE WHEN true THEN " * 5000 + "1" + " END" * 5000,
        DEPTH_ERRORS,
        (400, 408),
        ok=True,
    ),
    Dos("deep-function-5000", lambda: "SELECT " + "abs(" * 5000 + "1" + ")" * 5000, DEPTH_ERRORS, (400, 408), ok=True),
    Dos("deep-list-5000", lambda: "SELECT " + "[" * 5000 + "1" + "]" * 5000, DEPTH_ERRORS, (400, 408), ok=True),
    Dos("deep-not-5000", lambda: "SELECT " + "NOT " * 5000 + "true", DEPTH_ERRORS, (400, 408), ok=True),
    Dos("deep-unary-minus-5000", lambda: "SELECT " + "-(" * 5000 + "1" + ")" * 5000, DEPTH_ERRORS, (400, 408), ok=True),
    Dos("deep-cte-nesting-2000", lambda: _nested_ctes(2000), DEPTH_ERRORS, (400, 408), ok=True),
    Dos("long-plus-chain-40000", lambda: "SELECT " + "+".join(["1"] * 40_000), DEPTH_ERRORS, (400, 408), ok=True),
    Dos(
        "long-union-chain-3000", lambda: " UNION ALL ".join(["SELECT 1 AS a"] * 3000), DEPTH_ERRORS, (400, 408), ok=True
    ),
    Dos(
        "wide-select-15000-columns",
        lambda: "SELECT " + ", ".join(f"{i} AS c{i}" for i in range(15_000)),
        DEPTH_ERRORS,
        (400, 408),
        ok=True,
    ),
    Dos(
        "result-200mb",
        lambda: "SELECT repeat('x', 2000) AS s FROM range(100000)",
        ("ResultTooLarge",),
        (413,),
        words=RESULT_WORDS,
        query={"max_result_bytes": RESULT_LIMIT},
        cli=True,
    ),
    Dos(
        "result-200mb-default-limit",
        lambda: "SELECT repeat('x', 2000) AS s FROM range(100000)",
        ("ResultTooLarge",),
        (413,),
    ),
    Dos(
        "result-cross-join-wide",
        lambda: "SELECT a.range AS a, b.range AS b, repeat('y', 500) AS pad FROM range(1000) AS a, range(1000) AS b",
        ("ResultTooLarge",),
        (413,),
        words=RESULT_WORDS,
        query={"max_result_bytes": RESULT_LIMIT},
    ),
    Dos(
        "long-running-cross-join",
        lambda: "SELECT count(*) FROM range(1000000) AS a, range(1000000) AS b WHERE a.range + b.range < 0",
        ("QueryTimeout",),
        (408,),
        cli=True,
    ),
    Dos(
        "runaway-recursive-cte",
        lambda: "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        QUERY_ERRORS,
        (400, 408, 413),
    ),
    Dos(
        "memory-hog-string-agg",
        lambda: "SELECT length(string_agg(repeat('x', 1000), '')) FROM range(10000000)",
        QUERY_ERRORS,
        (400, 408, 413),
    ),
]


# -- positive controls --------------------------------------------------------------------------------------------
Check = Callable[[SqlLake, list[str], list[list[Any]]], None]


@dataclass(frozen=True)
class Allowed:
    """A legitimate analytic query that must run and give this answer."""

    id: str
    sql: str
    check: Check
    cli: bool = False


def _eq(expected: Callable[[SqlLake], list[list[Any]]]) -> Check:
    def check(lake: SqlLake, columns: list[str], rows: list[list[Any]]) -> None:
        want = expected(lake)
        assert len(rows) == len(want), f"{len(rows)} rows, expected {len(want)}: {rows[:5]}"
        for got_row, want_row in zip(rows, want, strict=True):
            assert len(got_row) == len(want_row), (got_row, want_row)
            for got, exp in zip(got_row, want_row, strict=True):
                if isinstance(exp, float):
                    assert got is not None and abs(float(got) - exp) <= 1e-6 * max(1.0, abs(exp)), (got_row, want_row)
                else:
                    assert got == exp, (got_row, want_row)

    return check


def _const(*rows: list[Any]) -> Check:
    return _eq(lambda lake: [list(r) for r in rows])


def _relative_paths(lake: SqlLake, columns: list[str], rows: list[list[Any]]) -> None:
    got = [r[0] for r in rows]
    assert got == sorted(lake.relative(p) for p in lake.data_files), got[:3]
    assert not any(p.startswith("/") for p in got)


def _relative_locations(lake: SqlLake, columns: list[str], rows: list[list[Any]]) -> None:
    got = [[name, str(location).rstrip("/")] for name, location in rows]
    assert got == [["orders", "orders"], ["stock_ticks", "stock_ticks"]], got


def _by_symbol(lake: SqlLake) -> list[list[Any]]:
    g = lake.source.groupby("symbol").agg(n=("volume", "size"), v=("volume", "sum")).reset_index()
    return [[s, int(n), int(v)] for s, n, v in g.itertuples(index=False)]


def _by_region(lake: SqlLake) -> list[list[Any]]:
    g = lake.orders.groupby("region").agg(n=("order_id", "size"), a=("amount", "sum")).reset_index()
    return [[r, int(n), round(float(a), 2)] for r, n, a in g.itertuples(index=False)]


def _src(lake: SqlLake) -> Any:
    return lake.source


ALLOWED: list[Allowed] = [
    Allowed("count", "SELECT count(*) AS n FROM stock_ticks", _eq(lambda lk: [[len(_src(lk))]]), cli=True),
    Allowed(
        "group-by-symbol",
        "SELECT symbol, count(*) AS n, sum(volume) AS v FROM stock_ticks GROUP BY symbol ORDER BY symbol",
        _eq(_by_symbol),
        cli=True,
    ),
    Allowed(
        "avg-price",
        "SELECT round(avg(price), 6) AS p FROM stock_ticks",
        _eq(lambda lk: [[round(float(_src(lk)["price"].mean()), 6)]]),
    ),
    Allowed(
        "window-row-number",
        "SELECT count(*) FROM (SELECT symbol, row_number() OVER (PARTITION BY symbol "
        "ORDER BY ts, volume) AS rn FROM stock_ticks) AS w WHERE rn = 1",
        _eq(lambda lk: [[int(_src(lk)["symbol"].nunique())]]),
    ),
    Allowed(
        "window-running-sum",
        "SELECT max(run) FROM (SELECT sum(volume) OVER (ORDER BY ts, symbol, volume "
        "ROWS UNBOUNDED PRECEDING) AS run FROM stock_ticks) AS w",
        _eq(lambda lk: [[int(_src(lk)["volume"].sum())]]),
    ),
    Allowed(
        "cte",
        "WITH per AS (SELECT symbol, sum(volume) AS v FROM stock_ticks GROUP BY symbol) SELECT max(v) FROM per",
        _eq(lambda lk: [[int(_src(lk).groupby("symbol")["volume"].sum().max())]]),
    ),
    Allowed(
        "join-values",
        "SELECT n.name, count(*) AS c FROM stock_ticks AS t JOIN (VALUES ('AAPL', 'Apple'), "
        "('MSFT', 'Microsoft')) AS n(symbol, name) USING (symbol) GROUP BY n.name ORDER BY n.name",
        _eq(
            lambda lk: [
                ["Apple", int((_src(lk)["symbol"] == "AAPL").sum())],
                ["Microsoft", int((_src(lk)["symbol"] == "MSFT").sum())],
            ]
        ),
    ),
    Allowed(
        "two-tables",
        "SELECT (SELECT count(*) FROM stock_ticks) + (SELECT count(*) FROM orders) AS n",
        _eq(lambda lk: [[len(_src(lk)) + len(lk.orders)]]),
    ),
    Allowed(
        "subquery-where",
        "SELECT count(*) FROM stock_ticks WHERE price > (SELECT avg(price) FROM stock_ticks)",
        _eq(lambda lk: [[int((_src(lk)["price"] > _src(lk)["price"].mean()).sum())]]),
    ),
    Allowed(
        "in-and-exists",
        "SELECT count(*) FROM stock_ticks AS t WHERE symbol IN (SELECT 'AAPL') AND EXISTS (SELECT 1 FROM orders)",
        _eq(lambda lk: [[int((_src(lk)["symbol"] == "AAPL").sum())]]),
    ),
    Allowed("union", "SELECT 'a' AS s UNION ALL SELECT 'b' ORDER BY s", _const(["a"], ["b"])),
    Allowed("values", "SELECT x, y FROM (VALUES (1, 'a'), (2, 'b')) AS t(x, y) ORDER BY x", _const([1, "a"], [2, "b"])),
    Allowed("range", "SELECT sum(range) AS s FROM range(10)", _const([45])),
    Allowed(
        "generate-series-unnest",
        "SELECT (SELECT count(*) FROM generate_series(1, 5)) AS a, (SELECT sum(u) FROM unnest([1, 2, 3]) AS t(u)) AS b",
        _const([5, 6]),
    ),
    Allowed(
        "date-trunc",
        "SELECT count(DISTINCT date_trunc('hour', ts)) FROM stock_ticks",
        _eq(lambda lk: [[int(_src(lk)["ts"].dt.floor("h").nunique())]]),
    ),
    Allowed(
        "strftime",
        "SELECT strftime(min(ts), '%Y-%m-%d %H') AS t FROM stock_ticks",
        _eq(lambda lk: [[_src(lk)["ts"].min().strftime("%Y-%m-%d %H")]]),
    ),
    Allowed(
        "partition-filter",
        "SELECT count(*) FROM stock_ticks WHERE dt = DATE '2024-01-02'",
        _eq(lambda lk: [[int((_src(lk)["ts"].dt.date.astype(str) == "2024-01-02").sum())]]),
    ),
    Allowed(
        "string-functions",
        "SELECT lower('ABC'), upper('abc'), coalesce(NULL, 'x'), regexp_matches('abc', 'b'), round(2.345, 2)::DOUBLE",
        _const(["abc", "ABC", "x", True, 2.35]),
    ),
    Allowed(
        "list-functions-lambda",
        "SELECT list_sum([1, 2, 3]) AS s, len([1, 2]) AS n, list_transform([1, 2, 3], lambda v: v * 2) AS l",
        _const([6, 2, [2, 4, 6]]),
    ),
    Allowed("json-extract", "SELECT CAST(json_extract('{\"a\": 7}', '$.a') AS INTEGER) AS a", _const([7])),
    Allowed(
        "case-when",
        "SELECT sum(CASE WHEN volume > 500 THEN 1 ELSE 0 END) AS big FROM stock_ticks",
        _eq(lambda lk: [[int((_src(lk)["volume"] > 500).sum())]]),
    ),
    Allowed(
        "qualify",
        "SELECT symbol FROM stock_ticks QUALIFY row_number() OVER (PARTITION BY symbol "
        "ORDER BY volume DESC, ts) = 1 ORDER BY symbol",
        _eq(lambda lk: [[s] for s in sorted(_src(lk)["symbol"].unique())]),
    ),
    Allowed("from-first", "FROM stock_ticks SELECT count(*)", _eq(lambda lk: [[len(_src(lk))]])),
    Allowed("database-qualified", 'SELECT count(*) FROM "default".stock_ticks', _eq(lambda lk: [[len(_src(lk))]])),
    Allowed(
        "orders-by-region",
        "SELECT region, count(*) AS n, round(sum(amount), 2) AS a FROM orders GROUP BY region ORDER BY region",
        _eq(_by_region),
    ),
    Allowed("orders-paid", "SELECT count(*) FROM orders WHERE paid", _eq(lambda lk: [[int(lk.orders["paid"].sum())]])),
    Allowed("saved-view", "SELECT sum(n) FROM ticks_by_symbol", _eq(lambda lk: [[len(_src(lk))]])),
    Allowed(
        "saved-view-orders",
        "SELECT count(*) FROM big_orders",
        _eq(lambda lk: [[int((lk.orders["amount"] > 60).sum())]]),
    ),
    Allowed("eventlake-files-count", "SELECT count(*) FROM eventlake.files", _eq(lambda lk: [[len(lk.data_files)]])),
    Allowed(
        "eventlake-files-relative-paths", "SELECT path FROM eventlake.files ORDER BY path", _relative_paths, cli=True
    ),
    Allowed(
        "eventlake-tables-relative-location",
        "SELECT name, location FROM eventlake.tables ORDER BY name",
        _relative_locations,
    ),
    Allowed("trailing-semicolon", "SELECT 1 AS one;", _const([1]), cli=True),
    Allowed("trailing-semicolon-and-space", "SELECT 1 AS one ;\n  ", _const([1])),
    Allowed(
        "forbidden-words-in-strings",
        "SELECT 'COPY (SELECT 1) TO ''/etc/passwd''' AS s, 'read_csv(''/x''); ATTACH' AS t",
        _const(["COPY (SELECT 1) TO '/etc/passwd'", "read_csv('/x'); ATTACH"]),
    ),
    Allowed(
        "forbidden-words-as-aliases",
        'SELECT 1 AS "read_csv", 2 AS "information_schema", 3 AS "copy"',
        _const([1, 2, 3]),
    ),
    Allowed("keywords-in-comments", "-- ATTACH 'x'; COPY\nSELECT /* read_csv('/etc/passwd') */ 1 AS one", _const([1])),
]

# Under the SQL size limit (default 256 KiB): runs. Too long for a command line.
NEAR_LIMIT_SQL = "SELECT 1 AS one -- " + "x" * 200_000
