"""CSV with a header row into typed records, and its malformed rows out as BadRows.

Types are inferred per column from its first values (`csv_infer_rows`): a column is
bool, int, float, ISO-8601 timestamp (or date) if every non-empty value seen fits,
otherwise text. An empty field is null. A later value that does not fit its column
(text in an int column) makes that row bad, as does a wrong field count or bytes
that are not UTF-8: the run goes on, the row goes to the dead-letter topic.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any

from eventlake.produce.report import BadRow

OnBad = Callable[[BadRow], None]
Converter = Callable[[str], Any]


class Position:
    """Where the record just yielded came from, for problems found after it was read
    (an unusable --time-field value, a message too large): they are dead-lettered by line too."""

    __slots__ = ("line",)

    def __init__(self) -> None:
        self.line: int | None = None

_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")  # no leading zeros: "02134" is a code, not a number
_FLOAT = re.compile(r"[+-]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(nan|inf|infinity)", re.I)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,9})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
_BOOLS = {"true": True, "false": False}


def to_bool(text: str) -> bool:
    value = _BOOLS.get(text.lower())
    if value is None:
        raise ValueError("not a bool")
    return value


def to_int(text: str) -> int | float:
    if _INT.fullmatch(text):
        return int(text)
    return to_float(text)  # an int column may hold the odd decimal: widen that value


def to_float(text: str) -> float:
    if _FLOAT.fullmatch(text):
        return float(text)
    raise ValueError("not a number")


def to_timestamp(text: str) -> date | datetime:
    if not _TIMESTAMP.fullmatch(text):
        raise ValueError("not an ISO-8601 timestamp")
    if len(text) == 10:
        return date.fromisoformat(text)
    return datetime.fromisoformat(text)


def to_text(text: str) -> str:
    return text


def _fits(converter: Converter, values: Iterable[str]) -> bool:
    try:
        for value in values:
            converter(value)
    except ValueError:
        return False
    return True


def infer_column(values: list[str]) -> tuple[str, Converter]:
    """The narrowest column type (name, converter) that every non-empty value fits."""
    present = [v for v in values if v != ""]
    if not present:
        return "text", to_text
    if all(v.lower() in _BOOLS for v in present):
        return "bool", to_bool
    if all(_INT.fullmatch(v) for v in present):
        return "int", to_int
    if all(_FLOAT.fullmatch(v) for v in present):
        return "float", to_float
    if _fits(to_timestamp, present):
        return "timestamp", to_timestamp
    return "text", to_text


def infer_types(header: list[str], rows: list[list[str]]) -> list[tuple[str, Converter]]:
    return [infer_column([row[i] for row in rows]) for i in range(len(header))]


def clean_header(names: list[str]) -> list[str]:
    """Blank names become column_N; repeated names get _2, _3 so no value is lost."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        name = name.strip() or f"column_{i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        out.append(name)
    return out


def _take(items: list[BadRow]) -> list[BadRow]:
    taken = items[:]
    items.clear()
    return taken


def _take_raw(lines: list[bytes]) -> bytes:
    raw = b"".join(lines).rstrip(b"\r\n")
    lines.clear()
    return raw


def read_csv(
    lines: Iterable[bytes], source: str, on_bad: OnBad, infer_rows: int = 1000, position: Position | None = None,
) -> Iterator[dict[str, Any]]:
    """Records of a CSV given as raw byte lines. Bad rows go to `on_bad` in their place in the
    file, so with --strict everything before the first bad row is sent and nothing after."""
    state = {"line": 0}
    position = position or Position()
    pending: list[bytes] = []  # raw bytes of the record being read, for the DLQ
    skipped: list[BadRow] = []  # undecodable lines met while reading the next record

    def text_lines() -> Iterator[str]:
        for raw in lines:
            state["line"] += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                skipped.append(BadRow(f"undecodable bytes (not UTF-8) at byte {exc.start}", source, state["line"],
                                      raw.rstrip(b"\r\n")))
                continue
            if state["line"] == 1:
                text = text.removeprefix("\ufeff")
            pending.append(raw)
            yield text

    reader = csv.reader(text_lines())

    def rows() -> Iterator[tuple[int, bytes, list[str]] | BadRow]:
        """(line, raw, fields) for each record; a BadRow for one csv itself rejects."""
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                yield from skipped
                return
            except csv.Error as exc:
                yield from _take(skipped)
                yield BadRow(f"malformed CSV: {exc}", source, state["line"], _take_raw(pending))
                continue
            yield from _take(skipped)
            raw = _take_raw(pending)
            if fields:  # a blank line holds no record
                yield state["line"], raw, fields

    stream = rows()
    header: list[str] | None = None
    for item in stream:
        if isinstance(item, BadRow):
            on_bad(item)
            continue
        header = clean_header(item[2])
        break
    if header is None:
        return
    width = len(header)

    # Look ahead to infer the column types; keep bad rows in their place.
    ahead: list[tuple[int, bytes, list[str]] | BadRow] = []
    sample: list[list[str]] = []
    for item in stream:
        ahead.append(item)
        if not isinstance(item, BadRow) and len(item[2]) == width:
            sample.append(item[2])
            if len(sample) >= infer_rows:
                break
    types = infer_types(header, sample)
    converters = [conv for _, conv in types]
    named = list(zip(header, converters, strict=True))

    def emit(items: Iterable[tuple[int, bytes, list[str]] | BadRow]) -> Iterator[dict[str, Any]]:
        for item in items:
            if isinstance(item, BadRow):
                on_bad(item)
                continue
            line, raw, fields = item
            if len(fields) != width:
                on_bad(BadRow(f"expected {width} fields, got {len(fields)}", source, line, raw))
                continue
            record: dict[str, Any] = {}
            try:
                for (name, conv), value in zip(named, fields, strict=True):
                    record[name] = None if value == "" else conv(value)
            except ValueError:
                kind = dict(zip(header, (t for t, _ in types), strict=True))[name]
                on_bad(BadRow(f"column {name}: {value[:40]!r} is not {kind}", source, line, raw))
                continue
            position.line = line
            yield record

    yield from emit(ahead)
    yield from emit(stream)
