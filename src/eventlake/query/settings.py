"""Settings of the SQL engines: guard rails first."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class QuerySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    engine: str = "duckdb"  # duckdb | athena
    time_limit_s: float = 30.0
    max_rows: int = 100_000
    threads: int | None = None
    memory_limit: str = "2GB"
