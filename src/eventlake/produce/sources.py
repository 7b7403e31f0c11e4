"""Where events come from: files (CSV, JSON Lines, Parquet), stdin, the packaged sample, synthetic ticks,
or any iterable of dicts a notebook hands in.

A source yields records (dicts). Rows it cannot turn into records are handed to an
`on_bad` callback in their place in the stream, never dropped; the producer
dead-letters them (or stops, with --strict).
"""

from __future__ import annotations

import gzip
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
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


def read_jsonl(
    lines: Iterable[bytes], source: str, on_bad: OnBad, position: Position | None = None,
) -> Iterator[dict[str, Any]]:
    loads = orjson.loads
    position = position or Position()
    for line, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text:
            continue
        try:
            record = loads(text)
        except orjson.JSONDecodeError as exc:
            on_bad(BadRow(f"invalid JSON: {exc}", source, line, raw.rstrip(b"\r\n")))
            continue
        if record.__class__ is not dict:
            on_bad(BadRow(f"not a JSON object but {type(record).__name__}", source, line, raw.rstrip(b"\r\n")))
            continue
        position.line = line
        yield record


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

    def records(self, on_bad: OnBad) -> Iterator[dict[str, Any]]:
        try:
            fh = _open_binary(self.path)
        except OSError as exc:
            raise SourceError(f"cannot read {self.name}: {exc.strerror or exc}") from exc
        with fh:
            if self.kind == "csv":
                yield from read_csv(fh, self.name, on_bad, self.infer_rows, self.position)
            else:
                yield from read_jsonl(fh, self.name, on_bad, self.position)

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
        row = 0
        batches = self._file().iter_batches(batch_size=self.batch_rows)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except (OSError, pa.ArrowException) as exc:  # a corrupt row group: the rows in it cannot be read
                raise SourceError(f"cannot read Parquet file {self.name} after row {row}: {exc}") from exc
            for record in batch.to_pylist():
                row += 1
                position.line = row
                yield record

    def size(self) -> int | None:
        return int(self._file().metadata.num_rows)


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
                on_bad(BadRow(f"not a record (dict) but {type(item).__name__}", self.name, index,
                              repr(item)[:10_000].encode()))

    def size(self) -> int | None:
        return len(self.items) if hasattr(self.items, "__len__") else None  # type: ignore[arg-type]


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


