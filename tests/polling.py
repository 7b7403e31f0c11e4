"""Waiting in tests: poll for the condition, never sleep a fixed time and hope it was enough."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout_s: float, what: str, interval_s: float = 0.1) -> T:
    """Call `condition` until it returns something truthy and return that; fail naming `what` after `timeout_s`.

    `timeout_s` is a bound for a loaded machine, not an expected duration: a passing test waits
    only as long as the condition takes.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout_s:g} s")
        time.sleep(interval_s)
