"""The sink's table in the catalog: created on start, its schema widened as new fields arrive.

Rows carry lineage columns after the JSON's own: `_topic, _partition, _offset, _timestamp,
_key, _key_bytes`. `_key` is the message key as text when it is UTF-8 (JSON keys stay their
JSON text); a key that is not UTF-8 is null there and kept byte for byte in `_key_bytes`
(null for every UTF-8 key), so no key is ever altered. Partition keys are `dt`, `hour` and
any `--partition-by` fields (those fields live in the folder names, not in the files, as
Hive and Athena expect), named by the naming rule like every column.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pyarrow as pa

from eventlake.catalog import CatalogStore, Column, Table
from eventlake.lake import Lake
from eventlake.sink.exceptions import TypeConflict
from eventlake.sink.names import RESERVED, escape_top
from eventlake.sink.schema import TS, from_hive, has_null, merge_schema, sink_type_text, storage_type, to_hive
from eventlake.types import TableRef, table_name_for_topic

log = logging.getLogger(__name__)

LINEAGE = pa.schema(
    [
        pa.field("_topic", pa.string()),
        pa.field("_partition", pa.int32()),
        pa.field("_offset", pa.int64()),
        pa.field("_timestamp", TS),
        pa.field("_key", pa.string()),
        pa.field("_key_bytes", pa.binary()),
    ]
)
LINEAGE_NAMES = frozenset(LINEAGE.names)
TIME_KEYS = ("dt", "hour")
assert LINEAGE_NAMES | set(TIME_KEYS) == RESERVED  # the naming rule keeps JSON fields off these
# Columns whose values were all null so far: the catalog needs a type, we keep "unknown yet".
_NULL_PARAM = "eventlake.null_columns"
# Types with an "unknown yet" part anywhere (`array<void>`, `struct<a:void,b:bigint>`): the
# catalog's columns say string there, this parameter keeps what the sink really knows.
_TYPES_PARAM = "eventlake.sink_types"


class SinkTable:
    """One topic's table: its catalog entry and the schema the sink writes."""

    def __init__(
        self,
        store: CatalogStore,
        lake: Lake,
        topic: str,
        database: str,
        fmt: str,
        partition_by: list[str],
        iceberg: bool = False,
        event_time: bool = False,
    ) -> None:
        self.store = store
        self.lake = lake
        self.topic = topic
        self.ref = TableRef(database, table_name_for_topic(topic))
        self.format = fmt
        self.partition_by = [escape_top(p) for p in partition_by]  # as the columns are named
        # An Iceberg table (sink.iceberg_*): partition-by fields stay in the files, no dt/hour
        # folders, and the Iceberg table's schema is the truth this entry follows (`adopt`).
        self.iceberg = iceberg
        self.event_time = event_time  # an Iceberg table's `_event_time` column (with --time-field)
        self._adopted: pa.Schema | None = None  # the Iceberg schema last recorded in the catalog
        self.schema = pa.schema([])  # the JSON fields (partition-by fields included)
        self.changes = 0  # schema changes this process recorded: a flush that raised it widened the table
        self._load()
        if iceberg and "_event_time" in self.schema.names:  # Iceberg's partition source, not a JSON field
            self.schema = self.schema.remove(self.schema.get_field_index("_event_time"))

    @property
    def folder(self) -> str:
        return self.ref.name

    def _load(self) -> None:
        table = self.store.get_table(self.ref)
        if table is None:
            self._upsert(pa.schema([]))
            return
        self.schema = _schema_of(table)
        if not set(table.column_names()) >= LINEAGE_NAMES:  # a lineage column added since (_key_bytes)
            self._upsert(self.schema)

    def data_schema(self, schema: pa.Schema) -> pa.Schema:
        """What files hold: JSON fields minus partition-by and lineage names, then lineage."""
        skip = (set() if self.iceberg else set(self.partition_by)) | LINEAGE_NAMES
        return pa.schema([f for f in schema if f.name not in skip] + list(LINEAGE))

    def file_schema(self) -> pa.Schema:
        """What this sink writes: `data_schema` with "unknown yet" parts as string (the catalog's type)."""
        return pa.schema([pa.field(f.name, storage_type(f.type)) for f in self.data_schema(self.schema)])

    def evolve(self, schema: pa.Schema) -> None:
        """Record a widened or extended schema (a new schema version in the catalog)."""
        if schema.equals(self.schema):
            return
        current = self.store.get_table(self.ref)
        if current is not None:
            # Another sink process may have added columns meanwhile: keep them.
            try:
                schema = merge_schema(_schema_of(current), schema)
            except TypeConflict:  # two sinks saw one column differently: ours wins for our files
                pass
        self._upsert(schema)
        log.info("table %s schema now %s columns", self.ref, len(schema))

    def _upsert(self, schema: pa.Schema) -> None:
        data = self.data_schema(schema)
        nulls = [f.name for f in data if pa.types.is_null(f.type)]
        unknown = {f.name: sink_type_text(f.type) for f in data if has_null(f.type)}
        keys = [] if self.iceberg else [Column(k, "string") for k in (*TIME_KEYS, *self.partition_by)]
        columns = [Column(f.name, to_hive(f.type)) for f in data]
        extra: dict[str, str] = {}
        if self.iceberg:
            from eventlake.catalog.iceberg_sql import ICEBERG, TABLE_TYPE

            extra[TABLE_TYPE] = ICEBERG  # `eventlake query` plans this table's files through Iceberg
            if self.event_time:
                columns.append(Column("_event_time", "timestamp"))
        table = Table(
            database=self.ref.database,
            name=self.ref.name,
            location=self.lake.uri(self.folder),
            format=self.format,
            columns=columns,
            partition_keys=keys,
            source="sink",
            parameters={
                "classification": self.format,
                "eventlake.topic": self.topic,
                _NULL_PARAM: ",".join(nulls),
                _TYPES_PARAM: json.dumps(unknown),
                **extra,
            },
        )
        self.store.upsert_table(table)
        self.schema = schema
        self.changes += 1

    def adopt(self, schema: pa.Schema) -> None:
        """An Iceberg table's JSON columns, after a commit: recorded in the catalog when they changed."""
        if self._adopted is None or not schema.equals(self._adopted):
            self._upsert(schema)
            self._adopted = schema
        self.schema = schema

    def lineage_columns(
        self, topic: str, partition: int, offsets: np.ndarray, timestamps: np.ndarray, keys: list[bytes | None]
    ) -> list[pa.Array]:
        n = len(offsets)
        return [
            _repeated(topic, n),
            _numeric(np.full(n, partition, dtype=np.int32), pa.int32()),
            _numeric(offsets.astype(np.int64, copy=False), pa.int64()),
            _numeric(timestamps.astype(np.int64, copy=False), pa.int64()).view(TS),
            *_keys(keys),
        ]


