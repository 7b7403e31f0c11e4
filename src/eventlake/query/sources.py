"""What a catalog table is to DuckDB: a view over exactly the files the catalog lists.

Local lakes read natively (read_parquet / read_json / read_csv over the explicit file
list); Hive-style paths (`dt=2024-01-02/`) become typed partition columns and filters on
them skip other partitions' files by path. Tables whose partitions are not in the path
(`2024/01/02` crawled as partition_0..2) are a UNION ALL of one scan per partition with
the values as constants, which DuckDB's optimizer prunes the same way. S3 lakes go
through a pyarrow dataset (DuckDB's httpfs cannot be installed offline).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventlake.catalog.hive_types import HiveTypeError, parse, to_duckdb
from eventlake.catalog.model import Column, DataFile, Table


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_type(hive: str) -> str:
    """Hive/Athena type string -> DuckDB type (catalog.hive_types); text DuckDB reads as VARCHAR
    when the catalog holds a type string outside the grammar."""
    try:
        return to_duckdb(parse(hive))
    except HiveTypeError:
        return "VARCHAR"


def _hive_in_path(files: Sequence[DataFile], keys: Sequence[Column]) -> bool:
    """True when every file's path holds its partition values as key=value folders."""
    for f in files:
        for key in keys:
            if f"/{key.name}={f.partition.get(key.name, '')}/" not in f.path:
                return False
    return True


def _list(paths: Sequence[str]) -> str:
    return "[" + ", ".join(quote_str(p) for p in paths) + "]"


def _struct(columns: Sequence[Column]) -> str:
    return "{" + ", ".join(f"{quote_str(c.name)}: {quote_str(duckdb_type(c.type))}" for c in columns) + "}"


def _scan(table: Table, paths: Sequence[str], hive: bool, union_by_name: bool) -> str:
    """One DuckDB table function call over `paths`."""
    opts: list[str] = []
    if hive and table.partition_keys:
        opts += ["hive_partitioning = true", f"hive_types = {_struct(table.partition_keys)}"]
    else:
        opts.append("hive_partitioning = false")
    fmt = table.format
    if table.parameters.get("compression") == "gzip" and fmt in ("jsonl", "csv"):
        opts.append("compression = 'gzip'")
    if fmt == "parquet":
        if union_by_name:
            opts.append("union_by_name = true")
        return f"read_parquet({_list(paths)}, {', '.join(opts)})"
    if fmt == "jsonl":
        opts += ["format = 'newline_delimited'", f"columns = {_struct(table.columns)}"]
        return f"read_json({_list(paths)}, {', '.join(opts)})"
    if fmt == "csv":
        params = table.parameters
        header = params.get("csv.header", "true").lower() == "true"
        opts += [
            f"header = {'true' if header else 'false'}",
            f"columns = {_struct(table.columns)}",
            f"delim = {quote_str(params.get('csv.delimiter', ','))}",
            "auto_detect = false",
        ]
        return f"read_csv({_list(paths)}, {', '.join(opts)})"
    raise ValueError(f"unknown table format {fmt!r}")


def _select_list(table: Table, with_partitions: bool) -> str:
    cols = [quote_ident(c.name) for c in table.columns]
    if with_partitions:
        cols += [quote_ident(k.name) for k in table.partition_keys]
    return ", ".join(cols)


def empty_select_sql(columns: Sequence[Column]) -> str:
    """A SELECT of no rows with these columns (typed): empty views, schema files, Arrow schemas."""
    parts = [f"CAST(NULL AS {duckdb_type(c.type)}) AS {quote_ident(c.name)}" for c in columns]
    return f"SELECT {', '.join(parts) or 'NULL AS no_columns'} WHERE false"


def _empty_select(table: Table) -> str:
    return empty_select_sql([*table.columns, *table.partition_keys])


