"""Settings of the producer stage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProduceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    acks: str = "all"
    idempotent: bool = True
    compression: str = "lz4"  # lz4 | zstd | gzip | snappy | none
    linger_ms: int = 20
    batch_bytes: int = 1_000_000
