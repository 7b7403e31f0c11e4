from __future__ import annotations

import pytest

from eventlake.types import TableRef, table_name_for_topic


@pytest.mark.parametrize(
    ("topic", "table"),
    [("stock-ticks", "stock_ticks"), ("Orders.v2", "orders_v2"), ("2024-events", "t_2024_events")],
)
def test_topic_names_become_sql_identifiers(topic: str, table: str) -> None:
    assert table_name_for_topic(topic) == table


def test_table_ref_parse() -> None:
    assert TableRef.parse("stock_ticks") == TableRef("default", "stock_ticks")
    assert TableRef.parse("db.t") == TableRef("db", "t")
