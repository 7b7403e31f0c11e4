"""Hive/Glue type strings, the one reader and writer: round trips, what each type means to Arrow
and DuckDB (agreeing with each other), and text that is not a type."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventlake.catalog.crawl_types import json_type, merge
from eventlake.catalog.hive_types import (
    SCALARS,
    VOID,
    Array,
    Decimal,
    HiveType,
    HiveTypeError,
    Map,
    Scalar,
    Struct,
    Text,
    format_name,
    format_type,
    from_arrow,
    parse,
    to_arrow,
    to_duckdb,
)
from eventlake.query.sources import duckdb_type
from eventlake.sink.names import escape
from eventlake.sink.schema import from_hive, to_hive

# Field names as they reach the catalog: the sink's (letters, digits, `_`) and the crawler's
# (any JSON key or Parquet column name: dots, spaces, `:`, `,`, `<>`, backticks, accents).
# Control characters are left out: DuckDB drops a NUL inside a struct field's name.
names = st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True) | st.text(
    st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12
)
scalars = st.sampled_from(SCALARS).map(Scalar)
decimals = st.integers(1, 38).flatmap(lambda p: st.integers(0, p).map(lambda s: Decimal(p, s)))
texts = st.builds(Text, st.sampled_from(["varchar", "char"]), st.integers(1, 65535))


def _structs(children: st.SearchStrategy[HiveType]) -> st.SearchStrategy[HiveType]:
    fields = st.lists(st.tuples(names, children), min_size=1, max_size=4, unique_by=lambda f: f[0].lower())
    return fields.map(lambda fs: Struct(tuple(fs)))


keys = st.sampled_from([s for s in SCALARS if s != "void"]).map(Scalar) | decimals | texts
types: st.SearchStrategy[HiveType] = st.recursive(
    scalars | decimals | texts,
    lambda children: children.map(Array) | st.builds(Map, keys, children) | _structs(children),
    max_leaves=12,
)


@given(types)
def test_parse_of_format_is_the_same_type(t: HiveType) -> None:
    assert parse(format_type(t)) == t


@given(types)
def test_formatted_text_is_canonical(t: HiveType) -> None:
    text = format_type(t)
    assert format_type(parse(text)) == text


def test_spelling_case_spaces_and_aliases_read_the_same() -> None:
    assert parse(" STRUCT< a : BIGINT , `b c`:Decimal( 10 , 2 ) , d:array< Integer > >") == Struct(
        (("a", Scalar("bigint")), ("b c", Decimal(10, 2)), ("d", Array(Scalar("int"))))
    )
    assert parse("decimal") == Decimal(10, 0)  # Hive's default
    assert parse("real") == Scalar("float")
    assert parse("map<string,array<timestamp>>") == Map(Scalar("string"), Array(Scalar("timestamp")))
    assert parse("struct<`a``b`:int>") == Struct((("a`b", Scalar("int")),))


def test_names_the_sink_writes_are_never_quoted() -> None:
    """Athena reads only bare names in struct types: every name the sink writes is one."""
    for raw in ["user.id", "é", "a b", "_x41_", "price", "12", "a:b,c<d>", "`"]:
        assert format_name(escape(raw)) == escape(raw)


def test_older_bare_names_the_crawler_wrote_still_read() -> None:
    assert parse("struct<user.id:bigint,a b:string>") == Struct(
        (("user.id", Scalar("bigint")), ("a b", Scalar("string")))
    )
    assert format_type(parse("struct<user.id:bigint>")) == "struct<`user.id`:bigint>"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "bigint; DROP TABLE t",
        "decimal(1,2)) AS x",  # used to reach SQL as DECIMAL(1,2)) AS X
        "decimal(39,0)",
        "decimal(5,6)",
        "varchar(0)",
        "struct<a:bigint",
        "struct<a:bigint,a:string>",
        "struct<:int>",
        "struct<`a:int>",
        "array<>",
        "map<string>",
        "map<array<int>,int>",
        "map<void,int>",
        "uniontype<int,string>",
        "array<" * 5000 + "int" + ">" * 5000,
    ],
)
def test_what_is_not_a_type_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(HiveTypeError) as info:
        parse(text)
    assert "\n" not in str(info.value) and len(str(info.value)) < 300
    assert duckdb_type(text) == "VARCHAR"  # the query engine reads such a column as text


def _duckdb_arrow(t: pa.DataType) -> pa.DataType:
    """What DuckDB's Arrow export makes of `to_arrow(t)`'s meaning: TIMESTAMP is microseconds
    without a zone (the engine runs in UTC), "not typed yet" is text."""
    if pa.types.is_timestamp(t):
        return pa.timestamp("us")
    if pa.types.is_null(t):
        return pa.string()
    if pa.types.is_list(t):
        return pa.list_(_duckdb_arrow(t.value_type))
    if pa.types.is_map(t):
        return pa.map_(_duckdb_arrow(t.key_type), _duckdb_arrow(t.item_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _duckdb_arrow(f.type)) for f in t])
    return t


@settings(max_examples=60, deadline=None)
@given(types)
def test_duckdb_and_arrow_agree_on_every_type(t: HiveType) -> None:
    con = duckdb.connect()
    got = con.sql(f"SELECT CAST(NULL AS {to_duckdb(t)}) AS c").to_arrow_table().schema.field("c").type
    assert got == _duckdb_arrow(to_arrow(t))


@given(types)
def test_arrow_round_trip(t: HiveType) -> None:
    def plain(t: HiveType) -> HiveType:  # what Arrow cannot tell apart: bounded text is a string
        if isinstance(t, Text):
            return Scalar("string")
        if isinstance(t, Array):
            return Array(plain(t.item))
        if isinstance(t, Map):
            return Map(plain(t.key), plain(t.value))
        if isinstance(t, Struct):
            return Struct(tuple((n, plain(f)) for n, f in t.fields))
        return t

    assert from_arrow(to_arrow(t), null=VOID) == plain(t)


def test_decimal_and_timestamp_mean_one_thing_everywhere() -> None:
    """The three readers used to disagree: decimal was double to the sink, text to the query
    engine's S3 path and DECIMAL to its local path; timestamp was UTC milliseconds to the sink and
    zone-less microseconds to the S3 path."""
    assert to_arrow(parse("decimal(12,3)")) == pa.decimal128(12, 3)
    assert duckdb_type("decimal(12,3)") == "DECIMAL(12,3)"
    assert to_arrow(parse("timestamp")) == pa.timestamp("ms", tz="UTC")
    assert duckdb_type("timestamp") == "TIMESTAMP"
    # The sink's reading of a decimal column: JSON numbers land as double (its own choice).
    assert from_hive("struct<p:decimal(12,3)>") == pa.struct([("p", pa.float64())])
    assert to_hive(pa.decimal128(12, 3)) == "decimal(12,3)"


def test_the_crawler_quotes_odd_json_keys_and_merges_trees() -> None:
    t = json_type({"user.id": 1, "a,b": {"c<d>": "x"}})
    assert t == "struct<`user.id`:bigint,`a,b`:struct<`c<d>`:string>>"
    assert parse(t) == Struct((("user.id", Scalar("bigint")), ("a,b", Struct((("c<d>", Scalar("string")),)))))
    assert merge(t, json_type({"user.id": 1.5, "new": True})) == (
        "struct<`user.id`:double,`a,b`:struct<`c<d>`:string>,new:boolean>"
    )
    assert merge("decimal(10,2)", "bigint") == "double"
    assert merge("array<int>", "array<bigint>") == "array<bigint>"
