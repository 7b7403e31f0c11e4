"""Exit codes as scripts see them: 75 (try again later) for what waiting heals, 1 for what it does not."""

from __future__ import annotations

from pathlib import Path

from eventlake.runtime import free_port
from tests.e2e.conftest import Run
from tests.fixtures_dashboard import TickLake, tick_lake  # noqa: F401


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_cli_exits_75_when_no_broker_answers(cli: Run) -> None:
    closed = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = cli("topics", "list", "--bootstrap-servers", closed)
    assert result.returncode == 75, result.stderr
    assert f"no Kafka broker answered at {closed}" in _one_line(result.stderr)


def test_cli_exits_1_for_bad_sql_or_a_broken_catalog(cli: Run, tick_lake: TickLake, tmp_path: Path) -> None:
    lake = str(tick_lake.root)
    bad_sql = cli("query", "SELEKT 1", "--lake", lake)
    assert bad_sql.returncode == 1 and "syntax error" in _one_line(bad_sql.stderr)
    (tmp_path / "folder").mkdir()
    broken = cli("tables", "--lake", lake, "--catalog", str(tmp_path / "folder"))
    assert broken.returncode == 1 and "cannot open catalog" in _one_line(broken.stderr)  # waiting will not fix it
