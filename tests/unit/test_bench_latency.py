"""Event-to-queryable latency from a visibility timeline: the bench's arithmetic."""

from __future__ import annotations

import numpy as np
from bench.latency import after_warmup, last_visible_time, latencies_ms, summarize, sustained_rate, ts_to_epoch_ms


def test_event_timestamps_as_iso_strings_or_epoch_numbers() -> None:
    assert ts_to_epoch_ms("2026-01-02T03:04:05.678Z") == 1767323045678.0
    assert ts_to_epoch_ms(1767323045678) == 1767323045678.0
    assert ts_to_epoch_ms(1767323045.5) == 1767323045500.0  # seconds are recognised


def test_each_event_is_seen_at_the_first_poll_past_its_offset() -> None:
    # Partition 0: offsets 0..3 created at t=10.0 s .. 10.3 s.
    events = {0: (np.array([0, 1, 2, 3]), np.array([10_000.0, 10_100.0, 10_200.0, 10_300.0]))}
    polls = [
        (10.05, {}),  # nothing landed yet
        (10.5, {0: 2}),  # offsets 0 and 1 queryable
        (11.0, {0: 4}),  # all four
    ]
    values, stamps, unseen = latencies_ms(events, polls)
    assert unseen == 0
    assert values.tolist() == [500.0, 400.0, 800.0, 700.0]
    assert stamps.tolist() == [10_000.0, 10_100.0, 10_200.0, 10_300.0]
    assert after_warmup(values, stamps, 0.15).tolist() == [800.0, 700.0]


def test_a_poll_never_unsees_rows_and_late_events_count_as_unseen() -> None:
    events = {
        0: (np.array([0, 1]), np.array([0.0, 0.0])),
        1: (np.array([0, 1, 2]), np.array([0.0, 0.0, 0.0])),
    }
    polls = [(1.0, {0: 2, 1: 1}), (2.0, {0: 1, 1: 2})]  # partition 0 seemingly went back: ignored
    values, _, unseen = latencies_ms(events, polls)
    assert sorted(values.tolist()) == [1000.0, 1000.0, 1000.0, 2000.0]
    assert unseen == 1  # partition 1 offset 2 never landed


def test_no_polls_means_nothing_was_seen() -> None:
    values, _, unseen = latencies_ms({0: (np.array([0, 1]), np.array([0.0, 1.0]))}, [])
    assert len(values) == 0 and unseen == 2
    assert summarize(values) == {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}


def test_percentiles() -> None:
    summary = summarize(np.arange(1, 101, dtype=float))
    assert summary["p50_ms"] == 50.5
    assert summary["p99_ms"] == 99.0
    assert summary["max_ms"] == 100.0


def test_sustained_rate_runs_from_first_event_to_last_queryable() -> None:
    polls = [(5.0, {0: 10, 1: 5}), (6.0, {0: 10, 1: 10}), (7.0, {0: 10, 1: 10})]
    assert last_visible_time(polls, {0: 10, 1: 10}) == 6.0
    assert last_visible_time(polls, {0: 11}) is None
    assert sustained_rate(20, first_event_ms=1000.0, last_visible_s=6.0) == 4.0
