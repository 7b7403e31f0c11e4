"""CSV with a header row into typed records, and its malformed rows out as BadRows.

Types are inferred per column from its first values (`csv_infer_rows`): a column is
bool, int, float, ISO-8601 timestamp (or date) if every non-empty value seen fits,
otherwise text. An empty field is null. A later value that does not fit its column
(text in an int column) makes that row bad, as does a wrong field count or bytes
that are not UTF-8: the run goes on, the row goes to the dead-letter topic.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from typing import Any

from eventlake.produce.report import BadRow

OnBad = Callable[[BadRow], None]
Converter = Callable[[str], Any]


class Position:
    """Where a source is. `line`: the line (Parquet: row) of the record just yielded or the bad row
    just handed to on_bad, so problems found after reading (an unusable --time-field value, a
    message too large) are dead-lettered by line too. `offset`: how much of the source is consumed
    through it (bytes of a text file, rows of a Parquet file), where an exactly-once run resumes.
    `columns`: a CSV's header names with their inferred types, kept with the progress so a
    resumed run types its columns as the first run did."""

    __slots__ = ("columns", "line", "offset")

    def __init__(self, line: int | None = None, offset: int = 0) -> None:
        self.line: int | None = line
        self.offset = offset
        self.columns: list[tuple[str, str]] | None = None


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


CONVERTERS: dict[str, Converter] = {
    "bool": to_bool,
    "int": to_int,
    "float": to_float,
    "timestamp": to_timestamp,
    "text": to_text,
}


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


Line = tuple[int, int, bytes]  # line number, bytes consumed through it, its raw bytes
Row = tuple[int, int, bytes, list[str]]  # last line, bytes consumed through it, raw bytes, fields
Bad = tuple[BadRow, int]  # a bad row and the bytes consumed through it
Item = Row | Bad


def numbered(lines: Iterable[bytes], line: int = 0, offset: int = 0) -> Iterator[Line]:
    """Raw lines with their numbers and end offsets, counting on from (line, offset)."""
    for raw in lines:
        line += 1
        offset += len(raw)
        yield line, offset, raw


def _well_quoted(lines: list[Line]) -> bool:
    """Whether lines read as one record are one record under RFC 4180's rules: every quote
    that closes a field is followed by a comma or the line end, and the last quote closes.
    The lenient reader would take `"never closed` up to any later quote in the file."""
    try:
        text = b"".join(raw for _, _, raw in lines).decode("utf-8")
        return len(list(csv.reader(io.StringIO(text), strict=True))) == 1
    except (csv.Error, UnicodeDecodeError):
        return False


class _Records:
    """Physical lines into CSV records, with the one recovery the csv module lacks: a record that
    spans lines and comes out malformed (an error, the wrong field count, not one record under
    strict quoting) is an unterminated quote. Its first line alone is the bad row and reading starts again at the
    next line, so one stray quote never swallows the rest of the file into a field. How far a
    quote can run is bounded by csv's field size limit (128 KiB)."""

    def __init__(self, lines: Iterator[Line], source: str, offset: int = 0) -> None:
        self.lines = lines
        self.source = source
        self.end = offset  # bytes of the file read so far
        self.width: int | None = None  # fields per record, once the header is known
        self.replay: deque[Line] = deque()  # lines to read again after a recovery
        self.pending: list[Line] = []  # lines of the record being read
        self.skipped: list[Bad] = []  # undecodable lines met while reading it
        self.reader = csv.reader(self._text())

    def _text(self) -> Iterator[str]:
        while True:
            if self.replay:
                item = self.replay.popleft()
            else:
                got = next(self.lines, None)
                if got is None:
                    return
                item = got
                self.end = got[1]
            line, end, raw = item
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.skipped.append(
                    (
                        BadRow(
                            f"undecodable bytes (not UTF-8) at byte {exc.start}", self.source, line, raw.rstrip(b"\r\n")
                        ),
                        end,
                    )
                )
                continue
            if line == 1:
                text = text.removeprefix("\ufeff")
            self.pending.append(item)
            yield text

    def _take_skipped(self) -> list[Bad]:
        taken, self.skipped = self.skipped, []
        return taken

    def __iter__(self) -> Iterator[Item]:
        while True:
            error: csv.Error | None = None
            fields: list[str] = []
            try:
                fields = next(self.reader)
            except StopIteration:
                yield from self._take_skipped()
                return
            except csv.Error as exc:
                error = exc
            yield from self._take_skipped()
            pending, self.pending = self.pending, []
            if not pending:
                continue
            if len(pending) > 1 and (
                error is not None or (self.width is not None and len(fields) != self.width) or not _well_quoted(pending)
            ):
                line, end, raw = pending[0]
                yield (
                    BadRow(
                        "unterminated quote: a quoted field runs past its line", self.source, line, raw.rstrip(b"\r\n")
                    ),
                    end,
                )
                self.replay.extendleft(reversed(pending[1:]))
                self.reader = csv.reader(self._text())  # the old one may have met the end of the file
                continue
            line, end = pending[-1][0], pending[-1][1]
            raw = b"".join(p[2] for p in pending).rstrip(b"\r\n")
            if fields and fields[-1].endswith("\n") and len(pending) == 1:  # the file ended inside its quote
                yield BadRow("unterminated quote: a quoted field runs past its line", self.source, line, raw), end
            elif error is not None:
                yield BadRow(f"malformed CSV: {error}", self.source, line, raw), end
            elif fields:  # a blank line holds no record
                yield line, end, raw, fields


