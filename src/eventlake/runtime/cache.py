"""Where eventlake keeps what it downloads once (Kafka's and S3Proxy's jars)."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/eventlake`, else `~/.cache/eventlake`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "eventlake"
