"""Where events come from: files (CSV, JSON Lines, Parquet), stdin, the packaged sample, synthetic ticks,
or any iterable of dicts a notebook hands in.

A source yields records (dicts). Rows it cannot turn into records are handed to an
`on_bad` callback in their place in the stream, never dropped; the producer
dead-letters them (or stops, with --strict).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sized
from importlib import resources
from pathlib import Path
from typing import IO, Any

import orjson

from eventlake.produce.csvfile import OnBad, Position, read_csv
from eventlake.produce.exceptions import SourceError
from eventlake.produce.report import BadRow
from eventlake.produce.synthetic import synthetic_ticks

SAMPLES = {"stocks": "stocks.csv"}
SYNTHETIC = ("ticks",)
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
SUPPORTED = "a .csv, .jsonl/.ndjson or .parquet file (.gz too for text), -, sample:stocks or synthetic:ticks"


class Source(ABC):
    """Records of one pass over some data. `endless` sources never end a pass."""

    name: str = ""
    endless: bool = False
    reiterable: bool = True  # False: --loop cannot start it again (stdin, a one-shot iterator)

    def __init__(self) -> None:
        self.position = Position()  # line (or row number) of the record last yielded

    @abstractmethod
    def records(self, on_bad: OnBad) -> Iterator[dict[str, Any]]:
        """Yield the records of one pass; hand bad ones to `on_bad` instead of raising."""

    def size(self) -> int | None:
        """Records in one pass, when cheap to know (for an ETA)."""
        return None


# orjson reads integers beyond 64 bits as doubles (rounded); lines with such long digit runs are
# read by the standard library instead, which keeps them exact (the encoder writes them digit for digit).
_LONG_DIGITS = re.compile(rb"[0-9]{19}")
# The same test for a whole block at memory speed (the regex scans at ~40 MB/s): digits become "0".
_DIGITS_AS_ZERO = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_RUN = b"0" * 19


def _has_long_digits(block: bytes) -> bool:
    return _RUN in block.translate(_DIGITS_AS_ZERO)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads_wide(text: bytes) -> Any:
    return json.loads(text, parse_constant=_refuse_constant)


def _chunks(lines: Iterable[bytes] | IO[bytes]) -> Iterator[tuple[list[bytes], bool, int]]:
    """Lines without their newline, up to a megabyte at a time; whether that megabyte holds a run
    of 19 digits (an integer that may not fit 64 bits): one regex search per megabyte, not per
    line; and the newline's length (0 for a last line without one). `read1` returns what is
    there, so a pipe is not held up until a megabyte arrives."""
    read = getattr(lines, "read1", None) or getattr(lines, "read", None)
    if read is None:  # an iterable of lines
        for raw in lines:
            text = raw.removesuffix(b"\n")
            yield [text], _has_long_digits(raw), len(raw) - len(text)
        return
    rest = b""
    while True:
        block = read(1 << 20)
        if not block:
            if rest:
                yield [rest], _has_long_digits(rest), 0
            return
        if rest:
            block = rest + block
        cut = block.rfind(b"\n") + 1
        if not cut:  # a line longer than the block so far
            rest = block
            continue
        rest = block[cut:]
        body = block[: cut - 1]
        yield body.split(b"\n"), _has_long_digits(body), 1


def read_jsonl(
    lines: Iterable[bytes] | IO[bytes],
    source: str,
    on_bad: OnBad,
    position: Position | None = None,
    *,
    line: int = 0,
    offset: int = 0,
) -> Iterator[dict[str, Any]]:
    """Records of JSON Lines; `line`/`offset`: where `lines` start in the file (a resumed run)."""
    loads = orjson.loads
    long_digits = _LONG_DIGITS.search
    position = position or Position(line, offset)
    end = offset
    for chunk, has_long, newline in _chunks(lines):
        for raw in chunk:
            line += 1
            end += len(raw) + newline
            text = raw.strip()
            if not text:
                continue
            try:
                record = _loads_wide(text) if has_long and long_digits(text) else loads(text)
            except ValueError as exc:  # orjson.JSONDecodeError, json.JSONDecodeError, UnicodeDecodeError
                position.line, position.offset = line, end
                on_bad(BadRow(f"invalid JSON: {exc}", source, line, raw.rstrip(b"\r")))
                continue
            position.line, position.offset = line, end
            if record.__class__ is not dict:
                on_bad(BadRow(f"not a JSON object but {type(record).__name__}", source, line, raw.rstrip(b"\r")))
                continue
            yield record
    position.offset = end  # trailing blank lines are consumed too


def _open_binary(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
    return count


class FileSource(Source):
    def __init__(self, path: Path, kind: str, name: str, infer_rows: int) -> None:
        super().__init__()
        self.path = path
        self.kind = kind
        self.name = name
        self.infer_rows = infer_rows
        self.start = Position()  # where a pass starts: the top, or where an exactly-once run stopped

    def resume(self, line: int, offset: int, columns: list[tuple[str, str]] | None = None) -> None:
        """Start after `line` (byte `offset`); a CSV's header and types are `columns` then."""
        self.start = Position(line, offset)
        self.start.columns = columns
        self.position = Position(line, offset)
        self.position.columns = columns

    def records(self, on_bad: OnBad) -> Iterator[dict[str, Any]]:
        try:
            fh = _open_binary(self.path)
        except OSError as exc:
            raise SourceError(f"cannot read {self.name}: {exc.strerror or exc}") from exc
        start = self.start
        line, offset = start.line or 0, start.offset
        with fh:
            if offset:
                fh.seek(offset)  # gzip seeks by reading up to it: slow but right
            if self.kind == "csv":
                yield from read_csv(
                    fh,
                    self.name,
                    on_bad,
                    self.infer_rows,
                    self.position,
                    columns=start.columns,
                    line=line,
                    offset=offset,
                )
            else:
                yield from read_jsonl(fh, self.name, on_bad, self.position, line=line, offset=offset)

    def size(self) -> int | None:
        if self.path.suffix == ".gz":
            return None
        lines = _count_lines(self.path)
        return max(lines - 1, 0) if self.kind == "csv" else lines


