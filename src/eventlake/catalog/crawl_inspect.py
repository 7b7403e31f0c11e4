"""One file, looked at by the crawler: what it is (classification) and what it holds (schema).

Parquet is recognised by its magic bytes and described by its footer. Text files (plain or
gzip, recognised by the gzip magic) are JSON Lines when their first record is a JSON object,
else CSV when a delimiter splits every line into the same number (>= 2) of fields. JSON and
CSV files are read to the end: every record must parse (a file DuckDB would fail on is
reported as unreadable and left out), and column types are inferred over all records, so
a value late in the file cannot break queries. Header detection follows Glue: the first
row is a header when it is all distinct non-empty strings and the rows below it are not
(some column holds numbers, booleans or timestamps, or the first row's values never recur).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from eventlake.catalog.crawl_types import NULL, finish, json_type, merge, text_type
from eventlake.catalog.hive_types import format_type, from_arrow
from eventlake.catalog.model import Column

PARQUET_MAGIC = b"PAR1"
GZIP_MAGIC = b"\x1f\x8b"
DELIMITERS = (",", "\t", "|", ";")


class Unreadable(Exception):
    """A file the crawler leaves out, with the reason shown in the summary."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FileSchema:
    format: str  # parquet | jsonl | csv
    columns: list[Column]
    rows: int
    compression: str | None = None  # gzip
    header: bool = True
    delimiter: str = ","
    parameters: dict[str, str] = field(default_factory=dict)

    def layout(self) -> tuple[str, str | None, bool, str]:
        """What must be equal for two files to share a table (besides similar columns)."""
        if self.format == "csv":
            return (self.format, self.compression, self.header, self.delimiter)
        return (self.format, self.compression, True, ",")

    def to_state(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "columns": [[c.name, c.type] for c in self.columns],
            "rows": self.rows,
            "compression": self.compression,
            "header": self.header,
            "delimiter": self.delimiter,
        }

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> FileSchema:
        return cls(
            data["format"],
            [Column(n, t) for n, t in data["columns"]],
            int(data["rows"]),
            data.get("compression"),
            bool(data.get("header", True)),
            data.get("delimiter", ","),
        )


def inspect_file(fs: pafs.FileSystem, path: str, sample_rows: int = 1000) -> FileSchema:
    """Classify and describe one file; raise Unreadable with a reason for anything else."""
    try:
        with fs.open_input_stream(path, compression=None) as stream:  # raw bytes: no guessing by extension
            head = bytes(stream.read(4))
    except OSError as exc:
        raise Unreadable(f"cannot be read: {exc}") from exc
    if head == PARQUET_MAGIC:
        return _parquet(fs, path)
    if path.endswith(".parquet"):
        raise Unreadable("not a Parquet file (no PAR1 magic bytes)")
    compression = "gzip" if head[:2] == GZIP_MAGIC else None
    try:
        with fs.open_input_stream(path, compression=compression) as stream:
            text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
            first = _first_line(text)
            if first is None:
                raise Unreadable("empty file")
            if first.lstrip().startswith("{"):
                return _jsonl(_chain(first, text), compression)
            if first.lstrip().startswith("["):
                raise Unreadable("a JSON array, not JSON Lines: write one JSON object per line")
            return _csv(_chain(first, text), compression, sample_rows, _named_csv(path))
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not UTF-8 text (byte {exc.start})") from exc
    except (OSError, EOFError) as exc:
        raise Unreadable(f"cannot be read: {exc}") from exc


def _parquet(fs: pafs.FileSystem, path: str) -> FileSchema:
    try:
        with fs.open_input_file(path) as f:
            meta = pq.ParquetFile(f)
            schema = meta.schema_arrow
            rows = meta.metadata.num_rows
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for damaged footers
        raise Unreadable(f"not a readable Parquet file: {exc}") from exc
    return FileSchema("parquet", [Column(f.name, format_type(from_arrow(f.type))) for f in schema], int(rows))


def _first_line(text: io.TextIOWrapper) -> str | None:
    for line in text:
        if line.strip():
            return line
    return None


def _chain(first: str, rest: io.TextIOWrapper) -> Iterator[str]:
    yield first
    yield from rest


