"""Exactly-once replay of a file: which replay this is, where it stands, and whether it may go on.

A replay is (topic, absolute source path, optional replay id). Its Kafka transactional.id and
its key in the compacted progress topic both derive from that triple, so running the same
command again finds its progress and fences the instance before it. Each transaction commits
a batch of records together with one progress record saying how far into the file they go.

What identifies the file: its size and a SHA-256 of its first 64 KiB (mtime is recorded but not
trusted: a copy changes it without changing a byte). A text file may grow (rows appended are
sent by the next run) as long as the 4 KiB before where the last run stopped are unchanged;
a Parquet or gzip'd file must be byte-for-byte the same size with the same first and last 64 KiB.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from eventlake.produce.exceptions import ResumeRefused

HEAD_BYTES = 64 * 1024
TAIL_BYTES = 64 * 1024
MARK_BYTES = 4096
FORMAT = 1  # of the progress record


@dataclass(frozen=True)
class Replay:
    """One file replayed into one topic: the unit of exactly-once."""

    topic: str
    path: str  # absolute, symlinks resolved
    replay_id: str = ""

    @classmethod
    def of(cls, topic: str, path: Path, replay_id: str | None = None) -> Replay:
        return cls(topic, str(path.resolve()), replay_id or "")

    @property
    def transactional_id(self) -> str:
        """Stable for the same triple; short and safe whatever the path holds."""
        digest = hashlib.sha256(orjson.dumps([self.topic, self.path, self.replay_id])).hexdigest()[:32]
        return f"eventlake-produce-{digest}"

    @property
    def key(self) -> bytes:
        return self.transactional_id.encode()


@dataclass(frozen=True)
class FileIdentity:
    size: int
    mtime_ns: int
    head_len: int
    head_sha256: str
    tail_sha256: str  # of the last TAIL_BYTES (used for Parquet and gzip'd files)


def _sha(fh: Any, start: int, length: int) -> str:
    fh.seek(start)
    return hashlib.sha256(fh.read(length)).hexdigest()


def file_identity(path: Path, head_len: int | None = None) -> FileIdentity:
    """Size, mtime and hashes of `path`; the head over `head_len` bytes (a stored identity's)."""
    stat = path.stat()
    size = stat.st_size
    head_len = min(HEAD_BYTES if head_len is None else head_len, size)
    with path.open("rb") as fh:
        head = _sha(fh, 0, head_len)
        tail = _sha(fh, max(size - TAIL_BYTES, 0), TAIL_BYTES)
    return FileIdentity(size, stat.st_mtime_ns, head_len, head, tail)


def mark_at(path: Path, offset: int) -> tuple[str, bool]:
    """SHA-256 of the up to 4 KiB before byte `offset` of a plain file, and whether they end a line."""
    start = max(offset - MARK_BYTES, 0)
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(offset - start)
    return hashlib.sha256(data).hexdigest(), data.endswith(b"\n") or not data


@dataclass(frozen=True)
class Progress:
    """What the last committed transaction of a replay says. `offset`: bytes of the (uncompressed)
    text consumed, or rows of a Parquet file; `line`: the last line (row) handled."""

    kind: str  # csv | jsonl | parquet
    compressed: bool
    file: FileIdentity
    line: int
    offset: int
    records: int  # committed by all runs so far
    bad_rows: int
    done: bool
    mark: str | None = None  # plain text files: mark_at(offset)
    columns: list[tuple[str, str]] | None = None  # CSV: header names and types
    row_group: int | None = None  # Parquet: where `offset` falls, for people reading the topic
    row_in_group: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # topic, source, replay id, time: for people

    def encode(self) -> bytes:
        body = asdict(self)
        body["format"] = FORMAT
        return orjson.dumps(body)

    @classmethod
    def decode(cls, value: bytes) -> Progress:
        body = orjson.loads(value)
        if body.pop("format", None) != FORMAT:
            raise ValueError("unknown progress format")
        body["file"] = FileIdentity(**body["file"])
        if body.get("columns") is not None:
            body["columns"] = [(str(n), str(t)) for n, t in body["columns"]]
        return cls(**body)

    def where(self) -> str:
        return f"row {self.offset:,}" if self.kind == "parquet" else f"line {self.line:,}"


@dataclass(frozen=True)
class ResumePlan:
    start: Progress | None  # None: from the top of the file
    nothing_left: bool = False


Mark = Callable[[int], tuple[str, bool]]


def plan_resume(
    stored: Progress | None,
    current: FileIdentity,
    *,
    kind: str,
    compressed: bool,
    mark: Mark,
    restart: bool = False,
    name: str = "the file",
    topic: str = "the topic",
) -> ResumePlan:
    """Where this run starts, given the last committed progress and the file as it is now.

    Raises ResumeRefused when the file is not the one the progress describes (sending from
    the stored position would skip or repeat rows)."""
    if stored is None or restart:
        return ResumePlan(None)
    again = "run with --restart to send it from the top again, or --replay-id NAME for a separate replay"
    if stored.kind != kind or stored.compressed != compressed:
        raise ResumeRefused(f"{name} was sent to {topic} as {stored.kind} before, now it reads as {kind}", hint=again)
    if current.head_len != stored.file.head_len or current.head_sha256 != stored.file.head_sha256:
        raise ResumeRefused(
            f"{name} changed since an --exactly-once run sent it to {topic}: its first bytes differ", hint=again
        )
    if kind == "parquet" or compressed:
        if (current.size, current.tail_sha256) != (stored.file.size, stored.file.tail_sha256):
            raise ResumeRefused(
                f"{name} changed since an --exactly-once run sent it to {topic} "
                f"(size {stored.file.size:,} -> {current.size:,} bytes)",
                hint=again,
            )
        return ResumePlan(stored, nothing_left=stored.done)
    if current.size < stored.offset:
        raise ResumeRefused(
            f"{name} is shorter ({current.size:,} bytes) than where the last --exactly-once run "
            f"stopped ({stored.where()}, byte {stored.offset:,})",
            hint=again,
        )
    digest, ends_line = mark(stored.offset)
    if digest != stored.mark:
        raise ResumeRefused(
            f"{name} changed before {stored.where()}, where the last --exactly-once run into {topic} stopped",
            hint=again,
        )
    if current.size == stored.offset and stored.done:
        return ResumePlan(stored, nothing_left=True)
    if current.size > stored.offset and not ends_line:  # rows appended would join the last line sent
        raise ResumeRefused(
            f"{name} grew, but its last line (at {stored.where()}) was sent without a newline", hint=again
        )
    return ResumePlan(stored)


def current_identity(path: Path, stored: Progress | None) -> FileIdentity:
    return file_identity(path, stored.file.head_len if stored is not None else None)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