class StdinSource(Source):
    """`--source -`: JSON Lines on standard input, read once."""

    name = "stdin"
    reiterable = False

    def __init__(self, stream: IO[bytes] | None = None) -> None:
        super().__init__()
        self.stream = stream

    def records(self, on_bad: OnBad) -> Iterator[dict[str, Any]]:
        yield from read_jsonl(self.stream or sys.stdin.buffer, self.name, on_bad, self.position)


class ParquetSource(Source):
    def __init__(self, path: Path, name: str, batch_rows: int = 10_000) -> None:
        super().__init__()
        self.path = path
        self.name = name
        self.batch_rows = batch_rows
        self.start_row = 0  # rows already sent (an exactly-once run resuming)

    def resume(self, rows: int) -> None:
        self.start_row = rows
        self.position = Position(rows or None, rows)

    def _file(self) -> Any:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(self.path)
        except (OSError, pa.ArrowException) as exc:
            raise SourceError(f"cannot read Parquet file {self.name}: {exc}") from exc

    def records(self, on_bad: OnBad) -> Iterator[dict[str, Any]]:
        import pyarrow as pa

        position = self.position
        pf = self._file()
        row = self.start_row
        group, skip = locate_row(pf.metadata, row)
        if group >= pf.metadata.num_row_groups:
            return
        batches = pf.iter_batches(batch_size=self.batch_rows, row_groups=range(group, pf.metadata.num_row_groups))
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (OSError, pa.ArrowException) as exc:  # a corrupt row group: the rows in it cannot be read
                raise SourceError(f"cannot read Parquet file {self.name} after row {row}: {exc}") from exc
            if skip:  # resuming inside a row group
                cut = min(skip, batch.num_rows)
                batch, skip = batch.slice(cut), skip - cut
            for record in batch.to_pylist():
                row += 1
                position.line = position.offset = row
                yield record

    def size(self) -> int | None:
        return int(self._file().metadata.num_rows)


