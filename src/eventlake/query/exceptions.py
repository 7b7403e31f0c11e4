"""Errors of the query stage: each one line that says what to do."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class QueryError(EventlakeError):
    """A query that could not run."""


class BadSql(QueryError):
    """SQL that DuckDB cannot parse or bind (syntax, unknown column, wrong types)."""


class UnknownTable(QueryError):
    """A table or view the catalog does not have."""


class RefusedStatement(QueryError):
    """A statement or function the read-only guard rails do not allow."""


class QueryTimeout(QueryError):
    """A query that ran longer than `query.time_limit_s`."""

    retriable = True


class ResultTooLarge(QueryError):
    """A result over `query.max_result_bytes`."""
