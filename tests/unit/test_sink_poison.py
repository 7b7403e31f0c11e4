"""A corpus of poison messages mixed into good traffic, against the sink's decode and partitioning.

Every good record must be accepted (and keep its values), every bad one rejected alone with a
reason, whichever decode path its batch takes. The same corpus runs against a real broker and
the real sink in tests/integration/test_sink_poison.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from eventlake.config.sink import SinkSettings
from eventlake.sink.decode import Decoded, decode_batch
from eventlake.sink.names import escape, escape_top, unescape
from eventlake.sink.partitioner import event_times_ms, group_rows
from eventlake.sink.table import _keys

KAFKA_MS = 1_714_560_000_000  # 2024-05-01T10:40:00Z
MAX_RECORD = 600_000  # the corpus's size limit (the integration test sets the same)


def good(i: int) -> dict[str, Any]:
    """The good traffic: ints, doubles, fractional ISO times, a nested object, an array."""
    return {
        "id": i,
        "amount": i + 0.25,
        "ts": f"2024-05-01T10:{i % 60:02d}:00.{i % 1000:03d}Z",
        "sym": ["AAPL", "MSFT"][i % 2],
        "nested": {"a": i, "tags": ["x"] * (i % 3)},
    }


def _deep(levels: int) -> bytes:
    return b'{"d":' * levels + b"1" + b"}" * levels


@dataclass(frozen=True)
class Poison:
    name: str
    value: bytes | None
    lands: bool = False  # True: a strange record that must land (check says how)
    key: bytes | None = None
    check: Callable[[dict[str, Any]], bool] | None = None  # on the landed row (lands=True)
    reason: str = ""  # a word the DLQ reason must hold (lands=False)


CORPUS: list[Poison] = [
    # sizes
    Poison("over max_record_bytes", b'{"pad": "' + b"x" * MAX_RECORD + b'"}', reason="max_record_bytes"),
    # just under the broker's 1,048,588-byte limit: its dead letter must be cut to fit
    Poison("about 1 MB", b'{"pad": "' + b"y" * 1_047_900 + b'"}', reason="max_record_bytes"),
    Poison("tombstone", None, reason="tombstone"),
    Poison("empty value", b"", reason="not JSON"),
    Poison("blank value", b"   ", reason="not JSON"),
    # encodings
    Poison("invalid UTF-8", b'{"s": "\xff\xfe"}', reason="UTF-8"),
    Poison("UTF-16 with BOM", '{"id": 1}'.encode("utf-16"), reason="UTF-8"),
    Poison("UTF-8 BOM", b'\xef\xbb\xbf{"id": 1}', reason="not JSON"),
    Poison("NUL after the object", b'{"id": 1}\x00', reason="not JSON"),
    Poison("raw NUL in a string", b'{"s": "a\x00b"}', reason="not JSON"),
    Poison("lone surrogate", b'{"s": "\\ud800"}', reason="not JSON"),
    # names
    Poison("empty name", b'{"": 1}', reason="empty field name"),
    Poison("100 KB name", b'{"' + b"n" * 100_000 + b'": 1}', reason="max_name_length"),
    Poison("names differing in case", b'{"Price": 1, "price": 2}', reason="differ only in case"),
    Poison("case of an existing column", b'{"ID": 5}', reason="differs only in case"),
    Poison("duplicate name", b'{"zz": 1, "zz": 2}', reason="twice"),
    Poison(
        "unsafe names escaped",
        '{"a,b:c<d>`\'\\" e": 1, "x y": {"é.z": 2}, "東京": 3}'.encode(),
        lands=True,
        check=lambda r: (
            r["a_x2c_b_x3a_c_x3c_d_x3e__x60__x27__x22__x20_e"] == 1
            and r["x_x20_y"] == {"_xe9__x2e_z": 2}
            and r["_x6771__x4eac_"] == 3
        ),
    ),
    Poison(
        "lineage-like names",
        b'{"_offset": 7, "_KEY": "k", "dt": "d", "hour": 1}',
        lands=True,
        check=lambda r: (r["_x5f_offset"], r["_x5f_KEY"], r["_x64_t"], r["_x68_our"]) == (7, "k", "d", 1),
    ),
    # nesting
    Poison("40 levels deep", _deep(40), reason="max_depth"),
    Poison("60,000 levels deep", _deep(60_000), reason="not JSON"),
    Poison("30 levels deep", _deep(29), lands=True, check=lambda r: r["d"] is not None),
    Poison("empty object", b'{"o": {}}', lands=True, check=lambda r: r["o"] is None),
    Poison("empty array", b'{"arr": []}', lands=True, check=lambda r: r["arr"] == []),
    Poison("mixed-type array", b'{"mix": [1, "a"]}', reason="type conflict"),
    Poison("struct becomes a number", b'{"nested": 5}', reason="type conflict"),
    # types
    Poison("int becomes string", b'{"id": "seven"}', reason="type conflict"),
    Poison("int becomes bool", b'{"id": true}', reason="type conflict"),
    Poison("int widened to double", b'{"id": 2.5}', lands=True, check=lambda r: r["id"] == 2.5),
    Poison("integer beyond int64", b'{"amount": 18446744073709551616}', reason="beyond int64"),
    Poison("integer just past int64", b'{"amount": 9223372036854775808}', reason="beyond int64"),
    Poison("negative beyond int64", b'{"amount": -9223372036854775809}', reason="beyond int64"),
    Poison("NaN token", b'{"amount": NaN}', reason="not JSON"),
    Poison("Infinity token", b'{"amount": -Infinity}', reason="not JSON"),
    Poison("1e400", b'{"amount": 1e400}', reason="not JSON"),
    Poison("too many columns", orjson.dumps({f"c{i}": i for i in range(1500)}), reason="max_columns"),
    # times (the time field is `ts`; the table's ts is a timestamp column)
    Poison("time not a time", b'{"ts": "soon"}', reason="type conflict"),
    Poison("ISO year 1", b'{"ts": "0001-01-01T00:00:00Z"}', reason="outside the window"),
    Poison("ISO year 2999", b'{"ts": "2999-01-01T00:00:00Z"}', reason="outside the window"),
    Poison("ISO year 9999", b'{"ts": "9999-12-31T23:59:59.999Z"}', reason="outside the window"),
    Poison(
        "ISO 9 fractional digits",
        b'{"ts": "2024-05-01T10:00:00.123456789+02:00"}',
        lands=True,
        check=lambda r: r["ts"] == datetime(2024, 5, 1, 8, 0, 0, 123000, tzinfo=UTC),
    ),
    Poison(
        "ISO 6 digits, no zone",
        b'{"ts": "2024-05-01T10:00:00.123456"}',
        lands=True,
        check=lambda r: r["ts"] == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC),
    ),
    Poison(
        "ISO no fraction, no zone",
        b'{"ts": "2024-05-01 10:00:00"}',
        lands=True,
        check=lambda r: r["ts"] == datetime(2024, 5, 1, 10, tzinfo=UTC),
    ),
    Poison("ISO Feb 30", b'{"ts": "2024-02-30T00:00:00Z"}', reason="type conflict"),
    # keys
    Poison(
        "binary key",
        b'{"id": 9}',
        lands=True,
        key=b"\xff\x00\x01",
        check=lambda r: r["_key"] is None and r["_key_bytes"] == b"\xff\x00\x01",
    ),
    Poison(
        "JSON key",
        b'{"id": 10}',
        lands=True,
        key=b'{"a": 1}',
        check=lambda r: r["_key"] == '{"a": 1}' and r["_key_bytes"] is None,
    ),
    Poison("escaped NUL in a string", b'{"note": "a\\u0000b"}', lands=True, check=lambda r: r["note"] == "a\x00b"),
    # not objects, not JSON
    Poison("array", b"[1, 2]", reason="not a JSON object"),
    Poison("number", b"42", reason="not a JSON object"),
    Poison("string", b'"s"', reason="not a JSON object"),
    Poison("null", b"null", reason="not a JSON object"),
    Poison("truncated JSON", b'{"id": 1, "ts": "20', reason="not JSON"),
    Poison("two objects in one value", b'{"id": 1} {"id": 2}', reason="not JSON"),
    Poison("pretty-printed object", b'{\n  "id": 11\n}', lands=True, check=lambda r: r["id"] == 11),
]
# Numeric time fields need a numeric `ts`: a corpus of their own (see test_numeric_event_times).
NUMERIC_TIMES = [
    (1e23, False),
    (2**63 - 1, False),
    (-5, False),
    (1714557600, True),
    (1714557600123, True),
    (1714557600123456, True),
    (1714557600123456789, True),
]

SETTINGS = SinkSettings(time_field="ts", max_record_bytes=MAX_RECORD)
NOW = datetime(2024, 6, 1, tzinfo=UTC).timestamp()


def test_the_corpus_has_at_least_40_kinds() -> None:
    assert len(CORPUS) >= 40 and len({p.name for p in CORPUS}) == len(CORPUS)


def _established() -> pa.Schema:
    """The table after some good traffic (ts a timestamp column, id bigint, nested a struct)."""
    d = decode_batch([orjson.dumps(good(i)) for i in range(10)], np.full(10, KAFKA_MS), pa.schema([]), SETTINGS, NOW)
    assert d.accepted is None and not d.rejected
    return d.schema


def _mixed(poisons: list[Poison], seed: int) -> tuple[list[bytes | None], list[bytes | None], dict[int, Any]]:
    """Good records with the poisons spread among them; position -> good event or Poison."""
    rnd = random.Random(seed)
    values: list[bytes | None] = []
    keys: list[bytes | None] = []
    what: dict[int, Any] = {}
    i = 0
    for p in poisons:
        for _ in range(rnd.randrange(0, 4)):
            what[len(values)] = good(100 + i)
            values.append(orjson.dumps(good(100 + i)))
            keys.append(str(i).encode())
            i += 1
        what[len(values)] = p
        values.append(p.value)
        keys.append(p.key)
    return values, keys, what


def _check(d: Decoded, what: dict[int, Any], keys: list[bytes | None]) -> None:
    accepted = list(range(len(what))) if d.accepted is None else d.accepted
    rejected = {r.index: r.reason for r in d.rejected}
    assert sorted([*accepted, *rejected]) == list(range(len(what))), "each record is accepted or rejected once"
    key_text, key_bytes = _keys([keys[i] for i in accepted])
    rows = d.table.to_pylist()
    for row, pos, kt, kb in zip(rows, accepted, key_text.to_pylist(), key_bytes.to_pylist(), strict=True):
        row.update({"_key": kt, "_key_bytes": kb})
        item = what[pos]
        if isinstance(item, Poison):
            assert item.lands, f"{item.name} landed: {row}"
            assert item.check is not None and item.check(row), f"{item.name} landed wrong: {row}"
        else:
            assert row["id"] == item["id"] and row["amount"] == item["amount"] and row["sym"] == item["sym"]
            assert row["ts"] == datetime.fromisoformat(item["ts"])
    for pos, reason in rejected.items():
        item = what[pos]
        assert isinstance(item, Poison) and not item.lands, f"good record {item} rejected: {reason}"
        assert item.reason in reason, f"{item.name}: reason {reason!r} lacks {item.reason!r}"
    assert d.times_ms is not None and len(d.times_ms) == d.table.num_rows
    # what lands can be written and read back (no struct<>, no empty or unsafe names)
    sink_row = pa.schema(list(d.table.schema))
    assert all(f.name and f.name.isascii() for f in sink_row)


@pytest.mark.parametrize("seed", [1, 2])
def test_one_batch_of_all_poisons_mixed_into_good_traffic(seed: int) -> None:
    values, keys, what = _mixed(CORPUS, seed)
    d = decode_batch(values, np.full(len(values), KAFKA_MS), _established(), SETTINGS, NOW)
    _check(d, what, keys)


@pytest.mark.parametrize("poison", CORPUS, ids=lambda p: p.name)
def test_each_poison_alone_in_a_batch_of_good_records(poison: Poison) -> None:
    values, keys, what = _mixed([poison], 3)
    values.append(orjson.dumps(good(1)))
    keys.append(b"k")
    what[len(values) - 1] = good(1)
    d = decode_batch(values, np.full(len(values), KAFKA_MS), _established(), SETTINGS, NOW)
    _check(d, what, keys)


def test_a_type_change_in_a_table_with_fractional_times_lands_every_record() -> None:
    schema = _established()
    widened = [orjson.dumps({**good(i), "id": i + 0.5}) for i in range(32)]
    d = decode_batch(widened, np.full(32, KAFKA_MS), schema, SETTINGS, NOW)
    assert not d.rejected and d.schema.field("id").type == pa.float64() and d.table.num_rows == 32
    micro = [orjson.dumps({**good(i), "ts": f"2024-05-01T10:00:00.{i:06d}Z"}) for i in range(20)]
    d = decode_batch(micro, np.full(20, KAFKA_MS), schema, SETTINGS, NOW)
    assert not d.rejected and d.table.num_rows == 20
    one_bad = [orjson.dumps(good(i)) for i in range(31)] + [b'{"id": "x"}']
    d = decode_batch(one_bad, np.full(32, KAFKA_MS), schema, SETTINGS, NOW)
    assert [r.index for r in d.rejected] == [31] and d.table.num_rows == 31


@pytest.mark.parametrize(("value", "lands"), NUMERIC_TIMES)
def test_numeric_event_times(value: float, lands: bool) -> None:
    values = [b'{"ts": 1714557600}', orjson.dumps({"ts": value}), b'{"ts": 1714557601}']
    d = decode_batch(values, np.full(3, KAFKA_MS), pa.schema([]), SETTINGS, NOW)
    assert [r.index for r in d.rejected] == ([] if lands else [1])
    assert d.times_ms is not None and all(1714557600000 <= t < 1714557602000 for t in d.times_ms.tolist())


def test_kafka_time_outside_the_window_goes_to_the_dlq_too() -> None:
    d = decode_batch([b'{"a": 1}', b'{"a": 2}'], np.array([KAFKA_MS, -1]), pa.schema([]), SinkSettings(), NOW)
    assert [r.index for r in d.rejected] == [1] and "Kafka timestamp" in d.rejected[0].reason


def test_event_times_never_raise_and_partitions_are_zero_padded() -> None:
    table = pa.table({"ts": [1e23, float(2**63 - 1), -5.0, 1714557600.0]})
    kafka = np.full(4, KAFKA_MS)
    times = event_times_ms(table, kafka, "ts")
    assert times[0] == KAFKA_MS  # no folder can hold it: the Kafka timestamp
    assert [g.values["dt"] for g in group_rows(table, times, [])] == ["2024-05-01", "2262-04-11", "1969-12-31"]
    hours = 3_600_000
    groups = group_rows(pa.table({"x": [1, 2, 3]}), np.array([-62135596800000, 0, 253402297200000]), [])
    assert [g.values for g in groups] == [
        {"dt": "0001-01-01", "hour": "00"},
        {"dt": "1970-01-01", "hour": "00"},
        {"dt": "9999-12-31", "hour": "23"},
    ]
    assert group_rows(pa.table({"x": [1]}), np.array([7 * hours]), [])[0].folder() == "dt=1970-01-01/hour=07"


def test_the_naming_rule_is_reversible_and_leaves_plain_names_alone() -> None:
    rnd = random.Random(5)
    alphabet = "aZ_x09-., :<>`'\"éü東🚀\x00"
    names = ["_x41_", "a_x2d_b", "_x", "pos_x", "x_", "_xff", "_X41_", "a__x"]
    names += ["".join(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 12))) for _ in range(2000)]
    for name in names:
        e = escape(name)
        assert unescape(e) == name and all(c.isascii() and (c.isalnum() or c == "_") for c in e), name
        assert unescape(escape_top(name)) == name
    assert len({escape(n) for n in set(names)}) == len(set(names))
    assert escape("price_usd") == "price_usd" and escape("a-b") == "a_x2d_b" and escape_top("_key") == "_x5f_key"


def test_keys_keep_their_bytes() -> None:
    text, raw = _keys([b"AAPL", None, b"\xff\xfe", b'{"a": 1}', b"True"])
    assert text.to_pylist() == ["AAPL", None, None, '{"a": 1}', "True"]
    assert raw.to_pylist() == [None, None, b"\xff\xfe", None, None]
