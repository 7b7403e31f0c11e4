"""Sources without Kafka: CSV type inference, bad rows in their place, JSON Lines, Parquet, samples, synthetic ticks."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.produce import BadRow, open_source
from eventlake.produce.csvfile import infer_column, read_csv
from eventlake.produce.exceptions import SourceError
from eventlake.produce.records import encode
from eventlake.produce.synthetic import SYMBOLS, synthetic_ticks


def collect(source: Any) -> tuple[list[dict[str, Any]], list[BadRow]]:
    bad: list[BadRow] = []
    return list(open_source(source).records(bad.append)), bad


def csv_records(text: bytes, infer_rows: int = 1000) -> tuple[list[dict[str, Any]], list[BadRow]]:
    bad: list[BadRow] = []
    records = list(read_csv(io.BytesIO(text), "t.csv", bad.append, infer_rows))
    return records, bad


def test_csv_infers_ints_floats_bools_timestamps_and_empty_as_null() -> None:
    records, bad = csv_records(
        b"id,price,active,ts,day,name,zip\n"
        b"1,1.5,true,2024-03-01T14:30:00Z,2024-03-01,apple,02134\n"
        b"2,,FALSE,2024-03-01 14:30:01.250+02:00,,,10001\n"
        b"-3,2e3,true,2024-03-01T14:30:02,2024-03-02,pear,\n"
    )
    assert bad == []
    assert records == [
        {
            "id": 1,
            "price": 1.5,
            "active": True,
            "ts": datetime(2024, 3, 1, 14, 30, tzinfo=UTC),
            "day": date(2024, 3, 1),
            "name": "apple",
            "zip": "02134",
        },
        {
            "id": 2,
            "price": None,
            "active": False,
            "ts": datetime.fromisoformat("2024-03-01T14:30:01.250+02:00"),
            "day": None,
            "name": None,
            "zip": "10001",
        },
        {
            "id": -3,
            "price": 2000.0,
            "active": True,
            "ts": datetime(2024, 3, 1, 14, 30, 2),
            "day": date(2024, 3, 2),
            "name": "pear",
            "zip": None,
        },
    ]
    # As JSON: timestamps ISO-8601 (naive = UTC), nulls as null.
    assert orjson.loads(encode(records[2])) == {
        "id": -3,
        "price": 2000.0,
        "active": True,
        "ts": "2024-03-01T14:30:02Z",
        "day": "2024-03-02",
        "name": "pear",
        "zip": None,
    }


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["1", "-2", "+3", "0"], "int"),
        (["1", "2.5"], "float"),
        (["1.0", "nan", "-inf"], "float"),
        (["007", "1"], "text"),
        (["true", "False", "TRUE"], "bool"),
        (["1", "true"], "text"),
        (["2024-01-01", "2024-01-02T00:00:00"], "timestamp"),
        (["2024-13-01"], "text"),
        (["", ""], "text"),
        (["", "5"], "int"),
    ],
)
def test_column_type_is_the_narrowest_all_values_fit(values: list[str], kind: str) -> None:
    assert infer_column(values)[0] == kind


def test_nan_in_a_float_column_becomes_null_in_json() -> None:
    records, _ = csv_records(b"x\n1.5\nNaN\n")
    assert orjson.loads(encode(records[1])) == {"x": None}


def test_bad_csv_rows_are_reported_in_file_order_with_line_and_raw_bytes() -> None:
    records, bad = csv_records(
        b"a,b\n"
        b"1,x\n"
        b"2\n"  # line 3: too few fields
        b"\xff\xfe,y\n"  # line 4: not UTF-8
        b"3,y\n"
        b"\n"  # a blank line is not a row
        b"4,z,extra\n"  # line 7: too many fields
        b"5,w\n"
    )
    assert records == [{"a": 1, "b": "x"}, {"a": 3, "b": "y"}, {"a": 5, "b": "w"}]
    assert [(b.line, b.raw) for b in bad] == [(3, b"2"), (4, b"\xff\xfe,y"), (7, b"4,z,extra")]
    assert "expected 2 fields, got 1" in bad[0].reason
    assert "not UTF-8" in bad[1].reason
    assert "got 3" in bad[2].reason
    assert {b.source for b in bad} == {"t.csv"}


def test_a_value_that_does_not_fit_its_inferred_column_is_a_bad_row() -> None:
    # The first two rows decide: qty is int; "lots" later does not fit.
    records, bad = csv_records(b"sym,qty\nA,1\nB,2\nC,lots\nD,4.5\n", infer_rows=2)
    assert records == [{"sym": "A", "qty": 1}, {"sym": "B", "qty": 2}, {"sym": "D", "qty": 4.5}]
    assert len(bad) == 1
    assert bad[0].line == 4
    assert "qty" in bad[0].reason and "lots" in bad[0].reason


def test_bad_rows_keep_their_place_relative_to_good_rows() -> None:
    """--strict relies on it: everything before the first bad row comes out before it."""
    order: list[str] = []

    def on_bad(b: BadRow) -> None:
        order.append(f"bad {b.line}")

    text = b"a,b\n1,x\n\xff\n2,y\n3\n4,z\n"
    for record in read_csv(io.BytesIO(text), "t.csv", on_bad):
        order.append(f"good {record['a']}")
    assert order == ["good 1", "bad 3", "good 2", "bad 5", "good 4"]


def test_csv_header_with_bom_blank_and_repeated_names() -> None:
    records, bad = csv_records("\ufeffa,,a\n1,2,3\n".encode())
    assert bad == []
    assert records == [{"a": 1, "column_2": 2, "a_2": 3}]


def test_quoted_fields_keep_commas_and_newlines() -> None:
    records, bad = csv_records(b'name,note\n"Smith, J","line one\nline two"\nX,y\n')
    assert bad == []
    assert records == [{"name": "Smith, J", "note": "line one\nline two"}, {"name": "X", "note": "y"}]


def test_json_lines_file_with_invalid_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"a": 1}\n\nnot json\n[1, 2]\n{"a": 2, "t": "2024-01-01T00:00:00Z"}\n{"a": \n')
    records, bad = collect(str(path))
    assert records == [{"a": 1}, {"a": 2, "t": "2024-01-01T00:00:00Z"}]
    assert [(b.line, b.raw) for b in bad] == [(3, b"not json"), (4, b"[1, 2]"), (6, b'{"a": ')]
    assert bad[0].reason.startswith("invalid JSON")
    assert "not a JSON object" in bad[1].reason


def test_gzipped_csv(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "rows.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,x\n2,y\n"))
    records, bad = collect(path)
    assert records == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert bad == []


def test_stdin_source_reads_json_lines_once() -> None:
    stream = io.BytesIO(b'{"n": 1}\n{"n": 2}\n')
    src = open_source("-", stdin=stream)
    assert src.name == "stdin" and not src.reiterable
    assert list(src.records(lambda b: None)) == [{"n": 1}, {"n": 2}]


def test_parquet_rows_become_records_that_encode(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "symbol": ["A", "B"],
            "ts": pa.array([datetime(2024, 1, 1, 9, 30), datetime(2024, 1, 1, 9, 31)], pa.timestamp("ms", tz="UTC")),
            "price": pa.array([Decimal("1.25"), None], pa.decimal128(10, 2)),
            "qty": [1, 2],
        }
    )
    pq.write_table(table, path)
    src = open_source(path)
    assert src.size() == 2
    records = list(src.records(lambda b: None))
    assert [orjson.loads(encode(r)) for r in records] == [
        {"symbol": "A", "ts": "2024-01-01T09:30:00Z", "price": 1.25, "qty": 1},
        {"symbol": "B", "ts": "2024-01-01T09:31:00Z", "price": None, "qty": 2},
    ]


def test_sample_stocks_is_the_real_dataset_shipped_in_the_package() -> None:
    records, bad = collect("sample:stocks")
    assert bad == []
    assert len(records) == 560
    assert {r["symbol"] for r in records} == {"MSFT", "AMZN", "IBM", "GOOG", "AAPL"}
    assert records[0] == {"symbol": "MSFT", "date": date(2000, 1, 1), "price": 39.81}
    assert all(isinstance(r["price"], float) for r in records)


def test_iterable_sources_from_notebooks() -> None:
    records, bad = collect([{"a": 1}, "not a dict", {"a": 2}])
    assert records == [{"a": 1}, {"a": 2}]
    assert len(bad) == 1 and bad[0].line == 2 and "str" in bad[0].reason
    assert open_source([{"a": 1}]).reiterable
    assert not open_source(iter([{"a": 1}])).reiterable


def test_a_dataframe_yields_its_rows() -> None:
    import pandas as pd

    frame = pd.DataFrame({"a": [1, 2], "when": pd.to_datetime(["2024-01-01", None])})
    records, _ = collect(frame)
    assert [orjson.loads(encode(r)) for r in records] == [
        {"a": 1, "when": "2024-01-01T00:00:00"},
        {"a": 2, "when": None},
    ]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("missing.csv", "not found"),
        ("sample:nope", "no sample"),
        ("synthetic:nope", "no synthetic"),
        ("data.xlsx", "cannot tell the format"),
    ],
)
def test_unusable_sources_say_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, words: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(SourceError, match=words):
        open_source(spec)


def fixed_clock() -> float:
    return 1_700_000_000.123


def test_synthetic_ticks_repeat_with_a_seed() -> None:
    first = list(itertools.islice(synthetic_ticks(seed=7, clock=fixed_clock), 1000))
    again = list(itertools.islice(synthetic_ticks(seed=7, clock=fixed_clock), 1000))
    other = list(itertools.islice(synthetic_ticks(seed=8, clock=fixed_clock), 1000))
    assert first == again
    assert first != other


def test_synthetic_ticks_look_like_a_market() -> None:
    ticks = list(itertools.islice(synthetic_ticks(seed=1), 20_000))
    sizes = [len(encode(t)) for t in ticks]
    assert 170 <= sum(sizes) / len(sizes) <= 230  # about 200 bytes of JSON each
    assert {t["symbol"] for t in ticks} == {s for s, _, _ in SYMBOLS}
    for t in ticks:
        assert t["bid"] <= t["price"] <= t["ask"]
        assert t["volume"] > 0 and t["bid_size"] > 0 and t["ask_size"] > 0
        assert datetime.fromisoformat(t["ts"]).tzinfo == UTC
    assert [t["seq"] for t in ticks[:3]] == [1, 2, 3]
    # A random walk: prices move, but not far from where they started.
    start = {s: p for s, _, p in SYMBOLS}
    last = {t["symbol"]: t["price"] for t in ticks}
    assert any(last[s] != start[s] for s in last)
    assert all(0.5 < last[s] / start[s] < 2 for s in last)


def test_synthetic_timestamps_are_utc_milliseconds() -> None:
    tick = next(synthetic_ticks(seed=1, clock=fixed_clock))
    assert tick["ts"] == "2023-11-14T22:13:20.123Z"


def test_sources_tell_the_line_of_each_record(tmp_path: Path) -> None:
    """Rows found bad after reading (say, an unusable --time-field value) are dead-lettered by line too."""
    jsonl = tmp_path / "e.jsonl"
    jsonl.write_bytes(b'{"a": 1}\n\nbad\n{"a": 2}\n')
    csv = tmp_path / "e.csv"
    csv.write_bytes(b"a\n1\n\n2\n")
    for path in (jsonl, csv):
        src = open_source(path)
        lines = [src.position.line for _ in src.records(lambda b: None)]
        assert lines == ([1, 4] if path is jsonl else [2, 4])
    records: list[Any] = [{"a": 1}, 5, {"a": 2}]  # 5 is no record, and still counts as a line
    listed = open_source(records)
    assert [listed.position.line for _ in listed.records(lambda b: None)] == [1, 3]


def test_an_unterminated_quote_is_one_bad_row_and_reading_goes_on_at_the_next_line() -> None:
    """Without the recovery, csv reads `"x` to the end of the file as one field: every later row lost."""
    records, bad = csv_records(b'a,b\n1,x\n2,"never closed\n3,y\n4,"ok"\n5,"two\nlines"\n6,z\n')
    assert [r["a"] for r in records] == [1, 3, 4, 5, 6]
    assert records[3] == {"a": 5, "b": "two\nlines"}  # a quote that is closed may still span lines
    assert [(b.line, b.raw) for b in bad] == [(3, b'2,"never closed')]
    assert "unterminated quote" in bad[0].reason


def test_an_unterminated_quote_at_the_end_and_one_running_past_the_field_limit() -> None:
    records, bad = csv_records(b'a,b\n1,x\n2,"open at the end\n')
    assert [r["a"] for r in records] == [1]
    assert [b.line for b in bad] == [3]
    long_tail = b"".join(b"%d,row\n" % i for i in range(3, 30_000))  # ~250 KB after the stray quote
    records, bad = csv_records(b'a,b\n1,x\n2,"stray\n' + long_tail)
    assert len(records) == 1 + len(range(3, 30_000))
    assert [b.line for b in bad] == [3]


def test_json_integers_beyond_64_bits_keep_every_digit() -> None:
    lines = [
        b'{"id": 123456789012345678901234567890, "n": -9223372036854775809, "ok": 18446744073709551615}',
        b'{"s": "12345678901234567890123", "f": 1.5}',
    ]
    src = open_source("-", stdin=io.BytesIO(b"\n".join(lines) + b"\n"))
    records = list(src.records(lambda b: None))
    assert records[0] == {"id": 123456789012345678901234567890, "n": -9223372036854775809, "ok": 18446744073709551615}
    assert encode(records[0]) == (
        b'{"id":123456789012345678901234567890,"n":-9223372036854775809,"ok":18446744073709551615}'
    )
    assert records[1] == {"s": "12345678901234567890123", "f": 1.5}


def test_csv_integers_beyond_64_bits_keep_every_digit() -> None:
    records, bad = csv_records(b"id,n\n123456789012345678901234567890,1\n-99999999999999999999,2\n")
    assert bad == []
    assert encode(records[0]) == b'{"id":123456789012345678901234567890,"n":1}'
    assert encode(records[1]) == b'{"id":-99999999999999999999,"n":2}'


def test_an_unterminated_quote_closed_by_a_later_rows_quote_is_still_found() -> None:
    """The lenient reader ends `"never closed` at the next quote in the file, three lines on."""
    records, bad = csv_records(b'n,note\n1,fine\n2,"never closed\n3,after\n4,"multi\nline"\n5,last\n')
    assert records == [
        {"n": 1, "note": "fine"},
        {"n": 3, "note": "after"},
        {"n": 4, "note": "multi\nline"},
        {"n": 5, "note": "last"},
    ]
    assert [b.line for b in bad] == [3]
