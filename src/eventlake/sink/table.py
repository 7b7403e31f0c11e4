"""The sink's table in the catalog: created on start, its schema widened as new fields arrive.

Rows carry lineage columns after the JSON's own: `_topic, _partition, _offset, _timestamp,
_key`. Partition keys are `dt`, `hour` and any `--partition-by` fields (those fields live in
the folder names, not in the files, as Hive and Athena expect).
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa

from eventlake.catalog import CatalogStore, Column, Table
from eventlake.lake import Lake
from eventlake.sink.exceptions import TypeConflict
from eventlake.sink.schema import TS, from_hive, merge_schema, to_hive
from eventlake.types import TableRef, table_name_for_topic

log = logging.getLogger(__name__)

LINEAGE = pa.schema([
    pa.field("_topic", pa.string()),
    pa.field("_partition", pa.int32()),
    pa.field("_offset", pa.int64()),
    pa.field("_timestamp", TS),
    pa.field("_key", pa.string()),
])
LINEAGE_NAMES = frozenset(LINEAGE.names)
TIME_KEYS = ("dt", "hour")
# Columns whose values were all null so far: the catalog needs a type, we keep "unknown yet".
_NULL_PARAM = "eventlake.null_columns"


class SinkTable:
    """One topic's table: its catalog entry and the schema the sink writes."""

    def __init__(self, store: CatalogStore, lake: Lake, topic: str, database: str, fmt: str,
                 partition_by: list[str]) -> None:
        self.store = store
        self.lake = lake
        self.topic = topic
        self.ref = TableRef(database, table_name_for_topic(topic))
        self.format = fmt
        self.partition_by = list(partition_by)
        self.schema = pa.schema([])  # the JSON fields (partition-by fields included)
        self._load()

    @property
    def folder(self) -> str:
        return self.ref.name

    def _load(self) -> None:
        table = self.store.get_table(self.ref)
        if table is None:
            self._upsert(pa.schema([]))
            return
        self.schema = _schema_of(table)

    def data_schema(self, schema: pa.Schema) -> pa.Schema:
        """What files hold: JSON fields minus partition-by and lineage names, then lineage."""
        skip = set(self.partition_by) | LINEAGE_NAMES
        return pa.schema([f for f in schema if f.name not in skip] + list(LINEAGE))

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
        keys = [Column(k, "string") for k in (*TIME_KEYS, *self.partition_by)]
        table = Table(
            database=self.ref.database, name=self.ref.name, location=self.lake.uri(self.folder),
            format=self.format, columns=[Column(f.name, to_hive(f.type)) for f in data],
            partition_keys=keys, source="sink",
            parameters={"classification": self.format, "eventlake.topic": self.topic,
                        _NULL_PARAM: ",".join(nulls)},
        )
        self.store.upsert_table(table)
        self.schema = schema

    def lineage_columns(self, topic: str, partition: int, offsets: np.ndarray, timestamps: np.ndarray,
                        keys: list[bytes | None]) -> list[pa.Array]:
        n = len(offsets)
        return [
            _repeated(topic, n),
            _numeric(np.full(n, partition, dtype=np.int32), pa.int32()),
            _numeric(offsets.astype(np.int64, copy=False), pa.int64()),
            _numeric(timestamps.astype(np.int64, copy=False), pa.int64()).view(TS),
            _keys(keys),
        ]


def _numeric(values: np.ndarray, typ: pa.DataType) -> pa.Array:
    """A numpy array as an Arrow array without copying (and without pa.array's pandas import)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(typ, len(values), [None, pa.py_buffer(values)])


def _repeated(text: str, n: int) -> pa.Array:
    """`text` n times: a one-word dictionary, decoded (a string column readers handle anywhere)."""
    raw = text.encode()
    word = pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, len(raw)], dtype=np.int32)),
                                                  pa.py_buffer(raw)])
    indices = _numeric(np.zeros(n, dtype=np.int32), pa.int32())
    return pa.DictionaryArray.from_arrays(indices, word).cast(pa.string())


def _keys(keys: list[bytes | None]) -> pa.Array:
    if keys.count(None) == len(keys):
        return pa.nulls(len(keys), pa.string())
    key_arr = pa.array(keys, pa.binary())
    try:
        key_str = key_arr.cast(pa.string())
        key_str.validate(full=True)
        return key_str
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # keys need not be UTF-8; show them as best we can
        return pa.array([k.decode("utf-8", "replace") if k is not None else None for k in keys], pa.string())


def _schema_of(table: Table) -> pa.Schema:
    nulls = set(filter(None, table.parameters.get(_NULL_PARAM, "").split(",")))
    keys = {c.name for c in table.partition_keys} - set(TIME_KEYS)
    fields = []
    for c in table.columns:
        if c.name in LINEAGE_NAMES:
            continue
        fields.append(pa.field(c.name, pa.null() if c.name in nulls else from_hive(c.type)))
    for name in keys:  # partition-by fields are JSON fields too; their type lives in the data
        fields.append(pa.field(name, pa.null()))
    return pa.schema(fields)
