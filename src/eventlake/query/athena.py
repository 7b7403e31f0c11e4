"""Amazon Athena as a query engine: the same SQL against the Glue-published tables.

Used when `query.engine = "athena"` (or `eventlake query --engine athena`) with a
lake on S3 whose tables were published to Glue (`eventlake glue publish`). The same
guard rails apply: SELECT only, a time limit (the query is cancelled), a row limit.
boto3 is imported here only.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from eventlake.config.aws import AwsSettings
from eventlake.config.query import QuerySettings
from eventlake.query.exceptions import BadSql, QueryError, QueryTimeout, RefusedStatement
from eventlake.query.results import QueryResult

_READ_ONLY_PREFIXES = ("select", "with", "show", "describe", "explain", "values")


def _convert(value: str | None, athena_type: str) -> Any:
    """Athena returns every value as text; give callers the types DuckDB would."""
    if value is None:
        return None
    t = athena_type.lower()
    if t in ("bigint", "integer", "int", "smallint", "tinyint"):
        return int(value)
    if t in ("double", "float", "real"):
        return float(value)
    if t == "boolean":
        return value.lower() == "true"
    if t.startswith("decimal"):
        return Decimal(value)
    if t == "date":
        return date.fromisoformat(value)
    if t.startswith("timestamp"):
        return datetime.fromisoformat(value.replace(" UTC", "").replace(" ", "T"))
    return value


def parse_results(pages: list[dict[str, Any]], header_row: bool = True) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Columns and typed rows from GetQueryResults pages (pure: unit-tested)."""
    if not pages:
        return [], []
    info = pages[0]["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    columns = [c["Name"] for c in info]
    types = [c.get("Type", "varchar") for c in info]
    rows: list[tuple[Any, ...]] = []
    for i, page in enumerate(pages):
        data = page["ResultSet"]["Rows"]
        if i == 0 and header_row and data:
            data = data[1:]  # a SELECT's first row repeats the column names
        for row in data:
            cells = [d.get("VarCharValue") for d in row["Data"]]
            rows.append(tuple(_convert(v, t) for v, t in zip(cells, types, strict=False)))
    return columns, rows


class AthenaEngine:
    """Run SQL on Athena and wait for it, within the query guard rails."""

    def __init__(self, aws: AwsSettings, query: QuerySettings, database: str = "default") -> None:
        import boto3

        if not aws.athena_output:
            raise QueryError(
                "Athena needs a place for results", hint="set aws.athena_output = 's3://bucket/athena-results/'"
            )
        self.aws, self.query, self.database = aws, query, aws.glue_database or database
        self._athena = boto3.client("athena", **aws.client_kwargs())

    def execute(self, sql: str) -> QueryResult:
        from botocore.exceptions import BotoCoreError, ClientError

        size = len(sql.encode("utf-8", "surrogatepass"))
        if size > self.query.max_sql_bytes:
            raise BadSql(
                f"SQL of {size:,} bytes is over the limit of {self.query.max_sql_bytes:,} bytes",
                hint="shorten it, or raise query.max_sql_bytes",
            )
        # Athena itself runs one statement per request, and its workgroup's IAM rights are the
        # second lock (see README: give the workgroup's role read access to the lake only).
        if not sql.strip().lower().startswith(_READ_ONLY_PREFIXES):
            raise RefusedStatement("only SELECT queries are allowed", hint="the lake is read-only through SQL")
        started = time.monotonic()
        try:
            qid = self._athena.start_query_execution(
                QueryString=sql,
                QueryExecutionContext={"Database": self.database},
                ResultConfiguration={"OutputLocation": self.aws.athena_output},
                WorkGroup=self.aws.athena_workgroup,
            )["QueryExecutionId"]
            self._wait(qid, started)
            pages = self._pages(qid)
        except ClientError as exc:
            message = exc.response.get("Error", {}).get("Message", str(exc))
            raise BadSql(f"Athena refused the query: {message}", hint="check the SQL and table names") from exc
        except BotoCoreError as exc:
            raise QueryError(f"Athena is unreachable: {exc}", hint="check aws.region and aws.endpoint_url") from exc
        columns, rows = parse_results(pages)
        truncated = len(rows) > self.query.max_rows
        return QueryResult(columns, rows[: self.query.max_rows], time.monotonic() - started, truncated)

    def _wait(self, qid: str, started: float) -> None:
        while True:
            status = self._athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                return
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason", state.lower())
                raise BadSql(f"Athena query {state.lower()}: {reason}", hint="check the SQL and table names")
            if time.monotonic() - started > self.query.time_limit_s:
                self._athena.stop_query_execution(QueryExecutionId=qid)
                raise QueryTimeout(
                    f"query cancelled after {self.query.time_limit_s:g}s",
                    hint="narrow it with a partition predicate or raise query.time_limit_s",
                )
            time.sleep(self.aws.athena_poll_s)

    def _pages(self, qid: str) -> list[dict[str, Any]]:
        pages: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"QueryExecutionId": qid, "MaxResults": 1000}
        fetched = 0
        while True:
            page = self._athena.get_query_results(**kwargs)
            pages.append(page)
            fetched += len(page["ResultSet"]["Rows"])
            if not page.get("NextToken") or fetched > self.query.max_rows:
                return pages
            kwargs["NextToken"] = page["NextToken"]
