"""What the query engine hands back: rows with their timing, and tables as SQL sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "qualified_name": self.qualified_name}
