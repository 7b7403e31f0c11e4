"""The query stage: read-only SQL (DuckDB, in-process) over the catalog's tables.

from eventlake.query import connect
engine = connect(settings)
engine.sql("SELECT count(*) FROM stock_ticks")   # pyarrow.Table
engine.df("SELECT * FROM eventlake.files")        # pandas.DataFrame
"""

from eventlake.query.engine import QueryEngine, connect
from eventlake.query.exceptions import BadSql, QueryError, QueryTimeout, RefusedStatement, UnknownTable
from eventlake.query.results import QueryResult, TableSummary

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