def _jsonl(lines: Iterator[str], compression: str | None) -> FileSchema:
    types: dict[str, str] = {}
    rows = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise Unreadable(f"line {number} is not valid JSON ({exc.msg})") from exc
        if not isinstance(record, dict):
            raise Unreadable(f"line {number} is not a JSON object")
        rows += 1
        for key, value in record.items():
            types[key] = merge(types.get(key, NULL), json_type(value))
    return FileSchema("jsonl", [Column(k, finish(t)) for k, t in types.items()], rows, compression)


def _sniff(sample: list[str]) -> tuple[str, int] | None:
    """The delimiter that splits every sample line into the same number (>= 2) of fields."""
    best: tuple[str, int] | None = None
    for delim in DELIMITERS:
        widths = {len(row) for row in csv.reader(sample, delimiter=delim) if row}
        if len(widths) == 1:
            width = widths.pop()
            if width >= 2 and (best is None or width > best[1]):
                best = (delim, width)
    return best


def _has_header(first: list[str], rest: list[list[str]]) -> bool:
    if len(set(first)) != len(first) or not all(c.strip() and text_type(c) == "string" for c in first):
        return False
    if not rest:
        return True
    for i in range(len(first)):
        column = NULL
        for row in rest:
            column = merge(column, text_type(row[i]))
        if column not in (NULL, "string"):
            return True
    seen = {(i, row[i]) for row in rest for i in range(len(first))}
    return not any((i, value) in seen for i, value in enumerate(first))


def _named_csv(path: str) -> str | None:
    """The delimiter a file's name promises (`.csv`, `.tsv`, also gzipped), if any."""
    name = path.lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t" if name.endswith(".tsv") else None


def _csv(lines: Iterator[str], compression: str | None, sample_rows: int, named: str | None = None) -> FileSchema:
    sample: list[str] = []
    for line in lines:
        sample.append(line)
        if len(sample) > sample_rows:
            break
    sniffed = _sniff([s for s in sample if s.strip()])
    if sniffed is None and named is not None:
        # A file named .csv that does not split evenly is a broken CSV: say which line breaks it.
        first_row = next(csv.reader([s for s in sample if s.strip()][:1], delimiter=named), [])
        sniffed = (named, len(first_row))
    if sniffed is None:
        raise Unreadable("not Parquet, JSON Lines or CSV (no delimiter splits every line the same way)")
    delim, width = sniffed
    reader = csv.reader(_chain_list(sample, lines), delimiter=delim)
    first: list[str] | None = None
    parsed_sample: list[list[str]] = []
    types = [NULL] * width
    rows = 0
    header = False
    for row in reader:
        if not row:
            continue
        if len(row) != width:
            raise Unreadable(f"line {reader.line_num} has {len(row)} fields, expected {width}")
        if first is None:
            first = row
            continue
        if len(parsed_sample) < sample_rows:
            parsed_sample.append(row)
            if len(parsed_sample) == sample_rows:
                header = _has_header(first, parsed_sample)
                types = _start_types(first, header, width)
                for r in parsed_sample:
                    types = [merge(t, text_type(v)) for t, v in zip(types, r, strict=True)]
                rows += len(parsed_sample)
            continue
        types = [merge(t, text_type(v)) for t, v in zip(types, row, strict=True)]
        rows += 1
    if first is None:
        raise Unreadable("empty file")
    if len(parsed_sample) < sample_rows:  # the whole file fit in the sample
        header = _has_header(first, parsed_sample)
        types = _start_types(first, header, width)
        for r in parsed_sample:
            types = [merge(t, text_type(v)) for t, v in zip(types, r, strict=True)]
        rows += len(parsed_sample) + (0 if header else 1)
    elif not header:
        rows += 1
    names = [c.strip() or f"col{i}" for i, c in enumerate(first)] if header else [f"col{i}" for i in range(width)]
    columns = [Column(n, finish(t)) for n, t in zip(names, types, strict=True)]
    return FileSchema("csv", columns, rows, compression, header, delim)


def _start_types(first: list[str], header: bool, width: int) -> list[str]:
    return [NULL] * width if header else [text_type(v) for v in first]


def _chain_list(sample: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from sample
    yield from rest
