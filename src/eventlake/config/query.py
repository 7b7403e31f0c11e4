"""Settings of the SQL engines (guard rails first) and of the crawler that feeds them tables."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from eventlake.config.fields import Count, Seconds, SecondsOrZero

# The defaults live in query_path (no pydantic there), so a plain query reads the same ones.
from eventlake.config.query_path import QUERY_DEFAULTS

Engine = Literal["duckdb", "athena"]
SchemaChange = Literal["update", "log"]
OnDelete = Literal["deprecate", "delete", "log"]


class CrawlerSettings(BaseModel):
    """How `eventlake crawl` turns folders into tables, with Glue's names for the policies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_change: SchemaChange = Field(
        "update", description="A changed schema: update the table (new schema version), or log it and keep the table."
    )
    on_delete: OnDelete = Field(
        "deprecate",
        description="A table whose files are all gone: deprecate it (parameter deprecated=true), delete it, or log.",
    )
    sample_rows: Count = Field(1000, description="Records per JSON or CSV file that its schema is read from.")
    new_folders_only: bool = Field(
        False, description="Crawl only files and folders the previous crawl did not see (also --new-folders-only)."
    )
    include: list[str] = Field(
        default_factory=list, description="Globs relative to the lake that a crawl reads; empty: everything."
    )
    exclude: list[str] = Field(default_factory=list, description="Globs relative to the lake that a crawl skips.")


class QuerySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: Engine = Field(
        QUERY_DEFAULTS.engine,
        description="Engine of `eventlake query`: DuckDB in-process, or Athena over Glue tables (--engine).",
    )
    time_limit_s: Seconds = Field(
        QUERY_DEFAULTS.time_limit_s,
        description="Parsing, checking and running one statement must end within this long (seconds).",
    )
    max_rows: int = Field(
        QUERY_DEFAULTS.max_rows, ge=0, description="Most rows a query returns (--max-rows; 0: no limit)."
    )
    # A huge text costs parse time and memory before any guard runs.
    max_sql_bytes: int = Field(
        QUERY_DEFAULTS.max_sql_bytes,
        ge=1024,
        description="SQL longer than this is refused before it is parsed (bytes).",
    )
    max_result_bytes: int = Field(
        QUERY_DEFAULTS.max_result_bytes,
        ge=1024,
        description="A result whose Arrow data grows past this is refused (bytes).",
    )
    threads: int | None = Field(
        QUERY_DEFAULTS.threads, ge=1, le=1024, description="DuckDB's worker threads; unset: one per core."
    )
    memory_limit: str = Field(
        QUERY_DEFAULTS.memory_limit,
        pattern=r"^(?i)\d+(\.\d+)? ?([KMGT]i?B|B|%)$",
        description="DuckDB's memory limit: a size such as 512MB, 2GB or 4GiB, or a share of RAM such as 50%.",
    )
    refresh_s: SecondsOrZero = Field(
        QUERY_DEFAULTS.refresh_s,
        description="A long-lived engine (dashboard) re-reads the catalog at most this often (seconds).",
    )
    lag_timeout_s: Seconds = Field(
        QUERY_DEFAULTS.lag_timeout_s,
        description="Kafka look-ups for eventlake.watermarks give up after this long; lag is then null (seconds).",
    )
    crawler: CrawlerSettings = Field(
        default_factory=CrawlerSettings, description="How `eventlake crawl` reads folders."
    )
