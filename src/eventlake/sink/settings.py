"""Settings of the lake sink stage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SinkSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    group: str = "eventlake-sink"
    format: str = "parquet"  # parquet | jsonl
    # A partition's buffer is flushed at whichever limit comes first.
    flush_rows: int = 500_000
    flush_bytes: int = 64 * 1024 * 1024
    flush_seconds: float = 1.0
    max_record_bytes: int = 1024 * 1024
    compression: str = "zstd"
