"""The lake stage: object stores (a local folder, S3) behind one small interface."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlake.lake.exceptions import LakeError, UnsupportedLake
    from eventlake.lake.settings import S3Settings
    from eventlake.lake.store import Lake, LakeObject, open_lake

# Loaded on first use: `eventlake.config` imports this package's settings module, and every
# command would otherwise pay for this stage's libraries (Kafka client, Arrow) at start-up.
_WHERE = {
    "LakeError": "exceptions",
    "UnsupportedLake": "exceptions",
    "S3Settings": "settings",
    "Lake": "store",
    "LakeObject": "store",
    "open_lake": "store",
}

__all__ = ["Lake", "LakeError", "LakeObject", "S3Settings", "UnsupportedLake", "open_lake"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'eventlake.lake' has no attribute {name!r}")
    return getattr(importlib.import_module(f"eventlake.lake.{module}"), name)
