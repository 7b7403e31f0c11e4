"""What the query engine hands back: rows with their timing, and tables as SQL sees them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eventlake.catalog.model import DataFile, Table


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    elapsed_s: float
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        """The dashboard's POST /api/query answer."""
        return {
            "columns": self.columns,
            "rows": [list(r) for r in self.rows],
            "elapsed_s": self.elapsed_s,
            "truncated": self.truncated,
        }


@dataclass(frozen=True)
class TableSummary:
    database: str
    name: str
    format: str
    source: str
    columns: list[tuple[str, str]]
    partition_keys: list[tuple[str, str]]
    files: int
    rows: int
    bytes: int
    schema_version: int
    location: str
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def qualified_name(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def deprecated(self) -> bool:
        """The crawler found its files gone (query.crawler.on_delete = deprecate)."""
        return self.parameters.get("deprecated") == "true"

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "qualified_name": self.qualified_name}


def summarize(
    tables: Iterable[Table], files: Iterable[DataFile], relative: Callable[[str], str] = str
) -> list[TableSummary]:
    """Each table with the count, rows and bytes of its files: the one computation behind
    `eventlake tables`, `engine.tables()`, `eventlake.tables` and the dashboard's table list.
    `relative` turns lake locations into what SQL users see (lake-relative names)."""
    totals: dict[tuple[str, str], list[int]] = {}
    for f in files:
        if f.table is not None:
            total = totals.setdefault((f.table.database, f.table.name), [0, 0, 0])
            total[0] += 1
            total[1] += f.rows
            total[2] += f.bytes
    out = []
    for t in tables:
        count, rows, size = totals.get((t.database, t.name), (0, 0, 0))
        out.append(
            TableSummary(
                database=t.database,
                name=t.name,
                format=t.format,
                source=t.source,
                columns=[(c.name, c.type) for c in t.columns],
                partition_keys=[(c.name, c.type) for c in t.partition_keys],
                files=count,
                rows=rows,
                bytes=size,
                schema_version=t.schema_version,
                location=relative(t.location),
                parameters=dict(t.parameters),
            )
        )
    return out
