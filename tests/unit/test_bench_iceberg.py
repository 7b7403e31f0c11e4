"""The iceberg bench case's arithmetic: Iceberg vs Parquet (rate and CPU), PostgreSQL-catalog scaling, freshness."""

from __future__ import annotations

from bench.results import EVENTLAKE_ICEBERG, EVENTLAKE_PARQUET, EVENTLAKE_PG, Run, build, markdown


def catchup_runs() -> list[Run]:
    return [
        Run("iceberg_catchup", EVENTLAKE_PARQUET, 1_000_000, 10.0, extra={"cpu_s": 8.0}),  # 100k/s
        Run("iceberg_catchup", EVENTLAKE_ICEBERG, 1_000_000, 16.0, extra={"cpu_s": 10.0}),  # 62.5k/s
        Run("pg_catalog_sink", EVENTLAKE_PG.format(n=1), 1_000_000, 10.0),
        Run("pg_catalog_sink", EVENTLAKE_PG.format(n=2), 1_000_000, 8.0),
        Run("pg_catalog_sink", EVENTLAKE_PG.format(n=3), 1_000_000, 12.5),
    ]


def test_iceberg_against_parquet_by_rate_and_by_cpu_and_judged_at_0_7() -> None:
    doc = build({}, catchup_runs(), None)
    assert doc["ratios"]["iceberg_vs_parquet"] == 0.625
    assert doc["ratios"]["iceberg_vs_parquet_cpu"] == 0.8  # Parquet's CPU seconds / Iceberg's
    verdicts = {t["key"]: (t["measured"], t["result"]) for t in doc["targets"]}
    assert verdicts["iceberg_vs_parquet"] == (0.625, "fail")


def test_processes_sharing_the_postgres_catalog_against_one() -> None:
    doc = build({}, catchup_runs(), None)
    assert doc["ratios"]["pg_catalog_2_vs_1"] == 1.25
    assert doc["ratios"]["pg_catalog_3_vs_1"] == 0.8
    assert "pg_catalog_2_vs_1 1.25x" in markdown(doc)


def test_iceberg_freshness_target_takes_the_iceberg_row_at_5000() -> None:
    rows = [
        {"format": "iceberg", "rate": 5000, "p50_ms": 900.0, "p99_ms": 3100.0, "snapshot_p99_ms": 2500.0},
        {"format": "parquet", "rate": 5000, "p50_ms": 500.0, "p99_ms": 900.0},
    ]
    doc = build({}, [], None, {"iceberg_freshness": {"method": "polled", "by_format": rows}})
    verdicts = {t["key"]: (t["measured"], t["result"]) for t in doc["targets"]}
    assert verdicts["iceberg_freshness_p99_ms"] == (3100.0, "fail")
    text = markdown(doc)
    assert "| iceberg | 5,000 | 900 | - | 3,100 | - | - | 0 | - | 2,500 |" in text
    assert "| Iceberg freshness p99 <= 3 s at 5,000 events/s (query engine) | 3,100 ms | **FAIL** |" in text


def test_nothing_measured_is_not_run() -> None:
    doc = build({}, [], None)
    results = {t["key"]: t["result"] for t in doc["targets"]}
    assert results["iceberg_vs_parquet"] == results["iceberg_freshness_p99_ms"] == "not run"
    assert doc["ratios"]["iceberg_vs_parquet_cpu"] is None
