"""The open hour's older minutes are merged while a real sink lands into that hour and a reader loops."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from eventlake.catalog import open_catalog
from eventlake.catalog.compact import is_compacted
from eventlake.catalog.maintain import hour_end, maintain
from eventlake.lake import open_lake
from eventlake.query import connect
from eventlake.sink import run_sink
from eventlake.types import TableRef, table_name_for_topic
from tests.fixtures_sink import Sent, assert_exactly_once, produce_events, read_landed
from tests.integration.test_maintenance import EXACT, HOUR_MS, _settings, _wait_landed

pytestmark = pytest.mark.integration


def test_open_hour_is_merged_in_pieces_while_landing_and_reading_then_into_one_file(
    bootstrap: str, topic: str, tmp_path: Path
) -> None:
    # Event times in the next hour: open for the whole test, whenever it runs.
    base = (int(time.time() * 1000) // HOUR_MS + 1) * HOUR_MS
    settings = _settings(
        bootstrap, tmp_path / "lake", f"g-{topic}", interval_s=0.5, open_hour_seconds=1.2, closed_after_minutes=10.0
    )
    table = table_name_for_topic(topic)
    ref = TableRef("default", table)
    stop, reading = threading.Event(), threading.Event()
    sink = threading.Thread(target=run_sink, args=(settings, [topic], stop), daemon=True)
    answers: list[tuple[int, int, int]] = []
    failures: list[BaseException] = []
    seen_pieces = 0

    def reader() -> None:
        with connect(settings) as engine:
            while not reading.is_set():
                try:
                    answers.append(tuple(engine.execute(EXACT.format(t=table)).rows[0]))
                except BaseException as exc:
                    failures.append(exc)
                    return

    sent: dict[Any, Any] = {}
    read = threading.Thread(target=reader)
    sink.start()
    try:
        for batch in range(12):  # ~12 s of steady landing into the open hour
            events = [{"id": batch * 600 + i, "v": i, "at": base + batch * 60_000 + i * 50} for i in range(600)]
            sent.update(produce_events(bootstrap, topic, events).by_coord)
            if batch == 1:
                _wait_landed(settings, topic, 1)
                read.start()
            with open_catalog(settings) as store:
                seen_pieces = max(seen_pieces, sum(is_compacted(f) for f in store.list_files(ref)))
            time.sleep(1.0)
        _wait_landed(settings, topic, len(sent))
        deadline = time.monotonic() + 60
        while True:  # the older minutes end up merged while the hour is open, and the reader sees it all
            with open_catalog(settings) as store:
                files = store.list_files(ref)
                flushes = len(store.ledger(topic))
            pieces = sum(is_compacted(f) for f in files)
            seen_pieces = max(seen_pieces, pieces)
            if pieces >= 1 and len(files) - pieces < flushes // 4 and answers and answers[-1][0] == len(sent):
                break
            assert time.monotonic() < deadline, (len(files), pieces, flushes, answers[-1:], len(sent))
            time.sleep(0.5)
    finally:
        reading.set()
        if read.is_alive():
            read.join(60)
        stop.set()
        sink.join(60)
    assert not failures, failures[:1]
    assert len(answers) >= 5 and seen_pieces >= 1
    for n, distinct, expected in answers:
        assert n == distinct == expected  # no row twice, none missing, in every snapshot
    counts = [a[0] for a in answers]
    assert counts == sorted(counts) and counts[-1] == len(sent)
    assert len({tuple(f.partition.items()) for f in files}) == 1  # all of it in the open hour

    lake = open_lake(settings.lake)
    with open_catalog(settings) as store:
        assert_exactly_once(Sent(sent), read_landed(store, lake, topic), topic)
        # Lineage: the files' ranges cover each Kafka partition's offsets up to the ledger's end, once.
        for p, end in ((r["partition"], r["next_offset"]) for r in store.ledger_summary(0)):
            ranges = sorted((r.first_offset, r.last_offset) for f in files for r in f.lineage() if r.partition == p)
            assert ranges[0][0] == 0 and ranges[-1][1] + 1 == end
            assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
        # Once the hour has closed, the pieces and the rest become one file.
        end_s = hour_end(files[0].partition)
        assert end_s is not None
        maintain(store, lake, settings.maintenance, now=end_s + 11 * 60)
        [one] = store.list_files(ref)
    with open_catalog(settings) as store:
        assert_exactly_once(Sent(sent), read_landed(store, lake, topic), topic)
        assert one.rows == len(sent)
