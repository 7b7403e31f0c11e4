"""The produce stage: sources (files, stdin, a real sample, synthetic ticks), pacing, and the Kafka producer.

from eventlake.produce import produce, ProduceOptions, open_source
report = produce(settings, "stock-ticks", "synthetic:ticks", ProduceOptions(limit=10_000, key="symbol"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlake.produce.producer import ProduceOptions, produce
    from eventlake.produce.report import BadRow, ProduceReport
    from eventlake.produce.sources import Source, open_source
    from eventlake.produce.synthetic import synthetic_ticks

# Loaded on first use: `eventlake.config` imports this package's settings module, and every
# command would otherwise pay for this stage's libraries (Kafka client, Arrow) at start-up.
_WHERE = {
    "ProduceOptions": "producer",
    "produce": "producer",
    "BadRow": "report",
    "ProduceReport": "report",
    "Source": "sources",
    "open_source": "sources",
    "synthetic_ticks": "synthetic",
}

__all__ = ["BadRow", "ProduceOptions", "ProduceReport", "Source", "open_source", "produce", "synthetic_ticks"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'eventlake.produce' has no attribute {name!r}")
    return getattr(importlib.import_module(f"eventlake.produce.{module}"), name)
