"""Pacing math with a fake clock: an absolute schedule that does not drift, and replay by event time."""

from __future__ import annotations

import pytest

from eventlake.produce.pacing import RatePacer, SpeedPacer


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run_paced(pacer: RatePacer, clock: FakeClock, events: int, cost_s: float) -> float:
    """Send `events`, each taking `cost_s` of work, waiting exactly as long as the pacer says."""
    start = clock.now
    for _ in range(events):
        delay = pacer.delay()
        if delay > 0:
            clock.now += delay
        pacer.sent()
        clock.now += cost_s
    return clock.now - start


def test_rate_schedule_is_absolute_so_per_event_costs_do_not_add_up() -> None:
    clock = FakeClock()
    # 2,000 events/s for a minute; each send costs 0.2 ms of the 0.5 ms budget.
    elapsed = run_paced(RatePacer(2000, clock=clock), clock, 120_000, cost_s=0.0002)
    assert elapsed == pytest.approx(60.0, rel=0.001)


def test_event_n_is_due_at_start_plus_n_over_rate() -> None:
    clock = FakeClock(10.0)
    pacer = RatePacer(4, clock=clock)
    assert pacer.delay() == 0  # the first event goes at once
    pacer.sent()
    assert pacer.delay() == pytest.approx(0.25)
    pacer.sent()
    clock.now = 10.3
    assert pacer.delay() == pytest.approx(0.2)  # due at 10.5, whatever happened in between
    assert pacer.eta(8) == pytest.approx(2.0)


def test_falling_behind_catches_up_but_not_beyond_max_lag() -> None:
    clock = FakeClock(0.0)
    pacer = RatePacer(100, clock=clock, max_lag_s=1.0)
    pacer.delay()
    pacer.sent()
    clock.now = 0.5  # 0.49 s late: the next 50 events go at once (catching up)
    bursts = 0
    while pacer.delay() <= 0:
        pacer.sent()
        bursts += 1
    assert bursts == 50
    clock.now = 10.0  # a long stall: no flood of 900 events, the schedule restarts
    assert pacer.delay() == 0
    pacer.sent()
    assert pacer.delay() == pytest.approx(0.01)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RatePacer(0)


def test_speed_replays_event_time_gaps_faster() -> None:
    clock = FakeClock(1000.0)
    pacer = SpeedPacer(60, clock=clock)  # one minute of data per second
    assert pacer.delay_for(5000.0) == 0  # the first event sets t0
    assert pacer.delay_for(5060.0) == pytest.approx(1.0)
    clock.now = 1000.5
    assert pacer.delay_for(5060.0) == pytest.approx(0.5)
    assert pacer.delay_for(5030.0) == pytest.approx(0.0)
    assert pacer.delay_for(4000.0) < 0  # earlier than t0: at once
    assert pacer.delay_for(None) == 0


def test_speed_new_pass_restarts_the_clock() -> None:
    clock = FakeClock(0.0)
    pacer = SpeedPacer(10, clock=clock)
    pacer.delay_for(100.0)
    clock.now = 5.0
    assert pacer.delay_for(150.0) == pytest.approx(0.0)
    pacer.new_pass()
    assert pacer.delay_for(100.0) == 0  # the data starts again: its first event goes now
    assert pacer.delay_for(110.0) == pytest.approx(1.0)


def test_a_restarted_schedule_does_not_burst_to_catch_up() -> None:
    # The first event waited half a second for its delivery: the rest keep the rate from there.
    clock = FakeClock(10.0)
    pacer = RatePacer(4, clock=clock)
    pacer.delay()
    pacer.sent()
    clock.now += 0.5
    pacer.restart()
    assert pacer.delay() == 0
    pacer.sent()
    assert pacer.delay() == pytest.approx(0.25)


def test_a_restarted_replay_keeps_the_gaps_after_the_first_event() -> None:
    clock = FakeClock(10.0)
    pacer = SpeedPacer(2, clock=clock)
    assert pacer.delay_for(1000.0) == 0
    clock.now += 0.5  # waiting for the first delivery
    pacer.restart()
    assert pacer.delay_for(1001.0) == pytest.approx(0.5)  # one second of data at 2x, from now
