"""JSON field names -> column names every reader takes: Hive/Glue/Athena type strings, DuckDB, Spark.

The rule (reversible, case kept): ASCII letters, digits and `_` stay as they are; every other
character becomes `_x<hex code point>_` in lower-case hex (`a-b` -> `a_x2d_b`, `user.id` ->
`user_x2e_id`, `é` -> `_xe9_`, a space -> `_x20_`). An `_` that would read as the start of
such an escape (`_x` followed by a hex digit) is escaped too (`_x5f_`), so
`unescape(escape(name)) == name` for every name and two names never meet in one column.
At the top level, a name equal to one of the sink's own columns or time partition keys,
whatever its case (`_offset`, `_key`, `dt`, `HOUR`), has its first character escaped
(`_x5f_offset`, `_x64_t`), so it never shadows them.

Refused (the record goes to the DLQ with the reason): an empty name, a name longer than
`sink.max_name_length` once escaped, and a name that differs only in case from another at
the same level (Hive, Athena and DuckDB fold case).
"""

from __future__ import annotations

import re
from functools import lru_cache

import pyarrow as pa

# The sink's lineage columns and time partition keys (table.py holds their types).
RESERVED = frozenset({"_topic", "_partition", "_offset", "_timestamp", "_key", "_key_bytes", "dt", "hour"})

_UNSAFE = re.compile(r"[^A-Za-z0-9_]|_(?=x[0-9a-f])")
_ESCAPE = re.compile(r"_x([0-9a-f]{1,6})_")
_PLAIN = re.compile(r"[A-Za-z0-9_]+")


class NameRefused(ValueError):
    """A field name the rule refuses; the record goes to the DLQ."""


@lru_cache(maxsize=65536)
def escape(name: str) -> str:
    return _UNSAFE.sub(lambda m: f"_x{ord(m.group()):x}_", name)


@lru_cache(maxsize=65536)
def escape_top(name: str) -> str:
    """`escape` for a top-level field: reserved names get their first character escaped."""
    if name.lower() in RESERVED:
        return f"_x{ord(name[0]):x}_" + escape(name[1:])
    return escape(name)


def unescape(name: str) -> str:
    def back(m: re.Match[str]) -> str:
        code = int(m.group(1), 16)
        return chr(code) if code <= 0x10FFFF else m.group()

    return _ESCAPE.sub(back, name) if "_x" in name else name


def is_plain(name: str, top: bool) -> bool:
    """A name `escape` leaves as it is (the common case: no work at all)."""
    return _PLAIN.fullmatch(name) is not None and "_x" not in name and not (top and name.lower() in RESERVED)


def short(name: str, n: int = 40) -> str:
    return repr(name) if len(name) <= n else f"{name[:n]!r}... ({len(name)} characters)"


def checked(names: list[str], top: bool, max_length: int, path: str = "") -> list[str]:
    """The escaped names of one object level, or NameRefused."""
    out = []
    seen: dict[str, str] = {}
    for raw in names:
        if not raw:
            raise NameRefused(f"empty field name{_at(path)}")
        name = escape_top(raw) if top else escape(raw)
        if len(name) > max_length:
            raise NameRefused(f"field name {short(raw)}{_at(path)} is longer than max_name_length={max_length}")
        folded = name.lower()
        if folded in seen and seen[folded] != name:
            raise NameRefused(f"field names {short(seen[folded])} and {short(name)}{_at(path)} differ only in case")
        seen[folded] = name
        out.append(name)
    return out


def _at(path: str) -> str:
    return f" in {path}" if path else ""


# ---- whole Arrow types (the fast path: names are checked per column, never per row)


def needs_renaming(t: pa.DataType, max_length: int, top: bool = True) -> bool:
    """True if some field name in `t` is not plain (escaping needed, or a refusal)."""
    if pa.types.is_struct(t):
        if not all(is_plain(f.name, top) and len(f.name) <= max_length for f in t):
            return True
        if len({f.name.lower() for f in t}) != t.num_fields:
            return True
        return any(needs_renaming(f.type, max_length, False) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return needs_renaming(t.value_type, max_length, False)
    return False


def renamed_type(t: pa.DataType, max_length: int, top: bool = True, path: str = "") -> pa.DataType:
    """`t` with every field name escaped, or NameRefused."""
    if pa.types.is_struct(t):
        names = checked([f.name for f in t], top, max_length, path)
        return pa.struct(
            [
                pa.field(n, renamed_type(f.type, max_length, False, f"{path}.{n}".lstrip(".")))
                for n, f in zip(names, t, strict=True)
            ]
        )
    if pa.types.is_list(t):
        return pa.list_(renamed_type(t.value_type, max_length, False, f"{path}[]"))
    if pa.types.is_large_list(t):
        return pa.large_list(renamed_type(t.value_type, max_length, False, f"{path}[]"))
    return t


def raw_type(t: pa.DataType) -> pa.DataType:
    """`t` with the names as they are in the JSON (what Arrow's reader must be told)."""
    if pa.types.is_struct(t):
        return pa.struct([pa.field(unescape(f.name), raw_type(f.type)) for f in t])
    if pa.types.is_list(t):
        return pa.list_(raw_type(t.value_type))
    return t
