"""`sink --workers`: the allow-list of worker counts, and how the workers' reports and metrics add up."""

from __future__ import annotations

import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from eventlake.config.sink import MAX_WORKERS, SinkSettings, parse_workers
from eventlake.sink.metrics import GroupMetrics, SinkMetrics
from eventlake.sink.report import SinkReport
from eventlake.sink.workers import _sum, cores, topic_rows, worker_count


@pytest.mark.parametrize("value", [0, -1, "abc", 10_000, MAX_WORKERS + 1, "1.5", "", True, "٣", " 2x"])
def test_worker_counts_outside_the_allow_list_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match=rf"1\.\.{MAX_WORKERS} or auto"):
        parse_workers(value)


@pytest.mark.parametrize(("value", "want"), [(1, 1), ("2", 2), (MAX_WORKERS, MAX_WORKERS), ("AUTO", "auto")])
def test_worker_counts_in_the_allow_list(value: object, want: object) -> None:
    assert parse_workers(value) == want
    assert SinkSettings(workers=value).workers == want


def test_auto_is_the_cores_this_process_may_use() -> None:
    assert worker_count("auto") == cores() >= 1
    assert worker_count(3) == 3


def _flushed(m: SinkMetrics, topic: str, partition: int, rows: int, next_offset: int) -> None:
    m.flushed(topic, partition, SimpleNamespace(rows=rows, files=["f"], bytes=10, dlq=0, next_offset=next_offset,
                                                max_event_time=None), 0.01)  # fmt: skip


def _value(text: str, name: str, partition: int) -> float | None:
    m = re.search(rf'^{name}\{{topic="t",partition="{partition}"\}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


def test_one_metrics_endpoint_adds_the_workers_up_and_never_goes_down_on_a_restart() -> None:
    one, two = SinkMetrics(), SinkMetrics()
    one.assigned("t", 0, 0)
    _flushed(one, "t", 0, 100, 100)
    two.assigned("t", 0, 100)  # the partition moved to worker two
    _flushed(two, "t", 0, 50, 150)
    group = GroupMetrics()
    group.update(1, one.snapshot())
    group.update(2, two.snapshot())
    group.workers = 2
    text = group.render()
    assert _value(text, "eventlake_sink_rows_total", 0) == 150
    assert _value(text, "eventlake_sink_next_offset", 0) == 150
    assert "eventlake_sink_workers 2" in text

    group.exited(2)  # worker two died: its rows stay counted, it owns nothing any more
    group.restarts += 1
    one.revoked("t", 0)
    group.update(1, one.snapshot())
    text = group.render()
    assert _value(text, "eventlake_sink_rows_total", 0) == 150
    assert _value(text, "eventlake_sink_assigned", 0) is None
    assert "eventlake_sink_worker_restarts_total 1" in text


def test_the_summary_is_the_sum_and_its_busy_time_spans_every_worker() -> None:
    a = SinkReport(["t", "u"], rows=10, files=2, dlq=1, flushes=2, busy_from=100.0, busy_seconds=5.0,
                   partitions={"t[0]": 6, "u[0]": 4})  # fmt: skip
    b = SinkReport(["t", "u"], rows=20, files=3, dlq=2, flushes=3, busy_from=102.0, busy_seconds=6.0,
                   partitions={"t[0]": 5, "t[1]": 15})  # fmt: skip
    total = _sum([a, b], ["t", "u"])
    assert (total.rows, total.files, total.dlq, total.flushes) == (30, 5, 3, 5)
    assert total.partitions == {"t[0]": 11, "u[0]": 4, "t[1]": 15}
    assert total.busy_seconds == pytest.approx(8.0)  # 100 .. 108
    assert topic_rows(total) == {"t": 26, "u": 4}


def test_only_the_first_worker_maintains_the_lake_and_each_is_its_own_member() -> None:
    from eventlake.config import Settings
    from eventlake.sink.workers import worker_settings

    base = Settings().model_copy(
        update={"sink": SinkSettings(workers=3, metrics_port=9100, group_instance_id="host-a", until_idle=5.0)}
    )
    per = [worker_settings(base, i) for i in range(3)]
    assert [s.maintenance.enabled for s in per] == [True, False, False]
    assert [s.sink.group_instance_id for s in per] == ["host-a-0", "host-a-1", "host-a-2"]
    assert {(s.sink.workers, s.sink.metrics_port, s.sink.until_idle) for s in per} == {(1, None, None)}
    # The parent's settings are untouched, and a lake without maintenance stays without it.
    assert base.maintenance.enabled and base.sink.workers == 3
    off = base.model_copy(update={"maintenance": base.maintenance.model_copy(update={"enabled": False})})
    assert not worker_settings(off, 0).maintenance.enabled


def test_the_supervisor_loads_no_arrow_numpy_or_pandas() -> None:
    """The parent of `sink --workers N` only supervises: the landing libraries (a second of CPU per
    process) load in the workers, and the package's names still resolve on first use."""
    code = (
        "import sys, eventlake.sink.workers, eventlake.sink.offsets, eventlake.catalog;"
        "print(sorted(m for m in ('pyarrow', 'numpy', 'pandas', 'eventlake.sink.runner') if m in sys.modules));"
        "from eventlake.sink import SinkReport, run_sink, sink_health, sweep_orphans;"
        "print(run_sink.__module__, sink_health.__module__, sweep_orphans.__module__, SinkReport.__module__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded, names = done.stdout.splitlines()
    assert loaded == "[]"
    assert names == "eventlake.sink.runner eventlake.sink.health eventlake.sink.ledger eventlake.sink.report"
