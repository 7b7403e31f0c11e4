"""Hive/Glue type strings, the catalog's column types: parsed into a small tree, formatted back,
and mapped to Arrow and to DuckDB. The one reader and writer of these strings for the sink,
the crawler and the query engine.

What is accepted is an allow-list, since the strings come from a catalog file anyone with
access could edit and end up inside SQL: the scalar names below (case-insensitive, with the
aliases `integer` and `real`), `decimal(p,s)` (1 <= p <= 38, 0 <= s <= p, `decimal` alone is
Hive's decimal(10,0)), `varchar(n)`, `char(n)`, `array<T>`, `map<K,V>` (K a scalar), `struct<name:T,...>`.
A struct field name is bare when it is letters, digits and `_` (all the sink writes, and what
Athena accepts); any other name is in backticks with a backtick doubled, as Hive's DDL quotes
identifiers. `void` is the sink's "not typed yet" and Arrow's null type.

What a type means, where the three readers used to disagree:
- `timestamp` is an instant in UTC without a zone in its text, as Athena reads Parquet
  timestamps: Arrow `timestamp[ms, tz=UTC]` (what the sink stores: Athena's precision), DuckDB
  `TIMESTAMP` (the query engine runs in UTC so the two are the same wall-clock time).
- `decimal(p,s)` is exact: Arrow `decimal128(p,s)`, DuckDB `DECIMAL(p,s)` (the sink read it as
  double and the query engine's S3 path as text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import pyarrow as pa


class HiveTypeError(ValueError):
    """A type string outside the accepted grammar."""


@dataclass(frozen=True)
class Scalar:
    name: str  # one of SCALARS, canonical spelling


@dataclass(frozen=True)
class Decimal:
    precision: int = 10
    scale: int = 0


@dataclass(frozen=True)
class Text:
    """varchar(n) or char(n): text of bounded length (a string to Arrow and DuckDB)."""

    kind: str  # "varchar" | "char"
    length: int


@dataclass(frozen=True)
class Array:
    item: HiveType


@dataclass(frozen=True)
class Map:
    key: HiveType
    value: HiveType


@dataclass(frozen=True)
class Struct:
    fields: tuple[tuple[str, HiveType], ...]


HiveType: TypeAlias = Scalar | Decimal | Text | Array | Map | Struct

SCALARS = (
    "boolean",
    "tinyint",
    "smallint",
    "int",
    "bigint",
    "float",
    "double",
    "string",
    "binary",
    "date",
    "timestamp",
    "void",
)
_ALIASES = {"integer": "int", "real": "float"}
MAX_PRECISION = 38
MAX_TEXT_LENGTH = 65535  # Hive's varchar limit
MAX_DEPTH = 100  # nesting; deeper text is refused before Python's recursion limit is near

STRING = Scalar("string")
VOID = Scalar("void")

_BARE_NAME = re.compile(r"[A-Za-z0-9_]+")
# Read more leniently than written: crawlers before the quoting wrote any JSON key bare.
_BARE_READ = re.compile(r"[^:,<>`()\s][^:,<>`()]*")
_WORD = re.compile(r"[A-Za-z]+")
_INT = re.compile(r"\s*([0-9]{1,5})\s*")


# ---- text -> tree


def parse(text: str) -> HiveType:
    """`struct<a:bigint,b:array<decimal(10,2)>>` -> Struct((("a", Scalar("bigint")), ...)). HiveTypeError if not."""
    parser = _Parser(text)
    t = parser.type(0)
    parser.skip_space()
    if parser.pos != len(text):
        raise HiveTypeError(f"unexpected {text[parser.pos : parser.pos + 20]!r} in type {_short(text)}")
    return t


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, ch: str) -> None:
        self.skip_space()
        if not self.text.startswith(ch, self.pos):
            raise HiveTypeError(f"expected {ch!r} at {self.pos} in type {_short(self.text)}")
        self.pos += 1

    def peek(self, ch: str) -> bool:
        self.skip_space()
        return self.text.startswith(ch, self.pos)

    def number(self) -> int:
        m = _INT.match(self.text, self.pos)
        if not m:
            raise HiveTypeError(f"expected a number at {self.pos} in type {_short(self.text)}")
        self.pos = m.end()
        return int(m.group(1))

    def type(self, depth: int) -> HiveType:
        if depth > MAX_DEPTH:
            raise HiveTypeError(f"type nested deeper than {MAX_DEPTH} levels")
        self.skip_space()
        m = _WORD.match(self.text, self.pos)
        if not m:
            raise HiveTypeError(f"expected a type name at {self.pos} in type {_short(self.text)}")
        self.pos = m.end()
        word = m.group(0).lower()
        word = _ALIASES.get(word, word)
        if word in SCALARS:
            return Scalar(word)
        if word == "decimal":
            if not self.peek("("):
                return Decimal()
            self.expect("(")
            precision = self.number()
            scale = 0
            if self.peek(","):
                self.expect(",")
                scale = self.number()
            self.expect(")")
            if not (1 <= precision <= MAX_PRECISION and 0 <= scale <= precision):
                raise HiveTypeError(f"decimal({precision},{scale}) is out of range: 1 <= p <= 38, 0 <= s <= p")
            return Decimal(precision, scale)
        if word in ("varchar", "char"):
            self.expect("(")
            length = self.number()
            self.expect(")")
            if not 1 <= length <= MAX_TEXT_LENGTH:
                raise HiveTypeError(f"{word}({length}) is out of range")
            return Text(word, length)
        if word == "array":
            self.expect("<")
            item = self.type(depth + 1)
            self.expect(">")
            return Array(item)
        if word == "map":
            self.expect("<")
            at = self.pos
            key = self.type(depth + 1)
            if not isinstance(key, Scalar | Decimal | Text) or key == VOID:  # Hive's rule, and Arrow's
                raise HiveTypeError(f"map keys are scalar types, not {self.text[at : self.pos].strip()!r}")
            self.expect(",")
            value = self.type(depth + 1)
            self.expect(">")
            return Map(key, value)
        if word == "struct":
            return self.struct(depth)
        raise HiveTypeError(f"unknown type {word!r} in {_short(self.text)}")

    def struct(self, depth: int) -> Struct:
        self.expect("<")
        fields: list[tuple[str, HiveType]] = []
        seen: set[str] = set()
        if self.peek(">"):
            self.expect(">")
            return Struct(())  # struct<>: older sinks wrote it for `{}`
        while True:
            name = self.name()
            if name in seen:
                raise HiveTypeError(f"field {name!r} twice in type {_short(self.text)}")
            seen.add(name)
            self.expect(":")
            fields.append((name, self.type(depth + 1)))
            if self.peek(">"):
                self.expect(">")
                return Struct(tuple(fields))
            self.expect(",")

    def name(self) -> str:
        self.skip_space()
        if self.peek("`"):
            self.pos += 1
            out = []
            while True:
                end = self.text.find("`", self.pos)
                if end < 0:
                    raise HiveTypeError(f"unterminated `name` in type {_short(self.text)}")
                out.append(self.text[self.pos : end])
                self.pos = end + 1
                if not self.text.startswith("`", self.pos):
                    break
                out.append("`")  # `` inside a quoted name is one backtick
                self.pos += 1
            name = "".join(out)
        else:
            m = _BARE_READ.match(self.text, self.pos)
            if not m:
                raise HiveTypeError(f"expected a field name at {self.pos} in type {_short(self.text)}")
            self.pos = m.end()
            name = m.group(0).rstrip()
        if not name:
            raise HiveTypeError(f"empty field name in type {_short(self.text)}")
        return name


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


# ---- tree -> text


def format_type(t: HiveType) -> str:
    """The canonical type string: lower case, no spaces, names quoted only when they must be."""
    if isinstance(t, Scalar):
        return t.name
    if isinstance(t, Decimal):
        return f"decimal({t.precision},{t.scale})"
    if isinstance(t, Text):
        return f"{t.kind}({t.length})"
    if isinstance(t, Array):
        return f"array<{format_type(t.item)}>"
    if isinstance(t, Map):
        return f"map<{format_type(t.key)},{format_type(t.value)}>"
    return "struct<" + ",".join(f"{format_name(n)}:{format_type(f)}" for n, f in t.fields) + ">"


def format_name(name: str) -> str:
    """A struct field name as the type string holds it."""
    return name if _BARE_NAME.fullmatch(name) else "`" + name.replace("`", "``") + "`"


def normalize(text: str) -> str:
    """The canonical spelling of a type string (HiveTypeError if it is not one)."""
    return format_type(parse(text))


# ---- Arrow


def to_arrow(t: HiveType) -> pa.DataType:
    import pyarrow as pa

    if isinstance(t, Scalar):
        return _arrow_scalars()[t.name]
    if isinstance(t, Decimal):
        return pa.decimal128(t.precision, t.scale)
    if isinstance(t, Text):
        return pa.string()
    if isinstance(t, Array):
        return pa.list_(to_arrow(t.item))
    if isinstance(t, Map):
        return pa.map_(to_arrow(t.key), to_arrow(t.value))
    if not t.fields:
        return pa.null()  # struct<> (older sinks, for `{}`) is "not typed yet"
    return pa.struct([pa.field(n, to_arrow(f)) for n, f in t.fields])


def _arrow_scalars() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        "boolean": pa.bool_(),
        "tinyint": pa.int8(),
        "smallint": pa.int16(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "string": pa.string(),
        "binary": pa.binary(),
        "date": pa.date32(),
        "timestamp": pa.timestamp("ms", tz="UTC"),
        "void": pa.null(),
    }


def from_arrow(t: pa.DataType, null: HiveType = STRING) -> HiveType:
    """The catalog type of an Arrow type. `null` is what Arrow's null type becomes: string in
    the catalog's columns (Athena has no null type), `VOID` where "not typed yet" is kept."""
    import pyarrow as pa

    types = pa.types
    if types.is_null(t):
        return null
    if types.is_boolean(t):
        return Scalar("boolean")
    if types.is_int64(t) or types.is_uint32(t) or types.is_uint64(t):
        return Scalar("bigint")
    if types.is_int32(t) or types.is_uint16(t):
        return Scalar("int")
    if types.is_int16(t) or types.is_uint8(t):
        return Scalar("smallint")
    if types.is_int8(t):
        return Scalar("tinyint")
    if types.is_float32(t) or types.is_float16(t):
        return Scalar("float")
    if types.is_floating(t):
        return Scalar("double")
    if types.is_decimal(t) and t.precision <= MAX_PRECISION:
        return Decimal(t.precision, t.scale)
    if types.is_timestamp(t):
        return Scalar("timestamp")
    if types.is_date(t):
        return Scalar("date")
    if types.is_binary(t) or types.is_large_binary(t) or types.is_fixed_size_binary(t):
        return Scalar("binary")
    if types.is_struct(t):
        return Struct(tuple((f.name, from_arrow(f.type, null)) for f in t))
    if types.is_list(t) or types.is_large_list(t) or types.is_fixed_size_list(t):
        return Array(from_arrow(t.value_type, null))
    if types.is_map(t):
        return Map(from_arrow(t.key_type, null), from_arrow(t.item_type, null))
    if types.is_dictionary(t):
        return from_arrow(t.value_type, null)
    return STRING  # strings, and what Hive cannot hold (time of day, durations, unions): as text


# ---- DuckDB

_DUCKDB_SCALARS = {
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "string": "VARCHAR",
    "binary": "BLOB",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "void": "VARCHAR",  # "not typed yet": nulls, stored as text
}


def to_duckdb(t: HiveType) -> str:
    """DuckDB type text (safe inside SQL: names are quoted, numbers are numbers)."""
    if isinstance(t, Scalar):
        return _DUCKDB_SCALARS[t.name]
    if isinstance(t, Decimal):
        return f"DECIMAL({t.precision},{t.scale})"
    if isinstance(t, Text):
        return "VARCHAR"
    if isinstance(t, Array):
        return f"{to_duckdb(t.item)}[]"
    if isinstance(t, Map):
        return f"MAP({to_duckdb(t.key)}, {to_duckdb(t.value)})"
    if not t.fields:
        return "VARCHAR"  # struct<>: "not typed yet", as void
    return "STRUCT(" + ", ".join(f'"{n.replace(chr(34), chr(34) * 2)}" {to_duckdb(f)}' for n, f in t.fields) + ")"
