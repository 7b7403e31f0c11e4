"""One topic's Iceberg table: made on first use, its schema evolved by Iceberg's rules.

Columns are the JSON fields (partition-by fields included: Iceberg partitions hide in the
metadata, not in folder names) followed by the lineage columns, all optional. The partition
spec is `hour(<time column>)` (`_event_time` with --time-field, else the Kafka `_timestamp`)
plus `identity(<field>)` for each --partition-by field once the field exists. New fields
become new optional columns; Iceberg's own promotions (int to long, float to double) apply;
a change Iceberg does not allow (long to double, a struct to a string) is refused for the rows
that carry it (they go to the DLQ, see iceberg_commit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa

from eventlake.lake import Lake
from eventlake.sink.exceptions import SinkError

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table as IcebergTable

log = logging.getLogger(__name__)

EVENT_TIME = "_event_time"  # the event time (--time-field) as a timestamp: what hour() partitions
# A JSON field of that name (any case) is renamed as the Parquet lake renames `_offset`: its first
# character escaped (names.py's rule, so `names.unescape` gives the field's name back). Always, not
# only with --time-field: a column's meaning must not change when a later sink adds --time-field.
_ESCAPED = "_x5f_"
TIME_TYPE = pa.timestamp("us", tz="UTC")  # Iceberg's timestamptz is microseconds
NO_RETRY = "commit.retry.num-retries"
PROPERTIES = {
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
    # A sink's flush is one file per partition value; pyiceberg's default would split at 512 MB.
    "write.target-file-size-bytes": str(512 * 1024 * 1024),
    # pyiceberg's own retry re-applies a failed append on the new snapshot with the summary it was
    # made with: it would skip the offset check and record a stale offset map. Ours re-checks (iceberg_commit).
    NO_RETRY: "0",
}
_RETRIES = 20


class IcebergSinkTable:
    """The Iceberg side of one topic's table (eventlake's catalog keeps its columns for SQL)."""

    def __init__(
        self, catalog: Catalog, lake: Lake, database: str, name: str, folder: str, time_column: str, keys: list[str]
    ) -> None:
        self.catalog = catalog
        self.identifier = (database, name)
        self.location = lake.uri(folder)
        self.time_column = time_column
        self.keys = keys  # --partition-by fields, as the columns are named
        self._table: IcebergTable | None = None

    @property
    def table(self) -> IcebergTable:
        if self._table is None:
            self._table = self._load()
        return self._table

    def _load(self) -> IcebergTable:
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.catalog.load_table(self.identifier)
        except NoSuchTableError:
            return None  # type: ignore[return-value]  # made by the first flush, which knows the columns

    def refresh(self) -> IcebergTable | None:
        if self._table is None:
            self._table = self._load()
        elif self._table is not None:
            self._table = self._table.refresh()
        return self._table

    def current(self) -> IcebergTable | None:
        """The table as this process last read or committed it, without asking the catalog. Safe to check
        offsets against before a commit: the commit swaps from exactly this metadata, so if anyone committed
        since, the swap fails and the caller reads again."""
        if self._table is None:
            return self.refresh()
        return self._table

    def use(self, table: IcebergTable) -> IcebergTable:
        """The table as a commit of ours left it (no catalog read needed)."""
        self._table = table
        return table

    def ensure(self, schema: pa.Schema) -> IcebergTable:
        """The table, made or evolved so that `schema`'s columns fit it (by name)."""
        from pyiceberg.exceptions import CommitFailedException, NamespaceAlreadyExistsError, TableAlreadyExistsError

        # The flush read the table once already (iceberg_commit): a column another sink added since then
        # makes our schema commit fail its swap, and the loop below reads again.
        table = self.current()
        if table is None:
            from pyiceberg.transforms import HourTransform

            try:
                self.catalog.create_namespace(self.identifier[0])
            except NamespaceAlreadyExistsError:
                pass
            try:
                # One atomic step: the table and its partition spec (by name: ids are assigned at creation).
                txn = self.catalog.create_table_transaction(
                    self.identifier, schema=schema, location=self.location, properties=PROPERTIES
                )
                with txn.update_spec() as spec:
                    spec.add_field(self.time_column, HourTransform(), "hour")
                    for key in self.keys:
                        if key in schema.names:
                            spec.add_identity(key)
                txn.commit_transaction()
                log.info("iceberg table %s.%s made at %s", *self.identifier, self.location)
            except (TableAlreadyExistsError, CommitFailedException):  # another sink made it first
                pass
            self._table = self.catalog.load_table(self.identifier)
            return self._table
        for _ in range(_RETRIES):
            assert self._table is not None
            table = self._table
            current = table.schema().as_arrow()
            missing = [f for f in schema if f.name not in current.names]
            # Promotions and new struct fields; the caller sent types Iceberg refuses to the DLQ already.
            changed = [f for f in schema if f.name in current.names and _widens(current.field(f.name).type, f.type)]
            if not missing and not changed:
                return table
            try:
                with table.update_schema() as update:
                    update.union_by_name(pa.schema(missing + changed))
                new_keys = [k for k in self.keys if k in {f.name for f in missing}]
                if new_keys:
                    with self._table.refresh().update_spec() as spec:
                        for key in new_keys:
                            spec.add_identity(key)
                log.info("iceberg table %s.%s: columns %s", *self.identifier, [f.name for f in missing + changed])
            except CommitFailedException:
                time.sleep(0.05)
            self._table = self._table.refresh()
        raise SinkError(f"could not evolve Iceberg table {'.'.join(self.identifier)}: too many concurrent changes")


