"""The produce stage: sources (files, stdin, a real sample, synthetic ticks), pacing, and the Kafka producer.

from eventlake.produce import produce, ProduceOptions, open_source
report = produce(settings, "stock-ticks", "synthetic:ticks", ProduceOptions(limit=10_000, key="symbol"))
"""

from eventlake.produce.producer import ProduceOptions, produce
from eventlake.produce.report import BadRow, ProduceReport
from eventlake.produce.sources import Source, open_source
from eventlake.produce.synthetic import synthetic_ticks

__all__ = [
    "BadRow",
    "ProduceOptions",
    "ProduceReport",
    "Source",
    "open_source",
    "produce",
    "synthetic_ticks",
]
