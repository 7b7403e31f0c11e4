"""The bench's pure parts: ratios, targets, the JSON shape and the Markdown table."""

from __future__ import annotations

import json

import pytest
from bench.kafka_tools import parse_consumer_perf, parse_producer_perf
from bench.procs import last_json_line
from bench.results import (
    CONSUMER_PERF,
    DUCKDB,
    DUCKDB_PROCESS,
    EVENTLAKE,
    EVENTLAKE_LIBRARY,
    KAFKA_PYTHON,
    PRODUCER_PERF,
    QUIX,
    TUTORIAL,
    Run,
    build,
    judge,
    markdown,
    ratios,
    run_from_dict,
)


def sample_runs() -> list[Run]:
    return [
        Run("produce", EVENTLAKE, 1_000_000, 4.0),  # 250k/s
        Run("produce", KAFKA_PYTHON, 1_000_000, 40.0, extra={"extrapolated_from": 200_000}),  # 25k/s
        Run("produce", PRODUCER_PERF, 1_000_000, 2.0),  # 500k/s
        Run(
            "sink_catchup",
            EVENTLAKE,
            1_000_000,
            5.0,
            peak_rss_mb=300.0,
            note="whole process",
            extra={"own_events_per_s": 250_000.0},
        ),  # 200k/s
        Run("sink_catchup", QUIX, 1_000_000, 50.0),  # 20k/s
        Run("sink_catchup", TUTORIAL, 1_000_000, 100.0),  # 10k/s
        Run("sink_catchup", CONSUMER_PERF, 1_000_000, 2.5),  # 400k/s
        Run("query", EVENTLAKE, 10_000_000, 1.2),
        Run("query", DUCKDB_PROCESS, 10_000_000, 1.0),
        Run("query", EVENTLAKE_LIBRARY, 10_000_000, 0.9),
        Run("query", DUCKDB, 10_000_000, 0.5),
    ]


def test_ratios_divide_eventlake_rates_by_the_peers_and_query_times_by_duckdb() -> None:
    r = ratios(sample_runs())
    assert r["produce_vs_kafka_python"] == 10.0
    assert r["produce_vs_ceiling"] == 0.5
    assert r["sink_vs_quix"] == 10.0
    assert r["sink_vs_tutorial"] == 20.0
    assert r["sink_vs_ceiling"] == 0.5
    assert r["query_vs_duckdb"] == 1.2
    assert r["query_library_vs_duckdb"] == 1.8


def test_a_missing_peer_gives_no_ratio_instead_of_a_wrong_one() -> None:
    runs = [r for r in sample_runs() if r.tool != QUIX]
    assert ratios(runs)["sink_vs_quix"] is None
    assert ratios([])["produce_vs_ceiling"] is None


def test_targets_pass_fail_and_not_run() -> None:
    values = {
        "produce_vs_ceiling": 0.5,
        "produce_vs_kafka_python": 4.9,
        "sink_events_per_s": 150_000.0,
        "latency_p99_ms": 2500.0,
        "query_vs_duckdb": 1.5,
    }
    verdicts = {t["key"]: t["result"] for t in judge(values)}
    assert verdicts["produce_vs_ceiling"] == "pass"  # the threshold itself passes
    assert verdicts["produce_vs_kafka_python"] == "fail"
    assert verdicts["sink_events_per_s"] == "pass"
    assert verdicts["latency_p99_ms"] == "fail"  # lower is better
    assert verdicts["query_vs_duckdb"] == "pass"
    assert verdicts["sink_vs_quix"] == "not run"


def test_json_document_keeps_the_issue_names() -> None:
    latency = {"rate": 5000, "p50_ms": 800.0, "p95_ms": 1500.0, "p99_ms": 1900.0, "by_rate": []}
    doc = build({"cpu_model": "x", "cores": 2}, sample_runs(), latency, {"notes": ["n"]})
    assert set(doc) >= {"machine", "runs", "latency", "ratios", "targets", "notes"}
    run = doc["runs"][3]
    assert run == {
        "name": "sink_catchup",
        "tool": "eventlake",
        "events": 1_000_000,
        "seconds": 5.0,
        "events_per_s": 200_000.0,
        "peak_rss_mb": 300.0,
        "note": "whole process",
        "own_events_per_s": 250_000.0,
    }
    assert doc["runs"][1]["extrapolated_from"] == 200_000
    assert set(doc["ratios"]) >= {
        "produce_vs_kafka_python",
        "produce_vs_ceiling",
        "sink_vs_quix",
        "sink_vs_tutorial",
        "sink_vs_ceiling",
        "query_vs_duckdb",
    }
    assert {k: doc["latency"][k] for k in ("rate", "p50_ms", "p95_ms", "p99_ms")} == {
        "rate": 5000,
        "p50_ms": 800.0,
        "p95_ms": 1500.0,
        "p99_ms": 1900.0,
    }
    p99 = next(t for t in doc["targets"] if t["key"] == "latency_p99_ms")
    assert (p99["measured"], p99["result"]) == (1900.0, "pass")
    json.dumps(doc)  # plain data all the way down


