"""Settings of lake maintenance: automatic compaction of closed table-hours and retention.

A section of its own (`[maintenance]`): the top-level `lake` setting is the lake's URI (a CLI
contract), so the issue's `lake.target_file_mb` and `lake.retention` live here.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_AGE = re.compile(r"([1-9][0-9]{0,5})([hdw])")
_UNIT_S = {"h": 3600, "d": 86400, "w": 7 * 86400}


def retention_seconds(text: str) -> float | None:
    """`30d` -> seconds; `off` -> None. Validated when settings load, so this never raises there."""
    if text == "off":
        return None
    m = _AGE.fullmatch(text)
    if m is None:
        raise ValueError(f"bad retention {text[:40]!r}: write off, or a number with h, d or w (e.g. 30d)")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


class MaintenanceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(
        default=True,
        description="Run maintenance (compaction, retention, sweeps) in the background of every sink.",
    )
    target_file_mb: int = Field(
        default=128, ge=1, le=4096, description="Size compaction merges a closed table-hour's files towards (MB)."
    )
    small_file_fraction: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description="A file below this share of target_file_mb, in a partition holding several files, counts "
        "as small in status and the Pipeline page.",
    )
    closed_after_minutes: float = Field(
        default=10.0,
        ge=0,
        description="An hour is compacted once it ended this many minutes ago; late events that land after "
        "that are merged by a later pass.",
    )
    # A live query reads every file of the open hour (~0.7-1 ms each in the engine), so their count
    # sets freshness late in the hour: sink files are merged once 5-10 s old, and pieces in tiers
    # (bench/results/2026-11-27-freshness-steady.md).
    open_hour_seconds: float = Field(
        default=5.0,
        ge=0,
        allow_inf_nan=False,  # inf would pass gt=0 and overflow the pass loop's wait
        description="In an hour not closed yet, sink files written more than this many seconds ago are merged "
        "into one piece, at least this many seconds of them at a time; 0 waits for the hour to close.",
    )
    open_hour_fanout: int = Field(
        default=8,
        ge=2,
        le=64,
        description="In an hour not closed yet, this many pieces of one tier are merged into one piece of the "
        "next: about this many files per tier, and each row rewritten about log_fanout(pieces) times.",
    )
    interval_s: float = Field(
        default=5.0,
        gt=0,
        allow_inf_nan=False,  # inf would pass gt=0 and overflow the pass loop's wait
        description="Seconds between maintenance passes.",
    )
    iceberg_interval_s: float = Field(
        default=20.0,
        gt=0,
        allow_inf_nan=False,  # inf would pass gt=0 and overflow the pass loop's wait
        description="Seconds between the Iceberg tables' share of the passes (each loads the tables' metadata "
        "and may commit).",
    )
    grace_s: float = Field(
        default=30.0,
        ge=0,
        description="Seconds a compacted or expired file stays on storage after it left the catalog, for "
        "queries planned just before.",
    )
    lease_s: float = Field(
        default=600.0,
        gt=0,
        description="How long a compactor holds a table-hour; a killed one's hours are free again after this.",
    )
    retention: str = Field(
        default="off",
        description="Drop whole partitions whose hour ended longer ago than this (e.g. 30d, 12h, 4w), "
        "for every table without its own entry in table_retention; off keeps everything.",
    )
    table_retention: dict[str, str] = Field(
        default_factory=dict,
        description='Retention per table, e.g. {"default.stock_ticks" = "30d"}; overrides retention.',
    )
    glue: Literal["off", "sync"] = Field(
        default="off",
        description="sync: partitions that retention drops are deleted from AWS Glue too (settings [aws]).",
    )

    iceberg_snapshot_retention: str = Field(
        default="1h",
        description="Iceberg tables: expire snapshots older than this (e.g. 12h, 3d; off keeps all) and delete "
        "the files only they referenced; time travel reaches back this far. Every sink flush is a snapshot of "
        "about 1 KB in every later metadata file, so keep it short with short flush_seconds.",
    )
    iceberg_keep_snapshots: int = Field(
        default=100, ge=1, le=100000, description="Iceberg tables: the newest snapshots kept whatever their age."
    )
    iceberg_max_snapshots: int = Field(
        default=500,
        ge=0,
        le=1_000_000,
        description="Iceberg tables: past this many snapshots the oldest expire even within "
        "iceberg_snapshot_retention (0: no cap). Each kept snapshot makes every commit slower "
        "(its metadata file lists them all), so this bounds a busy sink's commit cost.",
    )
    iceberg_orphan_age: str = Field(
        default="1d",
        description="Iceberg tables: a file under the table's folder that no metadata names is deleted once "
        "older than this (younger ones may belong to a commit in flight; e.g. 12h, 3d; off keeps them); "
        "superseded metadata files after at most 1h.",
    )

    @field_validator("retention", "iceberg_snapshot_retention", "iceberg_orphan_age")
    @classmethod
    def _retention(cls, value: str) -> str:
        retention_seconds(value)
        return value

    @field_validator("table_retention")
    @classmethod
    def _table_retention(cls, value: dict[str, str]) -> dict[str, str]:
        for table, text in value.items():
            if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?", table):
                raise ValueError(f"bad table name {table[:40]!r} in table_retention: use TABLE or DATABASE.TABLE")
            retention_seconds(text)
        return value

    def retention_for(self, table: str, database: str = "default") -> float | None:
        """Seconds of retention for `database.table` (None: keep everything)."""
        text = self.table_retention.get(f"{database}.{table}") or self.table_retention.get(table) or self.retention
        return retention_seconds(text)

    @property
    def target_bytes(self) -> int:
        return self.target_file_mb * 1024 * 1024

    @property
    def small_bytes(self) -> int:
        return int(self.target_bytes * self.small_file_fraction)
