"""A confluent-kafka client run on the "other machine" (inside the test namespace) by test_remote_kafka.py.

Reads one JSON task from stdin, prints one JSON result:
  {"action": "produce", "conf": {...}, "topic": T, "values": [...], "timeout_s": S}
      -> {"delivered": [[partition, offset], ...], "errors": ["...", ...]}
  {"action": "consume", "conf": {...}, "topic": T, "count": N, "timeout_s": S}
      -> {"messages": [[partition, offset, value], ...], "errors": ["...", ...]}
Errors are every error the client reported (error callback, delivery reports, consume errors), as
"NAME: text", then librdkafka's log lines, so a test can say which failure it expected.
Passwords travel on stdin, never argv.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer

# Errors no retry can cure: the client stops at the first one instead of waiting out its timeout.
FINAL = ("AUTHENTICATION", "AUTHORIZATION", "_SSL", "_ALL_BROKERS_DOWN")


class Logs(logging.Handler):
    """librdkafka's own log lines (a connection closed by the broker is only logged, not raised)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


LOGS = Logs()
LOGGER = logging.getLogger("librdkafka")
LOGGER.addHandler(LOGS)
LOGGER.setLevel(logging.DEBUG)
LOGGER.propagate = False


def _text(err: KafkaError) -> str:
    return f"{err.name()}: {err.str()}"


def _final(errors: list[str]) -> bool:
    return any(f in e.split(":", 1)[0] for e in errors for f in FINAL)


def _callbacks(errors: list[str]) -> dict[str, Any]:
    return {"error_cb": lambda e: errors.append(_text(e)), "logger": LOGGER}


def produce(task: dict[str, Any]) -> dict[str, Any]:
    errors: list[str] = []
    delivered: list[list[int]] = []

    def report(err: KafkaError | None, msg: Any) -> None:
        if err is not None:
            errors.append(_text(err))
        else:
            delivered.append([msg.partition(), msg.offset()])

    timeout_ms = int(task["timeout_s"] * 1000)
    producer = Producer({**task["conf"], **_callbacks(errors), "message.timeout.ms": timeout_ms})
    for value in task["values"]:
        while True:
            try:
                producer.produce(task["topic"], value=value.encode(), on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
    deadline = time.monotonic() + task["timeout_s"] + 10
    while len(producer) and time.monotonic() < deadline and not _final(errors):
        producer.poll(0.1)
    producer.purge()  # what a refused client still holds is dropped, never sent later
    producer.flush(5)
    return {"delivered": delivered, "errors": errors + LOGS.lines}


def consume(task: dict[str, Any]) -> dict[str, Any]:
    errors: list[str] = []
    consumer = Consumer({**task["conf"], **_callbacks(errors), "auto.offset.reset": "earliest"})
    consumer.subscribe([task["topic"]])
    messages: list[list[Any]] = []
    deadline = time.monotonic() + task["timeout_s"]
    try:
        while len(messages) < task["count"] and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                err = msg.error()
                if err is not None:
                    errors.append(_text(err))
                else:
                    messages.append([msg.partition(), msg.offset(), (msg.value() or b"").decode()])
            # An authorization failure is final: waiting out the deadline would only slow the test.
            if not messages and _final(errors):
                break
    finally:
        consumer.close()
    return {"messages": messages, "errors": errors + LOGS.lines}


def main() -> None:
    task = json.load(sys.stdin)
    result = {"produce": produce, "consume": consume}[task["action"]](task)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
