"""The query stage: read-only SQL (DuckDB, in-process) over the catalog's tables.

    from eventlake.query import connect
    engine = connect(settings)
    engine.sql("SELECT count(*) FROM stock_ticks")   # pyarrow.Table
    engine.df("SELECT * FROM eventlake.files")        # pandas.DataFrame

Names are loaded lazily: `eventlake.config` imports `eventlake.query.settings`, and the
engine imports the config, so an eager import here would be circular.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlake.query.engine import QueryEngine, connect
    from eventlake.query.exceptions import BadSql, QueryError, QueryTimeout, RefusedStatement, UnknownTable
    from eventlake.query.results import QueryResult, TableSummary

_WHERE = {
    "QueryEngine": "engine",
    "QueryResult": "results",
    "TableSummary": "results",
    "connect": "engine",
    "BadSql": "exceptions",
    "QueryError": "exceptions",
    "QueryTimeout": "exceptions",
    "RefusedStatement": "exceptions",
    "UnknownTable": "exceptions",
}

__all__ = [
    "BadSql",
    "QueryEngine",
    "QueryError",
    "QueryResult",
    "QueryTimeout",
    "RefusedStatement",
    "TableSummary",
    "UnknownTable",
    "connect",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'eventlake.query' has no attribute {name!r}")
    return getattr(importlib.import_module(f"eventlake.query.{module}"), name)