def schema_file_sql(table: Table, path: str) -> str:
    """A COPY writing an empty Parquet file with the table's columns (the bind-time layout of its view)."""
    return f"COPY ({empty_select_sql(table.columns)}) TO {quote_str(path)} (FORMAT parquet)"


def schema_file_path(folder: str, table: Table) -> str:
    """Inside `folder`: NULL (`__HIVE_DEFAULT_PARTITION__`) for every partition key, so any filter on them
    skips the file; the hive layout matches the table's, so one file serves Hive and UNION ALL scans."""
    keys = "/".join(f"{k.name}=__HIVE_DEFAULT_PARTITION__" for k in table.partition_keys)
    return f"{folder}/{keys}/schema.parquet" if keys else f"{folder}/schema.parquet"


def local_view_sql(
    table: Table, files: Sequence[DataFile], union_by_name: bool = False, schema_file: str | None = None
) -> str:
    """The SELECT behind the view of a table on a local lake.

    With `schema_file` (Parquet, empty, the catalog's columns) listed first, DuckDB binds the view
    from it instead of from a data file: a filter on partition columns then opens no file of
    another partition, and data files are cast to the catalog's types.
    """
    if not files:
        return _empty_select(table)
    keys = table.partition_keys
    first = [schema_file] if schema_file and table.format == "parquet" and not union_by_name else []
    if not keys or _hive_in_path(files, keys):
        paths = first + [f.path for f in files]
        return f"SELECT {_select_list(table, True)} FROM {_scan(table, paths, True, union_by_name)}"
    by_partition: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for f in files:
        by_partition[tuple(f.partition.get(k.name, "") for k in keys)].append(f.path)
    selects = []
    for values, paths in sorted(by_partition.items()):
        consts = ", ".join(
            f"CAST({quote_str(v)} AS {duckdb_type(k.type)}) AS {quote_ident(k.name)}"
            for k, v in zip(keys, values, strict=True)
        )
        selects.append(
            f"SELECT {_select_list(table, False)}, {consts} FROM {_scan(table, first + paths, False, union_by_name)}"
        )
    return "\nUNION ALL\n".join(selects)


@dataclass(frozen=True)
class ArrowSource:
    """A pyarrow dataset to register under `name`, and the SELECT the view runs over it."""

    name: str
    dataset: Any
    select: str


def s3_source(
    table: Table, files: Sequence[DataFile], filesystem: Any, register_as: str, data_schema: Any
) -> ArrowSource | None:
    """A pyarrow dataset over the listed S3 objects; partition values come from the catalog.

    Each file carries its partition as a typed expression, so DuckDB's filter pushdown into
    the dataset skips other partitions' objects without opening them. `data_schema` is the
    catalog's columns and partition keys as Arrow types (as DuckDB types them, so both kinds of
    lake agree): files that lack a newer column read it as nulls.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    if not files:
        return None
    formats = {"parquet": ds.ParquetFileFormat(), "jsonl": ds.JsonFileFormat(), "csv": ds.CsvFileFormat()}
    file_format = formats.get(table.format, ds.ParquetFileFormat())
    paths = [f.path.removeprefix("s3://") for f in files]
    keys = table.partition_keys
    part_fields = [data_schema.field(k.name) for k in keys]
    schema = pa.schema([f for f in data_schema if f.name not in {k.name for k in keys}] + part_fields)
    expressions = []
    for f in files:
        expr = ds.scalar(True)
        for key, fld in zip(keys, part_fields, strict=True):
            value = pa.scalar(f.partition.get(key.name, ""), pa.string()).cast(fld.type)
            expr = expr & (ds.field(key.name) == value)
        expressions.append(expr)
    dataset = ds.FileSystemDataset.from_paths(
        paths, schema=schema, format=file_format, filesystem=filesystem, partitions=expressions
    )
    return ArrowSource(register_as, dataset, f"SELECT {_select_list(table, True)} FROM {quote_ident(register_as)}")


def view_name_ok(name: str) -> bool:
    return re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name) is not None
