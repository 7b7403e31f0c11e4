"""The sink stage: Kafka topics into the lake as partitioned Parquet, exactly once.

`run_sink(settings, topics)` runs a consumer-group member until stopped (or idle);
`sink_health(store, watermarks)` is the read-model behind `eventlake status`.

The names load on first use (PEP 562): `sink --workers N`'s parent imports `sink.workers`, and
the runner's imports (Arrow, and pandas, which pyarrow loads on its first array) cost each process
about a second of CPU that a supervisor never needs; only the workers land events.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventlake.sink.health import PartitionHealth, TopicHealth, sink_health
    from eventlake.sink.ledger import sweep_orphans
    from eventlake.sink.report import SinkReport
    from eventlake.sink.runner import run_sink

_WHERE = {
    "PartitionHealth": "health",
    "TopicHealth": "health",
    "sink_health": "health",
    "sweep_orphans": "ledger",
    "SinkReport": "report",
    "run_sink": "runner",
}

__all__ = [
    "PartitionHealth",
    "SinkReport",
    "TopicHealth",
    "run_sink",
    "sink_health",
    "sweep_orphans",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"eventlake.sink.{module}"), name)
