"""Small value types that the stages share instead of sharing each other."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_DATABASE = "default"


@dataclass(frozen=True)
class TableRef:
    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"

    @classmethod
    def parse(cls, text: str, default_database: str = DEFAULT_DATABASE) -> TableRef:
        db, _, name = text.rpartition(".")
        return cls(db or default_database, name)


_NOT_IDENT = re.compile(r"[^0-9a-zA-Z_]")


def table_name_for_topic(topic: str) -> str:
    """`stock-ticks` -> `stock_ticks`: a name SQL engines (DuckDB, Athena) accept unquoted."""
    name = _NOT_IDENT.sub("_", topic).lower()
    return f"t_{name}" if name[:1].isdigit() else name


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"