def test_latency_target_counts_only_a_5000_per_second_run() -> None:
    doc = build({}, [], {"rate": 20000, "p99_ms": 100.0})
    p99 = next(t for t in doc["targets"] if t["key"] == "latency_p99_ms")
    assert p99["result"] == "not run"


def test_markdown_has_every_run_and_a_target_column_with_results() -> None:
    memory = {"method": "psutil", "producer_peak_rss_mb": 150.0, "sink_peak_rss_mb": 420.5}
    doc = build({"mode": "full"}, sample_runs(), None, {"notes": ["kafka-python extrapolated"], "memory": memory})
    text = markdown(doc)
    assert "eventlake producer 150 MB, sink 420 MB" in text
    assert "| target | measured | result |" in text
    assert "| sink >= 3x Quix Streams | 10.00x | pass |" in text
    assert "| sink >= 150,000 events/s (the sink's own rate, from its summary) | 250,000 events/s | pass |" in text
    assert "| query <= 1.5x DuckDB direct (library vs in-process) | 1.80x | **FAIL** |" in text
    assert "| sink_catchup | eventlake | 1,000,000 | 5.00 | 200,000 | 300 | whole process; own rate 250,000/s |" in text
    assert text.count("\n| produce |") == 3
    assert "- kafka-python extrapolated" in text


def test_run_round_trips_through_its_json_form() -> None:
    run = Run("produce", KAFKA_PYTHON, 10, 2.0, 5.0, note="n", extra={"extrapolated_from": 5})
    again = run_from_dict(json.loads(json.dumps(run.to_dict())))
    assert again.to_dict() == run.to_dict()


def test_parses_kafka_tool_summaries() -> None:
    produced = (
        "5000 records sent, 999.8 records/sec (0.19 MB/sec), 3.1 ms avg latency.\n"
        "1000000 records sent, 181554.1 records/sec (36.02 MB/sec), 420.91 ms avg latency, "
        "1012.00 ms max latency, 395 ms 50th, 800 ms 95th, 950 ms 99th, 1000 ms 99.9th.\n"
    )
    assert parse_producer_perf(produced) == (1_000_000, 181554.1)
    consumed = (
        "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, "
        "rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n"
        "2026-11-25 11:59:47:566, 2026-11-25 11:59:48:877, 9.5367, 7.2744, 50000, 38138.8253, "
        "684, 627, 15.2101, 79744.8166\n"
    )
    stats = parse_consumer_perf(consumed)
    assert stats["data.consumed.in.nMsg"] == "50000"
    assert stats["fetch.nMsg.sec"] == "79744.8166"


def test_finds_the_summary_a_tool_printed_last() -> None:
    assert last_json_line('progress\n{"sent": 3, "seconds": 1.5}\n') == {"sent": 3, "seconds": 1.5}
    assert last_json_line('{\n  "sent": 3,\n  "nested": {"a": 1}\n}\n') == {"sent": 3, "nested": {"a": 1}}
    assert last_json_line("no json here\n") is None


def test_profile_summary_ranks_functions_by_self_and_total_samples() -> None:
    from bench.profiling import summarize

    raw = (
        'process 1:"eventlake sink t";main (cli.py:1);loop (runner.py:10);write (writer.py:5) 6\n'
        'process 1:"eventlake sink t";main (cli.py:1);loop (runner.py:10) 3\n'
        'process 1:"eventlake sink t" 1\n'
    )
    summary = summarize(raw)
    assert summary["self"][0] == ("write (writer.py:5)", 60.0)
    assert ("loop (runner.py:10)", 30.0) in summary["self"]
    assert ("process 1 (no Python frame: native code or waiting)", 10.0) in summary["self"]
    assert ("loop (runner.py:10)", 90.0) in summary["total"]


