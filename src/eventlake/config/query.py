"""Settings of the SQL engines (guard rails first) and of the crawler that feeds them tables."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CrawlerSettings(BaseModel):
    """How `eventlake crawl` turns folders into tables, with Glue's names for the policies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # A changed schema: `update` the table (new schema version), or `log` the change and keep the table.
    schema_change: Literal["update", "log"] = "update"
    # A table whose files are all gone: `deprecate` (parameter deprecated=true), `delete` it, or `log` only.
    on_delete: Literal["deprecate", "delete", "log"] = "deprecate"
    # JSON and CSV schemas come from this many records per file.
    sample_rows: int = Field(default=1000, ge=1)
    # Only files and folders not seen by the previous crawl (also `--new-folders-only`).
    new_folders_only: bool = False
    include: list[str] = Field(default_factory=list)  # globs relative to the lake; empty = everything
    exclude: list[str] = Field(default_factory=list)


class QuerySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str = "duckdb"  # duckdb | athena
    # Parsing, checking and running one statement together must end within this many seconds.
    time_limit_s: float = 30.0
    max_rows: int = 100_000
    # SQL longer than this is refused before it is parsed (a huge text costs parse time and memory).
    max_sql_bytes: int = Field(default=262_144, ge=1024)
    # A result whose Arrow data grows past this is refused (rows are capped by max_rows as well).
    max_result_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    threads: int | None = None
    memory_limit: str = "2GB"
    # A long-lived engine (dashboard) re-reads the catalog at most this often so new files show up.
    refresh_s: float = 1.0
    # Kafka watermark look-ups for `eventlake.watermarks` give up after this long (lag is then null).
    lag_timeout_s: float = 1.0
    crawler: CrawlerSettings = CrawlerSettings()
