"""Decoding, schema rules and partitioning of the sink, without Kafka."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import orjson
import pyarrow as pa

from eventlake.sink.decode import decode
from eventlake.sink.partitioner import event_times_ms, group_rows, split_by_file_cap
from eventlake.sink.schema import TS, from_hive, merge_schema, to_hive

EMPTY = pa.schema([])


def test_json_objects_become_typed_columns_with_nulls_kept() -> None:
    values = [
        orjson.dumps(v)
        for v in [
            {"i": 1, "f": 1.5, "s": "x", "b": True, "n": None, "o": {"a": 1, "l": ["p"]}, "t": "2024-05-01T10:00:00Z"},
            {"i": -2, "f": 2.0, "s": None, "b": False, "o": None, "t": "2024-05-01T11:30:00"},
        ]
    ]
    d = decode(values, EMPTY, 1024)
    assert d.rejected == [] and d.accepted is None
    assert d.schema.field("i").type == pa.int64()
    assert d.schema.field("f").type == pa.float64()
    assert d.schema.field("t").type == TS
    assert to_hive(d.schema.field("o").type) == "struct<a:bigint,l:array<string>>"
    rows = d.table.to_pylist()
    assert rows[0]["o"] == {"a": 1, "l": ["p"]} and rows[1]["o"] is None
    assert rows[1]["s"] is None and rows[0]["n"] is None
    assert rows[1]["t"] == datetime(2024, 5, 1, 11, 30, tzinfo=UTC)


def test_bad_records_are_set_aside_with_reasons_and_good_ones_kept_in_order() -> None:
    known = decode([b'{"a": 1, "s": "x"}'], EMPTY, 1024).schema
    values: list[bytes | None] = [
        b'{"a": 2}',
        b"not json",
        b"[1, 2]",
        b'"just a string"',
        b'{"a": "text"}',
        b'{"s": "\xff\xfe"}',
        None,
        b"  ",
        b'{"a": 3, "pad": "' + b"x" * 200 + b'"}',
        b'{\n  "a": 4\n}',
        b'{"a": 5.5}',
    ]
    d = decode(values, known, 100)
    reasons = {r.index: r.reason for r in d.rejected}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert reasons[1].startswith("not JSON")
    assert reasons[2] == "not a JSON object but an array"
    assert reasons[3] == "not a JSON object but a string"
    assert reasons[4].startswith("type conflict: field a is bigint, got string")
    assert reasons[5].startswith("invalid UTF-8")
    assert "over max_record_bytes=100" in reasons[8]
    assert d.accepted == [0, 9, 10]
    # a pretty-printed object is fine; int widened to float for the whole batch
    assert d.schema.field("a").type == pa.float64()
    assert [r["a"] for r in d.table.to_pylist()] == [2.0, 4.0, 5.5]


def test_new_fields_are_new_nullable_columns_and_known_order_is_kept() -> None:
    first = decode([b'{"b": 1, "a": "x"}'], EMPTY, 1024)
    second = decode([b'{"c": [1, 2], "a": "y"}', b'{"b": 7, "d": {"e": true}}'], first.schema, 1024)
    assert second.schema.names == ["b", "a", "c", "d"]
    assert second.table.to_pylist() == [
        {"b": None, "a": "y", "c": [1, 2], "d": None},
        {"b": 7, "a": None, "c": None, "d": {"e": True}},
    ]


def test_values_with_line_breaks_do_not_shift_rows() -> None:
    values = [b'{"k": 0}', b'{"k":\n1}', b'{"k": 2}\r', b'{"k": 3}']
    d = decode(values, EMPTY, 1024)
    assert [r["k"] for r in d.table.to_pylist()] == [0, 1, 2, 3]


def test_two_objects_in_one_message_are_rejected_not_split() -> None:
    d = decode([b'{"k": 1} {"k": 2}', b'{"k": 3}'], EMPTY, 1024)
    assert [r.index for r in d.rejected] == [0]
    assert [r["k"] for r in d.table.to_pylist()] == [3]


def test_hive_types_round_trip() -> None:
    for text in [
        "bigint",
        "double",
        "boolean",
        "string",
        "timestamp",
        "array<bigint>",
        "struct<a:bigint,b:array<struct<c:string>>>",
    ]:
        assert to_hive(from_hive(text)) == text


def test_widening_keeps_old_columns_and_refuses_unsafe_changes() -> None:
    old = pa.schema([("a", pa.int64()), ("s", pa.string())])
    merged = merge_schema(old, pa.schema([("a", pa.float64()), ("z", pa.bool_())]))
    assert merged == pa.schema([("a", pa.float64()), ("s", pa.string()), ("z", pa.bool_())])


def _table(n: int) -> pa.Table:
    return pa.table({"x": list(range(n))})


def test_event_time_from_iso_strings_epoch_seconds_and_millis() -> None:
    kafka = np.array([5_000, 6_000, 7_000], dtype=np.int64)
    iso = pa.table({"t": pa.array(["2024-01-02T03:04:05Z", None, "2024-01-02T03:04:06.5+00:00"])})
    assert event_times_ms(iso, kafka, "t").tolist() == [1704164645000, 6_000, 1704164646500]
    secs = pa.table({"t": [1704164645, 1704164646, None]})
    assert event_times_ms(secs, kafka, "t").tolist() == [1704164645000, 1704164646000, 7_000]
    millis = pa.table({"t": [1704164645123, 1704164646000.0, 1704164647000]})
    assert event_times_ms(millis, kafka, "t").tolist() == [1704164645123, 1704164646000, 1704164647000]
    assert event_times_ms(secs, kafka, None).tolist() == kafka.tolist()


def test_rows_group_by_hour_and_partition_field_in_first_offset_order() -> None:
    hour = 3_600_000
    base = 1704164645000  # 2024-01-02T03:04:05Z
    times = np.array([base, base + hour, base, base + 30 * hour, base + hour], dtype=np.int64)
    table = pa.table({"sym": ["A", "A", "B", "A", "A"]})
    groups = group_rows(table, times, ["sym"])
    assert [(g.values, g.rows.tolist()) for g in groups] == [
        ({"dt": "2024-01-02", "hour": "03", "sym": "A"}, [0]),
        ({"dt": "2024-01-02", "hour": "04", "sym": "A"}, [1, 4]),
        ({"dt": "2024-01-02", "hour": "03", "sym": "B"}, [2]),
        ({"dt": "2024-01-03", "hour": "09", "sym": "A"}, [3]),
    ]
    assert groups[0].folder() == "dt=2024-01-02/hour=03/sym=A"


def test_a_replay_spanning_many_hours_is_cut_into_capped_consecutive_pieces() -> None:
    hours = np.repeat(np.arange(100), 10)  # 1000 events, 100 hours, in time order
    times = 1704067200000 + hours.astype(np.int64) * 3_600_000
    groups = group_rows(_table(1000), times, [])
    assert len(groups) == 100
    pieces = split_by_file_cap(groups, 1000, cap=32)
    assert [(s, e, len(g)) for s, e, g in pieces] == [(0, 320, 32), (320, 640, 32), (640, 960, 32), (960, 1000, 4)]
    rows = np.concatenate([g.rows for _, _, gs in pieces for g in gs])
    assert sorted(rows.tolist()) == list(range(1000))


def test_zoned_iso_timestamps_with_milliseconds_become_a_timestamp_column() -> None:
    values = [b'{"ts": "2024-01-02T03:04:05.123Z", "n": 1}', b'{"ts": "2024-01-02T03:04:06.5+00:00", "n": 2}']
    first = decode(values, pa.schema([]), 1 << 20)
    assert first.schema.field("ts").type == pa.timestamp("ms", tz="UTC")
    assert first.table.column("ts").to_pylist()[0].isoformat() == "2024-01-02T03:04:05.123000+00:00"
    # Later batches parse into the established column; a column that began as strings stays strings.
    later = decode([b'{"ts": "2024-01-03T00:00:00.001Z", "n": 3}'], first.schema, 1 << 20)
    assert later.table.column("ts").type == pa.timestamp("ms", tz="UTC")
    text = decode([b'{"ts": "2024-01-03T00:00:00.001Z"}'], pa.schema([("ts", pa.string())]), 1 << 20)
    assert text.table.column("ts").type == pa.string()
    mixed = decode([b'{"when": "2024-01-03T00:00:00.001Z"}', b'{"when": "soon"}'], pa.schema([]), 1 << 20)
    assert mixed.schema.field("when").type == pa.string()


TIME_STRINGS = [
    "2024-01-02",
    "2024-01-02T03",
    "2024-01-02T03:04",
    "2024-01-02 03:04:05",
    "2024-01-02T03:04:05Z",
    "2024-01-02T03:04:05+01",
    "2024-01-02T03:04:05+0130",
    "2024-01-02T03:04:05-02:30",
    *[f"2024-01-02T03:04:05.{'123456789'[:n]}{z}" for n in range(1, 10) for z in ("", "Z", "+05:00")],
    "0000-03-01",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "2024-02-29",
    "2023-02-29",
    "2024-13-01",
    "2024-01-02T24:00:00Z",
    "2024-01-02T03:60",
    "2024-01-02T03:04:60Z",
    "2024-01-02T03:04:05+24:00",
    "2024-01-02T03:04:05.Z",
    "2024-01-02T03:04:05.1234567891Z",
    "2024-1-2",
    "2024-01-02t03:04:05z",
    "soon",
    "",
    "٢٠٢٤-01-02",  # Arabic-Indic digits: not a timestamp to either path
]


def test_one_typing_rule_for_both_paths_and_a_superset_of_arrows() -> None:
    from eventlake.sink.jsontypes import iso_ms, iso_ms_array, scalar_type

    vector = iso_ms_array(pa.array(TIME_STRINGS)).to_pylist()
    for text, v in zip(TIME_STRINGS, vector, strict=True):
        assert iso_ms(text) == v, text
        assert (scalar_type(text) == TS) == (v is not None), text
        try:  # what Arrow's own parser takes, the rule takes with the same value
            arrow = pa.array([text]).cast(TS)[0].value
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if len(text.split(".")[-1].rstrip("Z")) <= 3 or "." not in text:
            assert v == arrow, text
    assert iso_ms("2024-01-02T03:04:05.123456789+01:00") == 1704161045123
    assert iso_ms("2024-01-02T03:04:05") == iso_ms("2024-01-02T03:04:05Z")  # no zone: UTC