def test_sizes_presets_and_overrides() -> None:
    from bench.context import FULL, QUICK, sizes_for

    assert sizes_for(quick=False) == FULL
    assert (FULL.produce_events, FULL.sink_events, FULL.query_rows) == (1_000_000, 1_000_000, 10_000_000)
    assert FULL.e2e_rates == (5_000, 20_000, 50_000, 0)
    assert QUICK.e2e_rates == (5_000,) and QUICK.e2e_unthrottled_events == 0
    small = sizes_for(quick=False, events=10_000, e2e_seconds=5, query_rows=50_000)
    assert (small.produce_events, small.sink_events, small.e2e_unthrottled_events) == (10_000, 10_000, 10_000)
    assert small.tutorial_sample == 5_000 and small.kafka_python_sample == 10_000
    assert (small.e2e_seconds, small.query_rows) == (5, 50_000)
    assert sizes_for(quick=True, events=1_000).e2e_unthrottled_events == 0


def test_markdown_lists_each_end_to_end_rate() -> None:
    rows = [
        {
            "rate": 5000,
            "produced_events_per_s": 4999.0,
            "sustained_events_per_s": 4800.0,
            "p50_ms": 700.0,
            "p95_ms": 1200.0,
            "p99_ms": 1500.0,
            "max_ms": 1700.0,
            "unseen": 0,
            "steady_p99_ms": 1400.0,
        },
        {
            "rate": 0,
            "produced_events_per_s": 150000.0,
            "sustained_events_per_s": 90000.0,
            "p50_ms": 1500.0,
            "p95_ms": 2500.0,
            "p99_ms": 2900.0,
            "max_ms": 3000.0,
            "unseen": 0,
            "steady_p99_ms": None,
        },
    ]
    text = markdown(build({}, [], {"rate": 5000, "p99_ms": 1500.0, "method": "polled", "by_rate": rows}))
    assert "| 5,000/s | 4,999 | 4,800 | 700 | 1,200 | 1,500 | 1,700 | 0 | 1,400 |" in text
    assert "| unthrottled | 150,000 | 90,000 | 1,500 | 2,500 | 2,900 | 3,000 | 0 | - |" in text
    assert "| latency p99 <= 2 s at 5,000 events/s | 1,500 ms | pass |" in text


def test_freshness_targets_judge_the_query_engine_figure_at_5000_and_50000() -> None:
    rows = [
        {"rate": 5000, "p99_ms": 700.0, "engine_p99_ms": 900.0},
        {"rate": 20000, "p99_ms": 700.0, "engine_p99_ms": 5000.0},
        {"rate": 50000, "p99_ms": 800.0, "engine_p99_ms": 1200.0, "load_average": [1.5, 2.25]},
    ]
    doc = build({}, [], {"rate": 5000, "p99_ms": 700.0, "by_rate": rows})
    verdicts = {t["key"]: (t["measured"], t["result"]) for t in doc["targets"]}
    assert verdicts["freshness_p99_ms_5000"] == (900.0, "pass")
    assert verdicts["freshness_p99_ms_50000"] == (1200.0, "fail")  # the engine's figure, not the ledger's
    text = markdown(doc)
    assert "| freshness p99 <= 1 s at 50,000 events/s (query engine) | 1,200 ms | **FAIL** |" in text
    assert "| 1,200 | - | - | 1.5-2.2 |" in text  # engine p99, max and query time unknown, load range


def test_freshness_targets_are_not_run_without_those_rates() -> None:
    doc = build({}, [], {"rate": 20000, "by_rate": [{"rate": 20000, "engine_p99_ms": 100.0}]})
    results = {t["key"]: t["result"] for t in doc["targets"]}
    assert results["freshness_p99_ms_5000"] == results["freshness_p99_ms_50000"] == "not run"


def test_e2e_rates_option_picks_the_end_to_end_runs() -> None:
    from bench.__main__ import parse_args
    from bench.context import sizes_for

    args = parse_args(["--cases", "e2e", "--e2e-rates", "5000, 50000"])
    assert sizes_for(False, e2e_rates=args.rates).e2e_rates == (5000, 50000)
    assert parse_args([]).rates is None
    for bad in ("5k", "-1", "99999999999"):
        with pytest.raises(SystemExit):
            parse_args(["--e2e-rates", bad])
