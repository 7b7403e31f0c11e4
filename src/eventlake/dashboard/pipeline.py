"""The pipeline page's figures: the sink's health read-model (the one `eventlake status` prints)."""

from __future__ import annotations

from typing import Any

from eventlake.config import Settings


def overview(settings: Settings) -> dict[str, Any]:
    return {"topics": [], "tables": []}