def _numeric(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    """A numpy array as an Arrow array without copying (and without pa.array's pandas import)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(typ, len(values), [None, pa.py_buffer(values)])


def _repeated(text: str, n: int) -> pa.Array:
    """`text` n times: a one-word dictionary, decoded (a string column readers handle anywhere)."""
    raw = text.encode()
    word = pa.Array.from_buffers(
        pa.string(), 1, [None, pa.py_buffer(np.array([0, len(raw)], dtype=np.int32)), pa.py_buffer(raw)]
    )
    indices = _numeric(np.zeros(n, dtype=np.int32), pa.int32())
    return pa.DictionaryArray.from_arrays(indices, word).cast(pa.string())


def _keys(keys: list[bytes | None]) -> tuple[pa.Array, pa.Array]:
    """(`_key`: the key as text when UTF-8, `_key_bytes`: the key's bytes when it is not)."""
    n = len(keys)
    if keys.count(None) == n:
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.binary())
    raw = pa.array(keys, pa.binary())
    try:
        text = raw.cast(pa.string())
        text.validate(full=True)
        return text, pa.nulls(n, pa.binary())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    texts: list[str | None] = []
    binary: list[bytes | None] = []
    for k in keys:  # rare: some key is not UTF-8
        try:
            texts.append(k.decode("utf-8") if k is not None else None)
            binary.append(None)
        except UnicodeDecodeError:
            texts.append(None)
            binary.append(k)
    return pa.array(texts, pa.string()), pa.array(binary, pa.binary())


def _schema_of(table: Table) -> pa.Schema:
    nulls = set(filter(None, table.parameters.get(_NULL_PARAM, "").split(",")))
    try:
        known = json.loads(table.parameters.get(_TYPES_PARAM) or "{}")
    except ValueError:
        known = {}
    keys = {c.name for c in table.partition_keys} - set(TIME_KEYS)
    fields = []
    for c in table.columns:
        if c.name in LINEAGE_NAMES:
            continue
        fields.append(pa.field(c.name, pa.null() if c.name in nulls else _type(known.get(c.name) or c.type)))
    for name in keys:  # partition-by fields are JSON fields too; their type lives in the data
        fields.append(pa.field(name, pa.null()))
    return pa.schema(fields)


def _type(text: str) -> pa.DataType:
    try:
        return from_hive(text)
    except ValueError:  # a type string an older sink wrote from unsafe names: the data decides again
        log.warning("catalog type %r not understood; treating the column as not typed yet", text[:200])
        return pa.null()
