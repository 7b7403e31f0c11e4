"""The seed tutorial's consumer: kafka-python, one JSON file per message, named by a counter.

As in the tutorial (which writes stock_market_{count}.json to S3 with s3fs), but into a
local folder, reading from the earliest offset, and stopping after N messages.
Usage: python tutorial_consumer.py BOOTSTRAP TOPIC N OUT_DIR
Prints one JSON line: {"consumed", "seconds" (first message to last), "files"}.
"""

import json
import os
import sys
import time
from json import loads

from kafka import KafkaConsumer


def main():
    bootstrap, topic, count, out_dir = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    os.makedirs(out_dir, exist_ok=True)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=[bootstrap],
        auto_offset_reset="earliest",
        group_id=f"tutorial-{os.getpid()}",
        value_deserializer=lambda x: loads(x.decode("utf-8")),
    )
    first = None
    consumed = 0
    for index, message in enumerate(consumer):
        if first is None:
            first = time.perf_counter()
        with open(os.path.join(out_dir, f"stock_market_{index}.json"), "w") as file:
            json.dump(message.value, file)
        consumed += 1
        if consumed >= count:
            break
    seconds = time.perf_counter() - (first or time.perf_counter())
    consumer.close()
    print(json.dumps({"consumed": consumed, "seconds": seconds, "files": len(os.listdir(out_dir))}))


if __name__ == "__main__":
    main()
