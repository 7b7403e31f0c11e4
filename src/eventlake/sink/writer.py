"""One Arrow table -> the bytes of one file: Parquet (zstd by default) or JSON Lines."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

EXTENSIONS = {"parquet": "parquet", "jsonl": "jsonl"}


def encode(table: pa.Table, fmt: str, compression: str = "zstd") -> pa.Buffer:
    if fmt == "parquet":
        out = pa.BufferOutputStream()
        # One row group per file at our sizes; statistics let engines skip files by value.
        # Dictionary encoding only where it pays (strings: symbols, codes, keys): on numbers and
        # timestamps it is tried and abandoned, which cost a third of the write, for larger files.
        strings = [f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        pq.write_table(
            table,
            out,
            compression=compression,
            row_group_size=1 << 20,
            use_dictionary=strings,
            coerce_timestamps="ms",
            allow_truncated_timestamps=True,
        )
        return out.getvalue()
    if fmt == "jsonl":
        return pa.py_buffer(_jsonl(table))
    raise ValueError(f"unknown format {fmt!r}")


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        # Byte for byte, in the text form readers cast to binary (DuckDB's BLOB literal): \xHH
        # for every byte that is not printable ASCII, and for the backslash itself.
        return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02X}" for b in value)
    if isinstance(value, _dt.date):
        return value.isoformat()
    raise TypeError


def _jsonl(table: pa.Table) -> bytes:
    # JSON Lines is the interchange format, not the fast path: row by row through orjson.
    opts = orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE
    return b"".join(orjson.dumps(row, default=_default, option=opts) for row in table.to_pylist())
