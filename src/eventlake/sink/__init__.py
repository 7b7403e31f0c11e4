"""The sink stage: Kafka topics into the lake as partitioned Parquet, exactly once.

`run_sink(settings, topics)` runs a consumer-group member until stopped (or idle);
`sink_health(store, watermarks)` is the read-model behind `eventlake status`.
"""

from eventlake.sink.health import PartitionHealth, TopicHealth, sink_health
from eventlake.sink.ledger import sweep_orphans
from eventlake.sink.report import SinkReport
from eventlake.sink.runner import run_sink

__all__ = [
    "PartitionHealth",
    "SinkReport",
    "TopicHealth",
    "run_sink",
    "sink_health",
    "sweep_orphans",
]
