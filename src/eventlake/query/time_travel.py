"""`eventlake query --as-of TIMESTAMP|SNAPSHOT`: which Iceberg snapshot a query reads.

The value is outside input: it is matched against two allow-lists (a snapshot id is 1-19
digits; a time is ISO-8601, date with optional time, fraction and zone) before anything parses
it. A time without a zone is UTC. A table is read as of the last snapshot that was current at
or before that time (the table's snapshot log, as Iceberg's own time travel does), or as of the
snapshot with that id. Light on imports: the query command's fast path parses it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from eventlake.errors import UsageError
from eventlake.query.exceptions import QueryError

_SNAPSHOT = re.compile(r"[0-9]{1,19}")
TIME_PATTERN = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
_HINT = "give a snapshot id (`eventlake tables describe TABLE` lists them) or a time like 2026-11-26T10:00:00Z"


class TimeTravelError(QueryError):
    """An --as-of the tables the query reads cannot answer (no such snapshot, too early, no Iceberg table)."""

    http_status = 400


@dataclass(frozen=True)
class AsOf:
    """A snapshot id, or a time in epoch milliseconds; `text` is what the user gave."""

    text: str
    snapshot_id: int | None = None
    at_ms: int | None = None

    def describe(self) -> str:
        return f"snapshot {self.snapshot_id}" if self.snapshot_id is not None else _iso(self.at_ms or 0)


def parse_as_of(text: str) -> AsOf:
    """The --as-of value, checked; UsageError (one line, what to give) when it is neither form."""
    value = text.strip()
    if _SNAPSHOT.fullmatch(value):
        number = int(value)
        if number >= 2**63:
            raise UsageError(f"--as-of {value[:40]}: a snapshot id is at most {2**63 - 1}", hint=_HINT)
        return AsOf(value, snapshot_id=number)
    if len(value) <= 40 and TIME_PATTERN.fullmatch(value):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:  # the shape fits, a number does not (month 13, hour 25)
            raise UsageError(f"--as-of {value}: not a valid time ({exc})", hint=_HINT) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return AsOf(value, at_ms=int(when.timestamp() * 1000))
    shown = value[:40].encode("ascii", "backslashreplace").decode()
    raise UsageError(f"--as-of {shown!r} is neither a snapshot id nor an ISO-8601 time", hint=_HINT)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def snapshot_for(table: object, name: str, as_of: AsOf) -> int:
    """The id of the snapshot of pyiceberg `table` that `as_of` selects; TimeTravelError if none."""
    from pyiceberg.table import Table as IcebergTable

    assert isinstance(table, IcebergTable)
    if as_of.snapshot_id is not None:
        if table.snapshot_by_id(as_of.snapshot_id) is None:
            raise TimeTravelError(
                f"--as-of {as_of.snapshot_id}: table {name} has no such snapshot",
                hint=f"`eventlake tables describe {name}` lists its snapshots",
            )
        return as_of.snapshot_id
    assert as_of.at_ms is not None
    snap = table.snapshot_as_of_timestamp(as_of.at_ms, inclusive=True)
    if snap is None:
        history = table.history()
        first = f"its first snapshot is at {_iso(history[0].timestamp_ms)}" if history else "it has no snapshot yet"
        raise TimeTravelError(
            f"--as-of {_iso(as_of.at_ms)} is before table {name} existed ({first})",
            hint="give a later time, or a snapshot id from `eventlake tables describe`",
        )
    return snap.snapshot_id
