"""The one dead-letter format: what both writers put in headers, what a reader gets back, in
the `eventlake.*` names and the names older versions wrote."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from eventlake.broker.dead_letters import (
    ERROR,
    INPUT,
    KEY_TRUNCATED_FROM,
    LINE,
    OFFSET,
    PARTITION,
    STAGE,
    TOPIC,
    TRUNCATED_FROM,
    DeadLetter,
    DeadLetterHeaders,
    Stage,
    read_headers,
    shape,
)


def test_dead_letters_always_fit_the_broker() -> None:
    limit = 1_048_588
    huge = DeadLetter("sink", "t", "r" * 50_000, b"v" * 3_000_000, b"k" * 100_000, partition=0, offset=5)
    msg = shape(huge, limit)
    size = len(msg.value or b"") + len(msg.key or b"") + sum(len(k) + len(v) for k, v in msg.headers)
    assert size < limit
    headers = dict(msg.headers)
    assert headers[TRUNCATED_FROM] == b"3000000" and headers[KEY_TRUNCATED_FROM] == b"100000"
    assert len(headers[ERROR]) <= 1000 and msg.value == b"v" * len(msg.value or b"")
    small = shape(DeadLetter("sink", "t", "bad", b"{}", partition=0, offset=5), limit)
    assert small.value == b"{}" and TRUNCATED_FROM not in dict(small.headers)
    assert shape(huge, limit, cap=10).value == b"v" * 10


def test_each_stage_writes_what_it_knows() -> None:
    sink = dict(shape(DeadLetter("sink", "orders", "not JSON", b"x", partition=2, offset=41)).headers)
    assert sink == {ERROR: b"not JSON", STAGE: b"sink", TOPIC: b"orders", PARTITION: b"2", OFFSET: b"41"}
    produce = dict(shape(DeadLetter("produce", "orders", "bad row", b"x", input="/d/a.csv", line=7)).headers)
    assert produce == {ERROR: b"bad row", STAGE: b"produce", TOPIC: b"orders", INPUT: b"/d/a.csv", LINE: b"7"}


def test_letters_of_older_versions_still_read() -> None:
    old_produce = [("reason", b"expected 3 fields"), ("source", b"a.csv"), ("topic", b"t"), ("line", b"4")]
    assert read_headers(old_produce) == DeadLetterHeaders(
        reason="expected 3 fields", stage="produce", topic="t", input="a.csv", line=4
    )
    old_sink = {
        "reason": b"type conflict",
        "source.topic": b"t",
        "source.partition": b"1",
        "source.offset": b"99",
        "truncated_from": b"2000000",
        "key_truncated_from": b"20000",
    }
    assert read_headers(old_sink) == DeadLetterHeaders(
        reason="type conflict",
        stage="sink",
        topic="t",
        partition=1,
        offset=99,
        truncated_from=2_000_000,
        key_truncated_from=20_000,
    )


def test_hostile_headers_read_as_unknown_never_fail() -> None:
    odd = [
        (ERROR, b"\xff\xfe"),
        (STAGE, b"admin"),
        (PARTITION, b"--1"),
        (OFFSET, b"9" * 40),
        (LINE, "\u0663".encode()),  # an Arabic-Indic digit: isdigit() but not a line number
        (TOPIC, None),
        ("x-original", b"kept out"),
    ]
    h = read_headers(odd)
    assert h.reason == "\ufffd\ufffd" and h.stage is None and h.topic is None
    assert (h.partition, h.offset, h.line) == (None, None, None)
    assert read_headers(None) == DeadLetterHeaders()


def test_the_new_name_wins_over_an_old_one() -> None:
    assert read_headers([("reason", b"old"), (ERROR, b"new")]).reason == "new"
    assert read_headers([(ERROR, b"new"), ("reason", b"old")]).reason == "new"


_STAGES: tuple[Stage, ...] = ("produce", "sink")
_names = st.text(min_size=1, max_size=40)


@given(
    stage=st.sampled_from(_STAGES),
    topic=_names,
    reason=st.text(max_size=300),
    value=st.binary(max_size=200),
    partition=st.none() | st.integers(0, 10_000),
    offset=st.none() | st.integers(0, 2**63 - 1),
    source=st.none() | _names,
    line=st.none() | st.integers(1, 10**9),
)
def test_what_is_written_reads_back(
    stage: Stage,
    topic: str,
    reason: str,
    value: bytes,
    partition: int | None,
    offset: int | None,
    source: str | None,
    line: int | None,
) -> None:
    msg = shape(DeadLetter(stage, topic, reason, value, None, partition, offset, source, line))
    assert msg.value == value
    assert read_headers(msg.headers) == DeadLetterHeaders(
        reason=reason, stage=stage, topic=topic, partition=partition, offset=offset, input=source, line=line
    )
