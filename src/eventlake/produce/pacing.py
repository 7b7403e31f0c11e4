"""Pacing: when may the next event go out?

Both pacers schedule by absolute time (event n is due at start + n / rate), so small
errors of sleep and poll never add up: a run at --rate N stays at N over a minute.
They only answer "how long until the next event is due"; the producer decides how to
wait (serving delivery reports meanwhile).
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class RatePacer:
    """`--rate N`: event n is due at start + n / N.

    A producer that falls behind catches up in a burst, but never by more than
    `max_lag_s` of events: after a long stall (a suspended process, a slow broker)
    the schedule restarts instead of flooding the topic.
    """

    def __init__(self, rate: float, clock: Clock = time.monotonic, max_lag_s: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self.max_lag_s = max_lag_s
        self._clock = clock
        self._start: float | None = None
        self._count = 0

    def delay(self) -> float:
        """Seconds until the next event is due (<= 0: send now)."""
        now = self._clock()
        if self._start is None:
            self._start = now
        due = self._start + self._count * self.interval
        if now - due > self.max_lag_s:
            self._start = now - self._count * self.interval  # forget the backlog
            return 0.0
        return due - now

    def sent(self) -> None:
        self._count += 1

    def restart(self) -> None:
        """The schedule starts again with the next event (due at once)."""
        self._start = None
        self._count = 0

    def eta(self, remaining: int) -> float:
        return remaining * self.interval


class SpeedPacer:
    """`--speed X`: replay by the data's own event times, X times faster.

    An event with time t is due at wall_start + (t - t0) / X, t0 being the first event's
    time in this pass. Events without a time, or earlier than t0, go out at once.
    """

    def __init__(self, speed: float, clock: Clock = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._clock = clock
        self._wall_start: float | None = None
        self._t0: float | None = None

    def delay_for(self, event_time_s: float | None) -> float:
        now = self._clock()
        if self._wall_start is None:
            self._wall_start = now
        if event_time_s is None:
            return 0.0
        if self._t0 is None:
            self._t0 = event_time_s
        return self._wall_start + (event_time_s - self._t0) / self.speed - now

    def restart(self) -> None:
        """The first event went out now (it waited for its delivery): the rest follow it by their times."""
        self._wall_start = None

    def new_pass(self) -> None:
        """--loop starts the data again: its first event is due at once."""
        self._wall_start = None
        self._t0 = None
