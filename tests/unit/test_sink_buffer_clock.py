"""When a partition's buffer comes due: `flush_seconds` after its first event, counted from the
event's Kafka timestamp while the sink is live, from its arrival during a catch-up."""

from __future__ import annotations

import time

import pytest

from eventlake.sink.buffer import PartitionBuffer

FLUSH_S = 0.5


def _due_in(age_s: float) -> float:
    """Seconds from now until a buffer whose first message is `age_s` old comes due."""
    buf = PartitionBuffer("t", 0, None, head_start_s=FLUSH_S / 2)
    now_ms = int(time.time() * 1000)
    buf.add([b"{}"], [0], [now_ms - int(age_s * 1000)], [None])
    return buf.since + FLUSH_S - time.monotonic()


def test_a_live_message_counts_from_its_kafka_timestamp() -> None:
    # 100 ms in transit (producer linger, a fetch behind another flush): due 100 ms sooner.
    assert _due_in(0.1) == pytest.approx(FLUSH_S - 0.1, abs=0.02)


def test_the_head_start_is_at_most_half_the_flush_interval() -> None:
    # 0.4 s "old" can be a producer clock running behind: files at most twice as frequent.
    assert _due_in(0.4) == pytest.approx(FLUSH_S / 2, abs=0.02)


@pytest.mark.parametrize("age_s", [0.6, 30.0, 86_400.0 * 365])
def test_a_backlog_counts_from_arrival_so_catch_up_flushes_stay_full(age_s: float) -> None:
    assert _due_in(age_s) == pytest.approx(FLUSH_S, abs=0.02)


@pytest.mark.parametrize("stamp_ms", [-1, 0, 2**62])
def test_missing_or_future_timestamps_count_from_arrival(stamp_ms: int) -> None:
    # -1: a message without a timestamp; 2**62: a producer clock far ahead.
    buf = PartitionBuffer("t", 0, None, head_start_s=FLUSH_S / 2)
    before = time.monotonic()
    buf.add([b"{}"], [0], [stamp_ms], [None])
    assert before <= buf.since <= time.monotonic()


def test_only_the_first_message_after_a_flush_sets_the_clock() -> None:
    buf = PartitionBuffer("t", 0, None, head_start_s=FLUSH_S / 2)
    now_ms = int(time.time() * 1000)
    buf.add([b"{}"], [0], [now_ms], [None])
    since = buf.since
    buf.add([b"{}"], [1], [now_ms - 200], [None])  # an older stamp later in the buffer changes nothing
    assert buf.since == since
    buf.take()
    buf.add([b"{}"], [2], [now_ms - 100], [None])
    assert buf.since < time.monotonic() - 0.05
