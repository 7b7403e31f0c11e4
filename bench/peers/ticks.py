"""Stock ticks of the same shape as eventlake's `synthetic:ticks` (stdlib only).

Peers run in their own environments without eventlake, so they get this copy; the
fields, types and sizes (~190-210 bytes as JSON) match eventlake's generator.
"""

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

SYMBOLS = (
    ("AAPL", "NASDAQ", 228.0), ("MSFT", "NASDAQ", 415.0), ("AMZN", "NASDAQ", 186.0),
    ("GOOG", "NASDAQ", 165.0), ("META", "NASDAQ", 560.0), ("NVDA", "NASDAQ", 135.0),
    ("TSLA", "NASDAQ", 250.0), ("NFLX", "NASDAQ", 700.0), ("ADBE", "NASDAQ", 510.0),
    ("INTC", "NASDAQ", 22.0), ("AMD", "NASDAQ", 155.0), ("CSCO", "NASDAQ", 52.0),
    ("IBM", "NYSE", 220.0), ("JPM", "NYSE", 210.0), ("BAC", "NYSE", 40.0),
    ("GS", "NYSE", 500.0), ("V", "NYSE", 280.0), ("KO", "NYSE", 70.0),
    ("XOM", "NYSE", 120.0), ("WMT", "NYSE", 80.0), ("DIS", "NYSE", 95.0),
    ("ORCL", "NYSE", 170.0), ("UNH", "NYSE", 590.0), ("HD", "NYSE", 400.0),
)


def ticks(seed: int | None = None, clock: Callable[[], float] = time.time) -> Iterator[dict[str, Any]]:
    """Yield tick dicts forever; `ts` is the wall clock at generation, ISO-8601 UTC in ms."""
    rng = random.Random(seed)
    prices = [p for _, _, p in SYMBOLS]
    seq = 0
    cached_sec = -1
    prefix = ""
    while True:
        i = int(rng.random() * len(SYMBOLS))
        price = prices[i] * (1.0 + rng.gauss(0.0, 0.0008))
        prices[i] = price
        half_spread = price * 0.0001 + 0.005
        now = clock()
        sec = int(now)
        if sec != cached_sec:
            cached_sec = sec
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
        seq += 1
        yield {
            "symbol": SYMBOLS[i][0],
            "ts": f"{prefix}.{int((now - sec) * 1000):03d}Z",
            "price": round(price, 2),
            "bid": round(price - half_spread, 2),
            "ask": round(price + half_spread, 2),
            "bid_size": int(rng.random() * 20 + 1) * 100,
            "ask_size": int(rng.random() * 20 + 1) * 100,
            "volume": int(rng.random() * 50 + 1) * 10,
            "side": "buy" if rng.random() < 0.5 else "sell",
            "exchange": SYMBOLS[i][1],
            "currency": "USD",
            "seq": seq,
        }
