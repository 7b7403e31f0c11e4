"""Reading Kafka's ReassignPartitionsCommand output, and the --replicas allow-list.

The --list lines follow the tool's format strings (kafka-tools 4.1.1, `curReassignmentsToString`):
"%s: replicas: %s.%s%s" with " adding: %s." and " removing: %s." only when not empty, ids joined by ",".
"""

from __future__ import annotations

import pytest

from eventlake.broker.reassign import Ongoing, parse_ongoing, parse_replicas
from eventlake.errors import UsageError


def test_ongoing_moves_are_read_from_the_tools_list_output() -> None:
    text = (
        "Current partition reassignments:\n"
        "orders-0: replicas: 1,2,3,4. adding: 4. removing: 1.\n"
        "my.topic-with-dash-12: replicas: 2,3. adding: 3.\n"
        "x-1: replicas: 5.\n"
    )
    assert parse_ongoing(text) == [
        Ongoing("orders", 0, (1, 2, 3, 4), (4,), (1,)),
        Ongoing("my.topic-with-dash", 12, (2, 3), (3,), ()),
        Ongoing("x", 1, (5,), (), ()),
    ]
    assert parse_ongoing("No partition reassignments found.\n") == []


@pytest.mark.parametrize(("text", "ids"), [("1", (1,)), ("3,1,2", (3, 1, 2)), ("1, 2", (1, 2))])
def test_replica_lists_keep_their_order(text: str, ids: tuple[int, ...]) -> None:
    assert parse_replicas(text) == ids


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a comma-separated list"),
        ("1,,2", "not a comma-separated list"),
        ("-1", "not a comma-separated list"),
        ("1;2", "not a comma-separated list"),
        ("1e3", "not a comma-separated list"),
        ("1234567890", "not a comma-separated list"),
        (",".join(str(i) for i in range(65)), "not a comma-separated list"),
        ("2,1,2", "names broker 2 more than once"),
    ],
)
def test_bad_replica_lists_are_one_line_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_replicas(text)