def read_csv(
    lines: Iterable[bytes],
    source: str,
    on_bad: OnBad,
    infer_rows: int = 1000,
    position: Position | None = None,
    *,
    columns: list[tuple[str, str]] | None = None,
    line: int = 0,
    offset: int = 0,
) -> Iterator[dict[str, Any]]:
    """Records of a CSV given as raw byte lines. Bad rows go to `on_bad` in their place in the
    file, so with --strict everything before the first bad row is sent and nothing after.

    Resuming (exactly-once): `lines` start after `line` / byte `offset` of the file and
    `columns` (names and types, from the first run) stand for the header."""
    position = position or Position(line, offset)
    reader = _Records(numbered(lines, line, offset), source, offset)

    def hand_over(bad: Bad) -> None:
        position.line, position.offset = bad[0].line, bad[1]
        on_bad(bad[0])

    stream = iter(reader)
    ahead: list[Item] = []
    if columns is None:
        header: list[str] | None = None
        for item in stream:
            if isinstance(item[0], BadRow):
                hand_over(item)
                continue
            header = clean_header(item[3])
            position.line, position.offset = item[0], item[1]
            break
        if header is None:
            return
        reader.width = len(header)
        # Look ahead to infer the column types; keep bad rows in their place.
        sample: list[list[str]] = []
        for item in stream:
            ahead.append(item)
            if not isinstance(item[0], BadRow) and len(item[3]) == len(header):
                sample.append(item[3])
                if len(sample) >= infer_rows:
                    break
        columns = [(name, kind) for name, (kind, _) in zip(header, infer_types(header, sample), strict=True)]
    position.columns = columns
    header = [name for name, _ in columns]
    width = reader.width = len(header)
    named = [(name, CONVERTERS[kind]) for name, kind in columns]
    kinds = dict(columns)

    def emit(items: Iterable[Item]) -> Iterator[dict[str, Any]]:
        for item in items:
            if isinstance(item[0], BadRow):
                hand_over(item)
                continue
            line, end, raw, fields = item
            position.line, position.offset = line, end
            if len(fields) != width:
                on_bad(BadRow(f"expected {width} fields, got {len(fields)}", source, line, raw))
                continue
            record: dict[str, Any] = {}
            try:
                for (name, conv), value in zip(named, fields, strict=True):
                    record[name] = None if value == "" else conv(value)
            except ValueError:
                on_bad(BadRow(f"column {name}: {value[:40]!r} is not {kinds[name]}", source, line, raw))
                continue
            yield record

    yield from emit(ahead)
    yield from emit(stream)
    position.offset = reader.end  # the whole file is consumed: trailing blank lines too
