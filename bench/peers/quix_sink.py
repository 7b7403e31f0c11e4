"""Quix Streams' local FileSink writing Parquet, reading a topic from the beginning until N rows.

Usage: python quix_sink.py BOOTSTRAP TOPIC N OUT_DIR GROUP
Prints one JSON line: {"processed", "seconds" (run() start to stop), "rows", "files"}.
"""

import json
import logging
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from quixstreams import Application
from quixstreams.sinks.community.file.formats import ParquetFormat
from quixstreams.sinks.community.file.local import LocalFileSink


def main():
    bootstrap, topic_name, count, out_dir, group = sys.argv[1:6]
    count = int(count)
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        auto_create_topics=False,
        loglevel=logging.WARNING,
    )
    topic = app.topic(topic_name, value_deserializer="json")
    sdf = app.dataframe(topic)
    sdf.sink(LocalFileSink(directory=out_dir, format=ParquetFormat()))
    start = time.perf_counter()
    # count: stop after N messages; the sink's last batch is flushed at the final checkpoint.
    app.run(count=count, timeout=30, collect=False)
    seconds = time.perf_counter() - start
    files = sorted(Path(out_dir).rglob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    print(json.dumps({"processed": count, "seconds": seconds, "rows": rows, "files": len(files)}))


if __name__ == "__main__":
    main()
