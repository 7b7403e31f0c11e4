"""Query values as JSON the browser can chart: times as ISO 8601 UTC, no NaN."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any


def cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        # The lake keeps UTC; a naive timestamp is UTC.
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): cell(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [cell(v) for v in value]
    return str(value)


def column_kinds(rows: list[list[Any]], width: int) -> list[str]:
    """Per column: 'time', 'number' or 'string', from the first non-null value."""
    kinds = ["string"] * width
    for i in range(width):
        for row in rows:
            value = row[i]
            if value is None:
                continue
            if isinstance(value, (datetime, date)):
                kinds[i] = "time"
            elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                kinds[i] = "number"
            break
    return kinds
