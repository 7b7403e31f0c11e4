"""The seed tutorial's consumer: kafka-python, one JSON file per message, named by a counter.

As in the tutorial, which writes stock_market_{count}.json to S3 with s3fs, one PUT per
message. OUT is either a local folder (json.dump to a local file per message) or
s3://bucket/prefix (exactly the tutorial's s3fs code; the endpoint comes from
BENCH_S3_ENDPOINT, the keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). It reads from
the earliest offset (the tutorial reads new messages only) and stops after N messages.
Usage: python tutorial_consumer.py BOOTSTRAP TOPIC N OUT
Prints one JSON line: {"consumed", "seconds" (first message to last), "files"}.
"""

import json
import os
import sys
import time
from json import loads

from kafka import KafkaConsumer


def local_writer(out_dir):
    os.makedirs(out_dir, exist_ok=True)

    def write(count, value):
        with open(os.path.join(out_dir, "stock_market_{}.json".format(count)), "w") as file:
            json.dump(value, file)

    return write, lambda: len(os.listdir(out_dir))


def s3_writer(prefix):
    from s3fs import S3FileSystem

    s3 = S3FileSystem(client_kwargs={"endpoint_url": os.environ["BENCH_S3_ENDPOINT"]})

    def write(count, value):
        with s3.open("{}/stock_market_{}.json".format(prefix, count), "w") as file:
            json.dump(value, file)

    def files():
        s3.invalidate_cache()
        return len(s3.ls(prefix))

    return write, files


def main():
    bootstrap, topic, count, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    write, files = s3_writer(out) if out.startswith("s3://") else local_writer(out)
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
        write(index, message.value)
        consumed += 1
        if consumed >= count:
            break
    seconds = time.perf_counter() - (first or time.perf_counter())
    consumer.close()
    print(json.dumps({"consumed": consumed, "seconds": seconds, "files": files()}))


if __name__ == "__main__":
    main()
