"""Ctrl-C and SIGTERM set a stop event (the sink flushes, records and leaves its group); no
exception is raised into whatever C call (librdkafka, Arrow) the main thread is in."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType


def stop_on_signals(stop: threading.Event, log: logging.Logger, doing: str) -> Callable[[], None]:
    """Make SIGINT and SIGTERM set `stop` (logging `doing`); return the function that restores the
    previous handlers. Only the main thread may install handlers: elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: %s", signum, doing)
        stop.set()

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, previous in old.items():
            signal.signal(sig, previous)

    return restore
