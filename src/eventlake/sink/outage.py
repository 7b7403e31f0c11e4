"""Waiting out outages instead of dying: S3, the catalog and the broker go away and come back.

While something the sink needs is down, the sink keeps what it buffered (bounded by its
buffer caps; Kafka still holds it too), retries with exponential backoff and jitter, and says
what it waits for every few seconds: in the log and in /metrics (`eventlake_sink_waiting_seconds`).
After `sink.outage_timeout_s` it exits with one line; nothing is lost then either, since the
next start resumes from the ledger. Run it under a supervisor (systemd units in `deploy/`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from eventlake.catalog.exceptions import CatalogUnavailable
from eventlake.errors import EventlakeError
from eventlake.lake import LakeError
from eventlake.sink.exceptions import SinkError
from eventlake.sink.metrics import SinkMetrics

log = logging.getLogger(__name__)

T = TypeVar("T")

# What an outage looks like from here: the lake's I/O errors (S3 unreachable, disk full), a
# catalog that is locked, read-only or gone, and any error marked retriable (dead letters Kafka
# did not take). Anything else is a bug or bad input and is raised.
RETRIABLE = (LakeError, CatalogUnavailable, OSError)
REPORT_EVERY_S = 5.0
# Retries back off to this and no further: a probe (one S3 request, one catalog transaction) is
# cheap, and the ceiling is how late the sink may notice that S3 or the catalog is back (it
# was 30 s: a 60 s outage was waited out for up to 99 s).
RETRY_MAX_S = 5.0


class Outages:
    """What the sink waits for, since when; retries with backoff and gives up after a timeout."""

    def __init__(self, timeout_s: float, stop: threading.Event, metrics: SinkMetrics) -> None:
        self.timeout_s = timeout_s
        self.stop = stop
        self.metrics = metrics
        self.active: dict[str, tuple[float, str, bool]] = {}  # what -> (since, detail, gives up)
        self._reported = 0.0

    def began(self, what: str, detail: str, give_up: bool = True, since: float | None = None) -> None:
        """`since`: when the failed call began (a locked catalog blocks for its busy timeout first)."""
        if what not in self.active:
            log.warning("waiting for %s: %s", what, detail)
            self.active[what] = (time.time() if since is None else since, detail, give_up)
            self.metrics.waiting(what, self.active[what][0])
        else:
            since, _old, gives_up = self.active[what]
            self.active[what] = (since, detail, gives_up)

    def ended(self, what: str) -> None:
        outage = self.active.pop(what, None)
        if outage is not None:
            log.warning("%s is back after %.0f s", what, time.time() - outage[0])
            self.metrics.waiting(what, None)

    def report(self) -> None:
        """Say every few seconds what is still awaited; give up past the timeout."""
        now = time.time()
        if not self.active or now - self._reported < REPORT_EVERY_S:
            return
        self._reported = now
        for what, (since, detail, give_up) in list(self.active.items()):
            waited = now - since
            log.warning("still waiting for %s (%.0f s): %s", what, waited, detail)
            if give_up and waited > self.timeout_s:
                raise SinkError(
                    f"gave up after {waited:.0f} s waiting for {what}: {detail}; nothing is lost, the "
                    "next start resumes from the ledger",
                    hint="fix it and start the sink again (a supervisor restarts it: see deploy/systemd), "
                    "or raise sink.outage_timeout_s",
                )

    def retry(self, what: str, action: Callable[[], T], held: str = "") -> T:
        """`action()`, retried through outages of `what` with backoff (0.5 s doubling to RETRY_MAX_S, +-25%)."""
        attempt = 0
        while True:
            started = time.time()
            try:
                result = action()
            except (*RETRIABLE, EventlakeError) as exc:
                if isinstance(exc, EventlakeError) and not isinstance(exc, RETRIABLE) and not exc.retriable:
                    raise
                detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                self.began(what, detail + (f"; holding {held} in memory" if held else ""), since=started)
                self.report()
                if self.stop.is_set():
                    raise SinkError(
                        f"stopped while waiting for {what}: {detail}; nothing is lost, the next start "
                        "resumes from the ledger"
                    ) from exc
                delay = min(RETRY_MAX_S, 0.5 * 2**attempt) * random.uniform(0.75, 1.25)
                attempt += 1
                self.stop.wait(delay)
                continue
            self.ended(what)
            return result
