"""The offset map a sink resumes from is read from Iceberg metadata on storage: hostile entries stop
the sink in one line instead of crashing it or being skipped (a skipped partition would accept any
start offset, so rows could land twice)."""

from __future__ import annotations

import pytest

from eventlake.sink.exceptions import SinkError
from eventlake.sink.iceberg_commit import OFFSET_KEY, offsets_from_summary


def test_the_offset_map_of_a_summary_written_by_eventlake() -> None:
    props = {
        f"{OFFSET_KEY}orders.0": "120",
        f"{OFFSET_KEY}orders.2": "0",
        f"{OFFSET_KEY}my.dotted.topic.1": str(2**63 - 1),
        "eventlake.group": "g",
        "added-records": "10",
    }
    assert offsets_from_summary(props, "default.orders") == {
        ("orders", 0): 120,
        ("orders", 2): 0,
        ("my.dotted.topic", 1): 2**63 - 1,
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("orders.0", "²"),  # a Unicode digit: str.isdigit() says yes, int() refuses
        ("orders.0", "١٢"),  # Arabic-Indic digits
        ("orders.²", "5"),
        ("orders.0", "-1"),
        ("orders.0", "1e3"),
        ("orders.0", " 7"),
        ("orders.0", ""),
        ("orders.0", "9" * 5000),  # past int()'s digit limit
        ("orders.0", str(2**63)),  # out of Kafka's offset range
        ("orders.99999999999", "1"),  # out of Kafka's partition range
        ("orders", "1"),  # no partition
        (".0", "1"),  # no topic
        ("orders.0", '{"nested": 1}'),
        ("orders.0", "1; DROP TABLE iceberg_tables"),
    ],
)
def test_a_hostile_entry_stops_the_sink_in_one_line(key: str, value: str) -> None:
    with pytest.raises(SinkError) as err:
        offsets_from_summary({f"{OFFSET_KEY}{key}": value}, "default.orders")
    message = str(err.value)
    assert "\n" not in message and "default.orders" in message and len(message) < 400
    assert "rollback" in (err.value.hint or "")