def locate_row(metadata: Any, row: int) -> tuple[int, int]:
    """(row group, row within it) of the `row`-th row (0-based) of a Parquet file; past the end:
    (number of row groups, 0)."""
    for group in range(metadata.num_row_groups):
        rows = metadata.row_group(group).num_rows
        if row < rows:
            return group, row
        row -= rows
    return metadata.num_row_groups, 0


class SyntheticSource(Source):
    endless = True

    def __init__(self, kind: str, seed: int | None) -> None:
        super().__init__()
        self.name = f"synthetic:{kind}"
        self.seed = seed

    def records(self, on_bad: OnBad) -> Iterator[dict[str, Any]]:
        return synthetic_ticks(self.seed)


class IterableSource(Source):
    """Records a notebook passes in: a list, a generator, or a pandas DataFrame."""

    def __init__(self, items: Iterable[Any], name: str = "records") -> None:
        super().__init__()
        if hasattr(items, "to_dict") and hasattr(items, "columns"):  # a DataFrame: its rows, not its column names
            items = items.to_dict(orient="records")
        self.items = items
        self.name = name
        self.reiterable = iter(items) is not items

    def records(self, on_bad: OnBad) -> Iterator[dict[str, Any]]:
        position = self.position
        for index, item in enumerate(self.items, 1):
            if isinstance(item, dict):
                position.line = index
                yield item
            else:
                on_bad(
                    BadRow(
                        f"not a record (dict) but {type(item).__name__}", self.name, index, repr(item)[:10_000].encode()
                    )
                )

    def size(self) -> int | None:
        return len(self.items) if isinstance(self.items, Sized) else None


def sample_path(name: str) -> Path:
    """Path of a dataset shipped inside the package (`sample:stocks`)."""
    ref = resources.files("eventlake.produce").joinpath("data", SAMPLES[name])
    return Path(str(ref))


def open_source(
    source: str | Path | Iterable[dict[str, Any]],
    *,
    seed: int | None = None,
    infer_rows: int = 1000,
    stdin: IO[bytes] | None = None,
) -> Source:
    """The source a `--source` value (or a notebook's iterable) names.

    `path.csv`, `path.jsonl`/`.ndjson`/`.json` (JSON Lines), `path.parquet`, gzip'd text
    files (`.csv.gz`), `-` (JSON Lines on stdin), `sample:stocks`, `synthetic:ticks`.
    """
    if isinstance(source, Source):
        return source
    if not isinstance(source, (str, Path)):
        return IterableSource(source)
    spec = str(source)
    if spec == "-":
        return StdinSource(stdin)
    scheme, sep, rest = spec.partition(":")
    if sep and scheme == "sample":
        if rest not in SAMPLES:
            raise SourceError(f"no sample named {rest!r}", hint=f"samples: {', '.join('sample:' + s for s in SAMPLES)}")
        return FileSource(sample_path(rest), "csv", spec, infer_rows)
    if sep and scheme == "synthetic":
        if rest not in SYNTHETIC:
            raise SourceError(f"no synthetic stream named {rest!r}", hint="use synthetic:ticks")
        return SyntheticSource(rest, seed)
    path = Path(spec)
    if not path.exists():
        raise SourceError(f"source not found: {spec}", hint=f"--source takes {SUPPORTED}")
    if path.is_dir():
        raise SourceError(f"source is a folder: {spec}", hint=f"--source takes {SUPPORTED}")
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-2] if suffixes[-1:] == [".gz"] and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if last in CSV_SUFFIXES:
        return FileSource(path, "csv", spec, infer_rows)
    if last in JSONL_SUFFIXES:
        return FileSource(path, "jsonl", spec, infer_rows)
    if last in PARQUET_SUFFIXES and suffixes[-1] != ".gz":
        return ParquetSource(path, spec)
    raise SourceError(f"cannot tell the format of {spec} from its name", hint=f"--source takes {SUPPORTED}")
