"""`synthetic:ticks`: an endless, seedable stream of realistic stock ticks.

Each symbol's price follows its own geometric random walk; every tick has a quote
(bid/ask around the price), sizes, a traded volume and side, and an event timestamp. The same
seed gives the same symbols, prices and volumes in the same order; `ts` is the wall
clock at generation (a live feed's event time) unless a `clock` is passed.

Built for speed (about 1.5 microseconds per tick): two random draws per tick, prices kept
as whole cents, the timestamp's date part formatted once per second.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

# (symbol, exchange, starting price): levels of late 2024, rounded.
SYMBOLS: tuple[tuple[str, str, float], ...] = (
    ("AAPL", "NASDAQ", 228.0),
    ("MSFT", "NASDAQ", 415.0),
    ("AMZN", "NASDAQ", 186.0),
    ("GOOG", "NASDAQ", 165.0),
    ("META", "NASDAQ", 560.0),
    ("NVDA", "NASDAQ", 135.0),
    ("TSLA", "NASDAQ", 250.0),
    ("NFLX", "NASDAQ", 700.0),
    ("ADBE", "NASDAQ", 510.0),
    ("INTC", "NASDAQ", 22.0),
    ("AMD", "NASDAQ", 155.0),
    ("CSCO", "NASDAQ", 52.0),
    ("PEP", "NASDAQ", 170.0),
    ("COST", "NASDAQ", 880.0),
    ("AVGO", "NASDAQ", 170.0),
    ("QCOM", "NASDAQ", 170.0),
    ("TXN", "NASDAQ", 200.0),
    ("SBUX", "NASDAQ", 95.0),
    ("PYPL", "NASDAQ", 70.0),
    ("BKNG", "NASDAQ", 4300.0),
    ("IBM", "NYSE", 220.0),
    ("JPM", "NYSE", 210.0),
    ("BAC", "NYSE", 40.0),
    ("WFC", "NYSE", 60.0),
    ("GS", "NYSE", 500.0),
    ("V", "NYSE", 280.0),
    ("MA", "NYSE", 500.0),
    ("KO", "NYSE", 70.0),
    ("PG", "NYSE", 170.0),
    ("JNJ", "NYSE", 160.0),
    ("XOM", "NYSE", 120.0),
    ("CVX", "NYSE", 155.0),
    ("WMT", "NYSE", 80.0),
    ("DIS", "NYSE", 95.0),
    ("NKE", "NYSE", 85.0),
    ("MCD", "NYSE", 290.0),
    ("BA", "NYSE", 160.0),
    ("CAT", "NYSE", 380.0),
    ("GE", "NYSE", 180.0),
    ("T", "NYSE", 21.0),
    ("VZ", "NYSE", 42.0),
    ("PFE", "NYSE", 28.0),
    ("ORCL", "NYSE", 170.0),
    ("CRM", "NYSE", 280.0),
    ("UNH", "NYSE", 590.0),
    ("HD", "NYSE", 400.0),
    ("MRK", "NYSE", 110.0),
    ("ABBV", "NYSE", 190.0),
)

# Per-tick volatility of the random walk (standard deviation of the relative step).
STEP_SIGMA = 0.0008


def synthetic_ticks(
    seed: int | None = None,
    symbols: int | None = None,
    clock: Callable[[], float] = time.time,
) -> Iterator[dict[str, Any]]:
    """Yield tick dicts forever. `symbols` limits how many of SYMBOLS appear (default all)."""
    universe = SYMBOLS[: symbols or len(SYMBOLS)]
    rng = random.Random(seed)
    rand = rng.random
    bits = rng.getrandbits
    names = [s for s, _, _ in universe]
    exchanges = [e for _, e, _ in universe]
    prices = [p for _, _, p in universe]
    count = len(universe)
    # A uniform step with the standard deviation STEP_SIGMA: cheaper than gauss(), and over
    # many ticks the walk is just as normal.
    step = STEP_SIGMA * 12**0.5
    seq = 0
    cached_sec = -1
    prefix = ""
    while True:
        # One draw of random bits picks the symbol, sizes, volume and side.
        r = bits(32)
        i = (r >> 15) % count
        price = prices[i] * (1.0 + (rand() - 0.5) * step)
        prices[i] = price
        cents = int(price * 100.0 + 0.5)  # prices in whole cents; /100 prints them with 2 decimals
        half_spread = int(price * 0.01) + 1  # a basis point, at least a cent
        sec, ms = divmod(int(clock() * 1000), 1000)
        if sec != cached_sec:  # strftime once per second, not per tick
            cached_sec = sec
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        seq += 1
        yield {
            "symbol": names[i],
            "ts": f"{prefix}.{ms:03d}Z",
            "price": cents / 100,
            "bid": (cents - half_spread) / 100,
            "ask": (cents + half_spread) / 100,
            "bid_size": ((r & 15) + 1) * 100,
            "ask_size": ((r >> 4 & 15) + 1) * 100,
            "volume": ((r >> 8 & 63) + 1) * 10,
            "side": "buy" if r >> 14 & 1 else "sell",
            "exchange": exchanges[i],
            "currency": "USD",
            "seq": seq,
        }
