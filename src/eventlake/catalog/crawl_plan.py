"""From files to tables, by Glue's rules.

Each top-level folder of the lake is a table when everything under it is compatible: one
format (and CSV dialect), similar columns (each file has at least half of the table's
columns, with types that merge), and the same partition folder structure at every depth.
Otherwise the folder is split: each subfolder is planned on its own (named
`<folder>_<subfolder>`), and files directly in the folder become their own table.
Folders below a table root are partitions: `key=value` names give named keys typed by their
values (bigint, date, else string); any other name gives `partition_0`, `partition_1`, ... by
depth, typed string as in Glue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from eventlake.catalog.crawl_inspect import FileSchema
from eventlake.catalog.crawl_types import NULL, finish, merge, partition_value_type
from eventlake.catalog.model import Column
from eventlake.types import table_name_for_topic

SIMILARITY = 0.5


@dataclass(frozen=True)
class FoundFile:
    rel: str  # path relative to the lake root, `/`-separated
    size: int
    mtime: float
    schema: FileSchema

    @property
    def segments(self) -> list[str]:
        return self.rel.split("/")


@dataclass
class PlannedTable:
    name: str
    folder: list[str]  # path segments of the table root below the lake root
    layout: FileSchema  # format, compression and CSV dialect shared by every file
    columns: list[Column]
    partition_keys: list[Column]
    files: list[tuple[FoundFile, dict[str, str]]] = field(default_factory=list)
    union_by_name: bool = False

    @property
    def rel_location(self) -> str:
        return "/".join(self.folder)


def plan_tables(files: Sequence[FoundFile]) -> tuple[list[PlannedTable], list[tuple[str, str]]]:
    """Tables for `files`, and (file, reason) for files no table can hold."""
    tables: list[PlannedTable] = []
    skipped: list[tuple[str, str]] = []
    by_top: dict[str, list[FoundFile]] = defaultdict(list)
    for f in sorted(files, key=lambda f: f.rel):
        if len(f.segments) == 1:
            skipped.append((f.rel, "at the lake root: put files in a folder, one folder per table"))
        else:
            by_top[f.segments[0]].append(f)
    for top, group in by_top.items():
        tables += _plan_folder([top], group)
    seen: dict[str, int] = {}
    for table in tables:  # `my-data` and `my_data` both sanitize to my_data: keep both, numbered
        count = seen.get(table.name, 0) + 1
        seen[table.name] = count
        if count > 1:
            table.name = f"{table.name}_{count}"
    return tables, skipped


def _plan_folder(prefix: list[str], files: list[FoundFile]) -> list[PlannedTable]:
    table = _as_table(prefix, files)
    if table is not None:
        return [table]
    out: list[PlannedTable] = []
    direct = [f for f in files if len(f.segments) == len(prefix) + 1]
    below: dict[str, list[FoundFile]] = defaultdict(list)
    for f in files:
        if len(f.segments) > len(prefix) + 1:
            below[f.segments[len(prefix)]].append(f)
    if direct:
        single = _as_table(prefix, direct)
        if single is not None:
            out.append(single)
        else:  # incompatible files side by side: a table each, named after the file
            for f in direct:
                stem = f.segments[-1].split(".")[0]
                named = _as_table([*prefix, stem], [f], depth_offset=-1)
                if named is not None:
                    out.append(named)
    for sub, group in below.items():
        out += _plan_folder([*prefix, sub], group)
    return out


def _as_table(prefix: list[str], files: list[FoundFile], depth_offset: int = 0) -> PlannedTable | None:
    """One table for `files` below `prefix`, or None when they are not compatible."""
    root_depth = len(prefix) + depth_offset
    depths = {len(f.segments) - root_depth - 1 for f in files}
    if len(depths) != 1:
        return None
    depth = depths.pop()
    keys = _partition_keys([f.segments[root_depth:-1] for f in files], depth)
    if keys is None:
        return None
    layouts = {f.schema.layout() for f in files}
    if len(layouts) != 1:
        return None
    columns = _merge_columns(files)
    if columns is None:
        return None
    key_names = {k.name for k in keys}
    columns = [c for c in columns if c.name not in key_names]  # the folder value wins, as in Hive
    name_lists = {tuple(c.name for c in f.schema.columns) for f in files}
    table = PlannedTable(
        name=table_name_for_topic("_".join(prefix)),
        folder=prefix[:root_depth] if depth_offset else prefix,
        layout=files[0].schema,
        columns=columns,
        partition_keys=keys,
        union_by_name=len(name_lists) > 1,
    )
    if files[0].schema.format == "csv" and len(name_lists) > 1:
        return None  # CSV columns are positional: every file must have the same header
    for f in files:
        segs = f.segments[root_depth:-1]
        table.files.append((f, {k.name: _value(seg) for k, seg in zip(keys, segs, strict=True)}))
    return table


def _value(segment: str) -> str:
    return segment.split("=", 1)[1] if "=" in segment else segment


def _partition_keys(folders: list[list[str]], depth: int) -> list[Column] | None:
    keys: list[Column] = []
    for level in range(depth):
        segs = [f[level] for f in folders]
        named = {s.split("=", 1)[0] for s in segs if "=" in s}
        if named and (len(named) != 1 or not all("=" in s for s in segs)):
            return None  # mixed layouts at one depth: not one table
        if not named:  # unnamed folders (2024/01/02) keep their text, as Glue does ("01" stays "01")
            keys.append(Column(f"partition_{level}", "string"))
            continue
        typ = NULL
        for s in segs:
            typ = merge(typ, partition_value_type(_value(s)))
        keys.append(Column(named.pop(), finish(typ)))
    return keys


def _merge_columns(files: list[FoundFile]) -> list[Column] | None:
    types: dict[str, str] = {}
    for f in files:
        for c in f.schema.columns:
            types[c.name] = merge(types[c.name], c.type) if c.name in types else c.type
    if not types:
        return None
    for f in files:
        if len({c.name for c in f.schema.columns}) < SIMILARITY * len(types):
            return None
    return [Column(n, t) for n, t in types.items()]