def _promotes(old: pa.DataType, new: pa.DataType) -> bool:
    """A promotion Iceberg allows from the table's `old` type to the batch's `new` one."""
    ints = pa.types.is_int32(old) and pa.types.is_int64(new)
    floats = pa.types.is_float32(old) and pa.types.is_float64(new)
    return bool(ints or floats)


def allowed(old: pa.DataType, new: pa.DataType) -> bool:
    """Can a batch column of type `new` be written into a table column of type `old`?"""
    old, new = plain(old), plain(new)
    if old.equals(new) or _promotes(old, new) or pa.types.is_null(new):
        return True
    if pa.types.is_integer(new) and pa.types.is_floating(old):
        return True  # whole numbers into a double column: exact for |n| < 2**53, as JSON readers do
    if pa.types.is_timestamp(old) and pa.types.is_timestamp(new):
        return True
    if pa.types.is_string(old) and (pa.types.is_string(new) or pa.types.is_large_string(new)):
        return True
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        return all(
            old.get_field_index(new.field(i).name) < 0 or allowed(old.field(new.field(i).name).type, new.field(i).type)
            for i in range(new.num_fields)
        )
    if pa.types.is_list(old) and pa.types.is_list(new):
        return allowed(old.value_type, new.value_type)
    return False


def _widens(old: pa.DataType, new: pa.DataType) -> bool:
    """`new` differs from `old` in a way union_by_name should record (a promotion, a new nested field)."""
    old, new = plain(old), plain(new)
    if old.equals(new) or pa.types.is_null(new):
        return False
    if _promotes(old, new):
        return True
    if pa.types.is_struct(old) and pa.types.is_struct(new):
        names = {old.field(j).name for j in range(old.num_fields)}
        return any(
            new.field(i).name not in names or _widens(old.field(new.field(i).name).type, new.field(i).type)
            for i in range(new.num_fields)
        )
    if pa.types.is_list(old) and pa.types.is_list(new):
        return _widens(old.value_type, new.value_type)
    return False


def plain(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    if pa.types.is_timestamp(t):
        return pa.timestamp("ms", tz="UTC")
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pa.list_(plain(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(t.field(i).name, plain(t.field(i).type)) for i in range(t.num_fields)])
    return t


def own_name(name: str) -> str:
    """The Iceberg column of a (decoded) top-level field: `_event_time` is the sink's, any case."""
    return _ESCAPED + name[1:] if name.lower() == EVENT_TIME else name


def field_name(column: str) -> str:
    """`own_name` reversed: the decoder's name of a field whose column `own_name` renamed."""
    rest = column[len(_ESCAPED) :]
    return "_" + rest if column.startswith(_ESCAPED) and ("_" + rest).lower() == EVENT_TIME else column


def renamed(schema: pa.Schema, how: Callable[[str], str]) -> pa.Schema:
    """`schema` with its top-level names mapped by `how` (types and metadata kept)."""
    if all(how(f.name) == f.name for f in schema):
        return schema
    return pa.schema([f.with_name(how(f.name)) for f in schema], metadata=schema.metadata)
