"""Reading a topic for a person or a script: `eventlake consume`.

Partitions are assigned directly (no group rebalancing), so a run reads exactly the
partitions it was asked for. A group, when named, only keeps the offsets: committed
synchronously before each message is handed out (at-most-once: a crash loses what was in
flight, never repeats it) or after the caller has handled it (at-least-once: a crash repeats
what was in flight, never loses it). Exactly-once is what `eventlake sink` gives: it writes
the offsets with the data, in one commit. Transactions are read committed, as the sink reads.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import orjson
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from eventlake.broker.acls import check_name
from eventlake.broker.admin import PartitionInfo, TopicAdmin
from eventlake.broker.clients import ErrorLog, client_config, raise_for_auth, unreachable
from eventlake.broker.credentials import shown
from eventlake.broker.exceptions import TopicNotFound
from eventlake.config.broker import KafkaClientSettings
from eventlake.errors import UsageError

log = logging.getLogger(__name__)


class Semantics(StrEnum):
    at_most_once = "at-most-once"
    at_least_once = "at-least-once"


# ---- where to start


@dataclass(frozen=True)
class Start:
    """earliest, latest, an offset (every chosen partition) or a time (offsets_for_times)."""

    kind: str  # "earliest" | "latest" | "offset" | "time" | "committed"
    offset: int = 0
    time_ms: int = 0


_OFFSET = re.compile(r"[0-9]{1,19}")
_ISO = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]{2,15}(Z|[+-][0-9]{2}:?[0-9]{2})?)?")


def parse_start(text: str) -> Start:
    """`--from`: earliest, latest, OFFSET (a whole number) or an ISO time (no zone means UTC)."""
    if text in ("earliest", "latest"):
        return Start(text)
    if _OFFSET.fullmatch(text) and int(text) < 2**63:
        return Start("offset", offset=int(text))
    if _ISO.fullmatch(text):
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            when = None
        if when is not None:
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            return Start("time", time_ms=max(0, int(when.timestamp() * 1000)))
    raise UsageError(
        f"--from {shown(text)} is not earliest, latest, an offset or an ISO time",
        hint="e.g. --from earliest, --from 42, --from 2026-11-26T16:00:00Z",
    )


# ---- what a message shows

# Control and format characters (C0, DEL, C1, bidi overrides, zero-width) would act on a terminal.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def escaped(text: str) -> str:
    """`text` with every character that could act on a terminal written as an escape."""
    return _UNSAFE.sub(lambda m: ascii(m.group())[1:-1], text)


def _json_safe(text: str) -> str:
    # orjson escapes C0 only; DEL, C1 and the bidi/zero-width characters become \\uXXXX too.
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _text(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _shown_bytes(data: bytes | None, *, parse_json: bool) -> tuple[Any, str | None]:
    """(value, encoding): JSON value ("json"), text ("text"), base64 ("base64") or (None, None)."""
    if data is None:
        return None, None
    text = _text(data)
    if text is None:
        return base64.b64encode(data).decode(), "base64"
    if parse_json:
        try:
            return orjson.loads(data), "json"
        except orjson.JSONDecodeError:
            pass
    return text, "text"


_TIMESTAMP_TYPES = {TIMESTAMP_CREATE_TIME: "create_time", TIMESTAMP_LOG_APPEND_TIME: "log_append_time"}


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    timestamp_type: str | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]

    @classmethod
    def of(cls, msg: Message) -> Record:
        ts_type, ts = msg.timestamp()
        return cls(
            topic=msg.topic() or "",
            partition=msg.partition() or 0,
            offset=msg.offset() or 0,
            timestamp_ms=ts if ts_type in _TIMESTAMP_TYPES else None,
            timestamp_type=_TIMESTAMP_TYPES.get(ts_type),
            key=msg.key(),
            value=msg.value(),
            headers=[_header(h) for h in (msg.headers() or [])],
        )

    @property
    def time(self) -> str | None:
        if self.timestamp_ms is None:
            return None
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"

    def as_dict(self) -> dict[str, Any]:
        key, key_encoding = _shown_bytes(self.key, parse_json=False)
        value, value_encoding = _shown_bytes(self.value, parse_json=True)
        headers = []
        for name, data in self.headers:
            shown_value, encoding = _shown_bytes(data, parse_json=False)
            headers.append({"key": name, "value": shown_value, "encoding": encoding})
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "timestamp": self.time,
            "timestamp_type": self.timestamp_type,
            "key": key,
            "key_encoding": key_encoding,
            "value": value,
            "value_encoding": value_encoding,
            "headers": headers,
        }

    def json_line(self) -> str:
        return _json_safe(orjson.dumps(self.as_dict()).decode())

    def table_line(self, key_width: int = 16, value_width: int = 60) -> str:
        headers = ",".join(f"{n}={_cell(v)}" for n, v in self.headers)
        return (
            f"{self.partition:>4} {self.offset:>10}  {self.time or '-':<24}  "
            f"{_clip(_cell(self.key), key_width):<{key_width}}  {_clip(_cell(self.value), value_width)}"
            + (f"  [{_clip(escaped(headers), 40)}]" if headers else "")
        )

    def raw_bytes(self, terminal: bool) -> bytes:
        data = self.value or b""
        if not terminal:
            return data + b"\n"  # exactly the bytes, for a pipe or a file
        return (escaped(data.decode("utf-8", "backslashreplace")) + "\n").encode()


def _header(header: Any) -> tuple[str, bytes | None]:
    name, value = header
    return str(name), value.encode() if isinstance(value, str) else value


TABLE_HEADER = f"{'part':>4} {'offset':>10}  {'timestamp (UTC)':<24}  {'key':<16}  value  [headers]"


def _cell(data: bytes | None) -> str:
    if data is None:
        return "-"
    text = _text(data)
    return escaped(text) if text is not None else "base64:" + base64.b64encode(data).decode()


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- the reader


@dataclass(frozen=True)
class ConsumeRequest:
    topic: str
    group: str | None = None
    start: Start | None = None  # None: the group's committed offsets, else earliest
    partitions: tuple[int, ...] = ()  # () = all
    limit: int | None = None
    until_end: bool = False
    semantics: Semantics | None = None

    def checked(self) -> ConsumeRequest:
        check_name("topic", self.topic)
        if self.group is not None:
            check_name("group", self.group)
        if self.semantics is not None and self.group is None:
            raise UsageError(
                "--semantics needs --group (offsets are committed to a group)",
                hint="add --group NAME, or drop --semantics for a read that commits nothing",
            )
        if self.limit is not None and self.limit < 1:
            raise UsageError("--limit must be at least 1")
        if len(set(self.partitions)) != len(self.partitions) or any(p < 0 for p in self.partitions):
            raise UsageError("--partition values must be distinct and not negative")
        return self


_POLL_S = 0.5


class TopicReader:
    """Messages of one topic, with the offsets committed as `semantics` says."""

    def __init__(self, bootstrap_servers: str, kafka: KafkaClientSettings | None, request: ConsumeRequest) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.kafka = kafka or KafkaClientSettings()
        self.request = request.checked()
        self.semantics = request.semantics or (Semantics.at_least_once if request.group else None)
        self._errors = ErrorLog()
        self._consumer: Consumer | None = None

    def _refused(self, exc: object, doing: str) -> None:
        raise_for_auth(exc, self.bootstrap_servers, self.kafka, doing=doing)

    def _open(self) -> tuple[Consumer, dict[int, int]]:
        """The consumer, assigned, and each partition's end offset as it was at start."""
        req = self.request
        admin = TopicAdmin(self.bootstrap_servers, self.kafka, timeout_s=self.kafka.connect_timeout_s)
        info = admin.describe(req.topic)  # TopicNotFound, unreachable, auth: one-line errors
        known = {p.partition: p for p in info.partitions}
        missing = [p for p in req.partitions if p not in known]
        if missing:
            raise UsageError(
                f"topic {req.topic} has no partition {missing[0]}",
                hint=f"it has partitions 0 to {len(known) - 1}",
            )
        chosen = sorted(req.partitions) if req.partitions else sorted(known)
        conf = client_config(self.bootstrap_servers, self.kafka)
        conf.update(
            {
                # No group: a throwaway id that commits nothing (a read leaves no trace).
                "group.id": req.group or f"eventlake-consume-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "error_cb": self._errors,
            }
        )
        consumer = Consumer(conf)
        start = req.start or (Start("committed") if req.group else Start("earliest"))
        if start.kind == "time":
            tps = self._offsets_for_times(consumer, [TopicPartition(req.topic, p, start.time_ms) for p in chosen])
        elif start.kind == "committed":
            tps = self._committed(consumer, [TopicPartition(req.topic, p) for p in chosen])
        else:
            tps = [TopicPartition(req.topic, p, self._start_offset(start, known[p])) for p in chosen]
        consumer.assign(tps)
        return consumer, {p: known[p].log_end_offset for p in chosen}

    def _start_offset(self, start: Start, part: PartitionInfo) -> int:
        if start.kind == "earliest":
            return OFFSET_BEGINNING
        if start.kind == "latest":
            return OFFSET_END
        if start.kind == "offset" and not part.log_start_offset <= start.offset <= part.log_end_offset:
            raise UsageError(
                f"--from {start.offset} is outside partition {part.partition} "
                f"(offsets {part.log_start_offset} to {part.log_end_offset})",
                hint="choose an offset in that range, or --partition N for one partition",
            )
        return start.offset

    def _committed(self, consumer: Consumer, tps: list[TopicPartition]) -> list[TopicPartition]:
        """The group's offsets (earliest where it has none), asked for here: librdkafka gives up
        on an assignment's stored offsets when the group's coordinator is still loading."""
        deadline = time.monotonic() + self.kafka.connect_timeout_s
        while True:
            try:
                found = consumer.committed(tps, timeout=max(1.0, deadline - time.monotonic()))
                return [
                    TopicPartition(t.topic, t.partition, t.offset if t.offset >= 0 else OFFSET_BEGINNING) for t in found
                ]
            except KafkaException as exc:
                self._refused(exc, f"read the offsets of group {self.request.group}")
                if time.monotonic() >= deadline:
                    raise unreachable(
                        self.bootstrap_servers, f"could not read the group's offsets: {exc.args[0]}"
                    ) from exc
                time.sleep(0.2)

    def _offsets_for_times(self, consumer: Consumer, tps: list[TopicPartition]) -> list[TopicPartition]:
        try:
            found = consumer.offsets_for_times(tps, timeout=self.kafka.connect_timeout_s)
        except KafkaException as exc:
            self._refused(exc, f"read the offsets of topic {self.request.topic}")
            raise unreachable(self.bootstrap_servers, exc.args[0] if exc.args else None) from exc
        # -1: nothing at or after that time; start at the end.
        return [TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_END) for tp in found]

    def _commit(self, consumer: Consumer, msg: Message) -> None:
        tp = TopicPartition(msg.topic() or "", msg.partition() or 0, (msg.offset() or 0) + 1)
        try:
            consumer.commit(offsets=[tp], asynchronous=False)
        except KafkaException as exc:
            self._refused(exc, f"commit offsets for group {self.request.group}")
            raise unreachable(self.bootstrap_servers, f"could not commit offsets: {exc.args[0]}") from exc

    def records(self) -> Iterator[Record]:
        """Each message, in order per partition; offsets committed as the semantics say.

        At-least-once commits when the caller asks for the next message, so the caller must
        have finished handling (printing) the previous one by then.
        """
        consumer, ends = self._open()
        self._consumer = consumer
        pending = set(ends)
        seen = 0
        try:
            while True:
                if self.request.until_end and not pending:
                    return
                msg = consumer.poll(_POLL_S)
                if msg is None:
                    self._check_errors()
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if (msg.offset() or 0) >= ends.get(msg.partition() or 0, 0):
                            pending.discard(msg.partition() or 0)
                        continue
                    self._on_error(err)
                    continue
                if (msg.offset() or 0) + 1 >= ends.get(msg.partition() or 0, 0):
                    pending.discard(msg.partition() or 0)
                if self.semantics is Semantics.at_most_once:
                    self._commit(consumer, msg)
                yield Record.of(msg)
                if self.semantics is Semantics.at_least_once:
                    self._commit(consumer, msg)
                seen += 1
                if self.request.limit is not None and seen >= self.request.limit:
                    return
        finally:
            with contextlib.suppress(Exception):
                consumer.close()

    def _on_error(self, err: KafkaError) -> None:
        """Auth refusals, a deleted topic and fatal errors end the read; the client retries the rest
        (a coordinator still loading, a leader moving), so those are only logged."""
        self._refused(err, f"read topic {self.request.topic}")
        if err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
            raise TopicNotFound(f"topic {self.request.topic} does not exist (any more)")
        if err.fatal():
            raise unreachable(self.bootstrap_servers, err.str())
        log.warning("Kafka: %s (retrying)", escaped(err.str() or err.name()))

    def _check_errors(self) -> None:
        failure = self._errors.auth_failure(self.bootstrap_servers, self.kafka)
        if failure is not None:
            raise failure
