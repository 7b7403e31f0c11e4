"""What `eventlake consume` makes of hostile --from values and message bytes (no broker needed)."""

from __future__ import annotations

import json

import pytest

from eventlake.broker.consume import Record, parse_start
from eventlake.errors import UsageError


def test_from_values_parse_strictly() -> None:
    assert parse_start("earliest").kind == "earliest" and parse_start("latest").kind == "latest"
    assert parse_start("42").offset == 42
    assert parse_start("2026-11-26T16:00:00Z").time_ms == parse_start("2026-11-26T17:00:00+01:00").time_ms
    assert parse_start("2026-11-26T16:00:00").time_ms == parse_start("2026-11-26T16:00:00Z").time_ms  # no zone: UTC
    for bad in ("", "-1", "1e3", "9" * 20, "yesterday", "2026-13-01", "2026-11-26T25:00:00Z", "earliest\n", "４２"):
        with pytest.raises(UsageError, match="is not earliest, latest"):
            parse_start(bad)


def _record(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes | None]]) -> Record:
    return Record("t", 0, 7, 1_700_000_000_123, "create_time", key, value, headers)


def test_no_character_that_acts_on_a_terminal_reaches_json_or_table_output() -> None:
    hostile = "a\x1b[2Jb\x07c\x7fd\x9be\u202ef\u200bg".encode()
    record = _record(hostile, hostile, [("h\x1b", hostile)])
    line = record.json_line()
    assert all(ch.isprintable() and ch not in "\u202e\u200b" for ch in line)
    back = json.loads(line)  # still the exact text for a JSON reader
    assert back["value"] == back["key"] == back["headers"][0]["value"] == hostile.decode()
    assert back["timestamp"] == "2023-11-14T22:13:20.123Z"
    table = record.table_line()
    assert all(ch.isprintable() for ch in table) and "\\x1b[2Jb\\x07" in table


def test_values_are_json_text_or_base64_as_their_bytes_allow() -> None:
    assert json.loads(_record(None, b'{"a": [1]}', []).json_line())["value"] == {"a": [1]}
    text = json.loads(_record(b"k", b"NaN", []).json_line())
    assert (text["value"], text["value_encoding"], text["key"]) == ("NaN", "text", "k")  # strict JSON only
    binary = json.loads(_record(b"\xff", b"\x00\xff", [("h", None)]).json_line())
    assert (binary["value"], binary["value_encoding"]) == ("AP8=", "base64")
    assert (binary["key"], binary["key_encoding"]) == ("/w==", "base64")
    assert binary["headers"] == [{"key": "h", "value": None, "encoding": None}]
    assert _record(None, b"\x1b", []).raw_bytes(terminal=False) == b"\x1b\n"
    assert _record(None, b"\x1b", []).raw_bytes(terminal=True) == b"\\x1b\n"
