"""kafka-python's KafkaProducer sending N ticks, as the seed's notebook does (json.dumps per event).

Usage: python kafka_python_produce.py BOOTSTRAP TOPIC N
Prints one JSON line: {"sent", "delivered", "seconds", "compression"}.
"""

import json
import sys
import time

from kafka import KafkaProducer

from ticks import ticks


def main():
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        import lz4.frame  # noqa: F401  (kafka-python needs it for lz4)
        compression = "lz4"
    except ImportError:
        compression = None
    producer = KafkaProducer(
        bootstrap_servers=[bootstrap],
        acks="all",
        compression_type=compression,
        linger_ms=20,
        value_serializer=lambda x: json.dumps(x).encode("utf-8"),
    )
    delivered = 0
    failed = 0

    def ok(_):
        nonlocal delivered
        delivered += 1

    def bad(_):
        nonlocal failed
        failed += 1

    source = ticks(seed=7)
    start = time.perf_counter()
    for _ in range(count):
        producer.send(topic, value=next(source)).add_callback(ok).add_errback(bad)
    producer.flush()
    seconds = time.perf_counter() - start
    producer.close()
    print(json.dumps({"sent": count, "delivered": delivered, "failed": failed,
                      "seconds": seconds, "compression": compression or "none"}))


if __name__ == "__main__":
    main()
