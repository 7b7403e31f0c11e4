"""What the crawler makes of single files: format, header, delimiter, types, and why it leaves one out."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from eventlake.catalog.crawl_inspect import FileSchema, Unreadable, inspect_file
from eventlake.catalog.crawl_types import merge, text_type

FS = pafs.LocalFileSystem()


def _inspect(path: Path, sample_rows: int = 1000) -> FileSchema:
    return inspect_file(FS, str(path), sample_rows)


def _cols(schema: FileSchema) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in schema.columns]


def test_csv_with_header_types_every_column(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('id,price,ok,at,name\n1,2.5,true,2024-01-02 03:04:05,"Smith, J"\n2,,FALSE,2024-01-02T03:04:06Z,x\n')
    schema = _inspect(path)
    assert schema.format == "csv" and schema.header and schema.rows == 2
    assert _cols(schema) == [
        ("id", "bigint"),
        ("price", "double"),
        ("ok", "boolean"),
        ("at", "timestamp"),
        ("name", "string"),
    ]


def test_csv_header_detection_with_string_columns_only(tmp_path: Path) -> None:
    with_header = tmp_path / "h.csv"
    with_header.write_text("city,country\nParis,France\nRome,Italy\n")
    without = tmp_path / "n.csv"
    without.write_text("Paris,France\nRome,Italy\nParis,Italy\n")
    assert _inspect(with_header).header is True
    plain = _inspect(without)
    assert plain.header is False and plain.rows == 3
    assert _cols(plain) == [("col0", "string"), ("col1", "string")]


def test_late_values_widen_types_beyond_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    lines = ["n\tv"] + [f"{i}\t{i}" for i in range(50)] + ["x\t1.5"]
    path.write_text("\n".join(lines) + "\n")
    schema = _inspect(path, sample_rows=10)
    assert schema.delimiter == "\t" and schema.rows == 51
    assert _cols(schema) == [("n", "string"), ("v", "double")]


def test_json_lines_gzip_and_nested(tmp_path: Path) -> None:
    path = tmp_path / "e.json.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"a": 1, "b": {"c": "x"}, "t": "2024-01-02T00:00:00"}\n\n{"a": 2.5, "d": [1, 2], "b": null}\n')
    schema = _inspect(path)
    assert (schema.format, schema.compression, schema.rows) == ("jsonl", "gzip", 2)
    assert _cols(schema) == [("a", "double"), ("b", "struct<c:string>"), ("t", "timestamp"), ("d", "array<bigint>")]


def test_parquet_footer(tmp_path: Path) -> None:
    path = tmp_path / "p.data"  # recognised by its magic bytes, not its name
    pq.write_table(pa.table({"x": pa.array([1, 2], pa.int32()), "s": ["a", None]}), path)
    schema = _inspect(path)
    assert (schema.format, schema.rows) == ("parquet", 2)
    assert _cols(schema) == [("x", "int"), ("s", "string")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("broken.parquet", b"PAR1 but nothing else", "Parquet"),
        ("fake.parquet", b"hello", "no PAR1"),
        ("ragged.csv", b"a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields, expected 3"),
        ("bad.json", b'{"a": 1}\n{"a": \n', "line 2 is not valid JSON"),
        ("list.json", b"[1, 2, 3]\n", "JSON array"),
        ("scalar.json", b'{"a": 1}\n42\n', "line 2 is not a JSON object"),
        ("empty.csv", b"\n\n", "empty file"),
        ("latin1.csv", "a,b\nné,1\n".encode("latin-1"), "not UTF-8"),
        ("notes.txt", b"just some words\nand more words\n", "not Parquet, JSON Lines or CSV"),
    ],
)
def test_unreadable_files_say_why(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Unreadable) as info:
        _inspect(path)
    assert reason in info.value.reason


def test_type_merging() -> None:
    assert [text_type(v) for v in ("12", "-3.5e2", "True", "2024-01-02 10:00", "2024-01-02", "", "x")] == [
        "bigint",
        "double",
        "boolean",
        "timestamp",
        "string",
        "null",
        "string",
    ]
    assert merge("bigint", "double") == "double"
    assert merge("int", "bigint") == "bigint"
    assert merge("null", "boolean") == "boolean"
    assert merge("boolean", "bigint") == "string"
    assert merge("struct<a:bigint>", "struct<b:string>") == "struct<a:bigint,b:string>"
