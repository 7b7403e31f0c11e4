"""Errors of the query stage: each one line that says what to do."""

from __future__ import annotations

from eventlake.errors import EventlakeError


class QueryError(EventlakeError):
    """A query that could not run for a reason other than its SQL (engine closed, a lake file
    unreadable, out of memory): the server's side, 500."""


class BadSql(QueryError):
    """SQL that DuckDB cannot parse or bind (syntax, unknown column, wrong types)."""

    http_status = 400


class UnknownTable(QueryError):
    """A table or view the catalog does not have."""

    http_status = 404


class RefusedStatement(QueryError):
    """A statement or function the read-only guard rails do not allow."""

    http_status = 400


class QueryTimeout(QueryError):
    """A query that ran longer than `query.time_limit_s`.

    Not retriable: the same query over the same data hits the same limit again; narrowing the
    query or raising the limit is what helps (the hint says so)."""

    http_status = 408


class ResultTooLarge(QueryError):
    """A result over `query.max_result_bytes`."""

    http_status = 413


class OutOfMemory(QueryError):
    """A query that needs more than `query.memory_limit`: too large a job, like ResultTooLarge (413),
    not a failure of the server (any SQL can ask for more memory than there is)."""

    http_status = 413
