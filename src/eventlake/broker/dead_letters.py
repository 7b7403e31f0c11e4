"""Dead letters: the one format of every message in a `<topic>.dlq`, whoever writes it.

Both writers (produce: rows that could not become events; sink: records that could not land)
build their messages here: the original bytes as the value (and key), and why and where in
headers named `eventlake.*` (the README's "Dead letters" table). A namespace of our own, as
Kafka Connect's `__connect.errors.*`, so our headers never mix with the ones a record
brought along. The names before this format (`reason`, `source`, `line`, `topic`;
`source.topic`, `source.partition`, `source.offset`) are still read by `read_headers`, so
letters written by older versions stay readable.

A dead letter must always be deliverable, or the sink would stop on the same record at every
start: `shape` cuts a value or key too large for the topic's limit (saying the original size)
and a reason to 1,000 bytes (a 100 KB field name must not make its own letter too large).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Stage = Literal["produce", "sink"]

ERROR = "eventlake.error"
STAGE = "eventlake.stage"
TOPIC = "eventlake.topic"
PARTITION = "eventlake.partition"
OFFSET = "eventlake.offset"
INPUT = "eventlake.input"
LINE = "eventlake.line"
TRUNCATED_FROM = "eventlake.truncated_from"
KEY_TRUNCATED_FROM = "eventlake.key_truncated_from"

# Names written before the `eventlake.*` format, and what they mean now. `source` alone was
# produce's input; `source.*` were the sink's Kafka coordinates.
_OLD_NAMES = {
    "reason": ERROR,
    "topic": TOPIC,
    "source": INPUT,
    "line": LINE,
    "source.topic": TOPIC,
    "source.partition": PARTITION,
    "source.offset": OFFSET,
    "truncated_from": TRUNCATED_FROM,
    "key_truncated_from": KEY_TRUNCATED_FROM,
}

DEFAULT_LIMIT = 1_000_000  # librdkafka's default message.max.bytes, below any broker's
MAX_REASON_BYTES = 1000
MAX_KEY_BYTES = 16 * 1024  # a longer key is cut: the value is what a person needs to see
_OVERHEAD = 512  # record batch and record framing, generously


@dataclass(frozen=True)
class DeadLetter:
    """A record that could not go where it was meant to, and where it came from.

    `topic` is the topic it was meant for (produce) or read from (sink): its letter goes to
    `<topic>.dlq`. The sink knows `partition` and `offset`; produce knows `input` (a file,
    `stdin`, `sample:stocks`) and `line` (1-based, when known)."""

    stage: Stage
    topic: str
    reason: str
    value: bytes | None
    key: bytes | None = None
    partition: int | None = None
    offset: int | None = None
    input: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Letter:
    """What goes to Kafka for one dead letter: value, key and headers within a size limit."""

    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]


def shape(letter: DeadLetter, limit: int = DEFAULT_LIMIT, cap: int | None = None) -> Letter:
    """The Kafka message for `letter`, at most `limit` bytes in all (value at most `cap` if given)."""
    reason = letter.reason.encode()
    if len(reason) > MAX_REASON_BYTES:
        reason = reason[: MAX_REASON_BYTES - 3].decode("utf-8", "ignore").encode() + b"..."
    headers = [(ERROR, reason), (STAGE, letter.stage.encode()), (TOPIC, letter.topic.encode())]
    for name, field in ((PARTITION, letter.partition), (OFFSET, letter.offset), (LINE, letter.line)):
        if field is not None:
            headers.append((name, str(field).encode()))
    if letter.input is not None:
        headers.append((INPUT, letter.input.encode()))
    key = letter.key
    if key is not None and len(key) > MAX_KEY_BYTES:
        headers.append((KEY_TRUNCATED_FROM, str(len(key)).encode()))
        key = key[:MAX_KEY_BYTES]
    value = letter.value
    room = limit - _OVERHEAD - len(key or b"") - sum(len(k) + len(v) + 8 for k, v in headers) - 40
    room = max(0, room if cap is None else min(room, cap))
    if value is not None and len(value) > room:
        headers.append((TRUNCATED_FROM, str(len(value)).encode()))
        value = value[:room]
    return Letter(value, key, headers)


@dataclass(frozen=True)
class DeadLetterHeaders:
    """What a dead letter's headers say, in either format (None: not said, or not readable)."""

    reason: str | None = None
    stage: Stage | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    input: str | None = None
    line: int | None = None
    truncated_from: int | None = None
    key_truncated_from: int | None = None


def read_headers(
    headers: Iterable[tuple[str, bytes | str | None]] | Mapping[str, bytes | str | None] | None,
) -> DeadLetterHeaders:
    """Read a DLQ message's headers (confluent-kafka's list of pairs, or a dict), both the
    `eventlake.*` names and the older ones. Headers come from whoever could write to the topic:
    anything unreadable is None, never an error."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
    found: dict[str, str] = {}
    old: set[str] = set()
    for name, raw in pairs:
        if raw is None:
            continue
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        if name.startswith("eventlake."):
            found[name] = text  # the new name wins over an old one
        elif name in _OLD_NAMES:
            old.add(name)
            found.setdefault(_OLD_NAMES[name], text)
    stage = _STAGES.get(found.get(STAGE, ""))
    if stage is None:  # older letters say it by their header names
        stage = "sink" if "source.topic" in old else "produce" if "source" in old else None
    return DeadLetterHeaders(
        reason=found.get(ERROR),
        stage=stage,
        topic=found.get(TOPIC),
        partition=_int(found.get(PARTITION)),
        offset=_int(found.get(OFFSET)),
        input=found.get(INPUT),
        line=_int(found.get(LINE)),
        truncated_from=_int(found.get(TRUNCATED_FROM)),
        key_truncated_from=_int(found.get(KEY_TRUNCATED_FROM)),
    )


_STAGES: dict[str, Stage] = {"produce": "produce", "sink": "sink"}
_INT = re.compile(r"-?[0-9]{1,19}")


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and _INT.fullmatch(text) else None
