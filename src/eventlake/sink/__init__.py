"""The sink stage: Kafka topics into the lake as partitioned Parquet, exactly once.

`run_sink(settings, topics)` runs a consumer-group member until stopped (or idle);
`sink_health(store, watermarks)` is the read-model behind `eventlake status`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlake.sink.health import PartitionHealth, TopicHealth, sink_health
    from eventlake.sink.ledger import sweep_orphans
    from eventlake.sink.runner import SinkReport, run_sink
    from eventlake.sink.settings import SinkSettings

# Loaded on first use: `eventlake.config` imports this package's settings module, and every
# command would otherwise pay for this stage's libraries (Kafka client, Arrow) at start-up.
_WHERE = {
    "PartitionHealth": "health",
    "TopicHealth": "health",
    "sink_health": "health",
    "sweep_orphans": "ledger",
    "SinkReport": "runner",
    "run_sink": "runner",
    "SinkSettings": "settings",
}

__all__ = ["PartitionHealth", "SinkReport", "SinkSettings", "TopicHealth", "run_sink", "sink_health", "sweep_orphans"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'eventlake.sink' has no attribute {name!r}")
    return getattr(importlib.import_module(f"eventlake.sink.{module}"), name)
