"""Attacks on read-only SQL through all three surfaces: the library, POST /api/query, `eventlake query`.

Each attack of `corpus_sql` must be refused (the right QueryError subclass; HTTP 4xx with a
one-line JSON error, never 500; exit code 1 with one line on stderr and no traceback) and
must change nothing: no lake file, catalog row or file in the watched temp dir, cwd or tmp
dirs (`assert_nothing_changed`). `no-leak` cases may run, but no answer may hold an absolute
lake or temp path or a planted canary. Positive controls prove the guard is not a wall: ~35
analytic queries run with correct answers. DoS cases run in a fresh process each
(`sql_probe.py`) with a 2 s time limit and must answer within it plus a margin, one line,
with the process growing by less than 500 MB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

from eventlake.query.exceptions import BadSql, QueryError
from tests.fixtures_query import build_sunk_lake
from tests.security.conftest import (
    EVENTLAKE,
    SqlLake,
    World,
    assert_nothing_changed,
    cli_env,
    http_client,
    one_error_line,
    restore_world,
    run_cli,
    snapshot_world,
    world_changes,
)
from tests.security.corpus_sql import (
    ALLOWED,
    ATTACKS,
    DOS,
    NAMES,
    NEAR_LIMIT_SQL,
    SAVED_VIEW_ATTACKS,
    Allowed,
    Attack,
    Dos,
    render,
    targets,
)

TIME_LIMIT_S = 2.0
MARGIN_S = 3.0  # parsing, guarding, interrupting and answering after the time limit
CLI_START_S = 4.0  # a CLI process importing pyarrow, duckdb and pydantic on a busy 2-core machine
RSS_BOUND = 500 * 1024 * 1024
CLI_RSS_BOUND = 800 * 1024 * 1024  # absolute: ~200 MB after start-up, plus the bound
ARGV_MAX = 120_000  # Linux refuses one argument over 128 KiB
PROBE = str(Path(__file__).with_name("sql_probe.py"))


@pytest.fixture(scope="module")
def attack_targets(sql_lake: SqlLake, sql_engine: Any, sql_client: Any) -> dict[str, str]:
    """Filled in once both surfaces' engines exist, so their temp folders are known."""
    return targets(sql_lake)


# -- outcomes ---------------------------------------------------------------------------------------------------


def _plain(rows: Any) -> list[list[Any]]:
    """Rows as JSON would carry them (tuples -> lists, dates -> strings)."""
    plain: list[list[Any]] = json.loads(json.dumps([list(r) for r in rows], default=str))
    return plain


def leak_problem(lake: SqlLake, text: str) -> str | None:
    """Which secret (absolute lake/temp path, canary) the answer holds, if any."""
    found = [s for s in lake.secrets() if s in text]
    return f"the answer holds {found[:3]}: {text[:300]}" if found else None


def _class_ok(exc: BaseException, names: tuple[str, ...]) -> bool:
    return any(c.__name__ in names for c in type(exc).__mro__)


def library_problem(case: Attack, lake: SqlLake, engine: Any, sql: str, params: dict[str, str] | None) -> str | None:
    """None when the library refused the attack as the contract says (or answered without a secret)."""
    try:
        result = engine.execute(sql, params=params) if params else engine.execute(sql)
    except QueryError as exc:
        text = str(exc)
        if "\n" in text:
            return f"error message is not one line: {text[:500]!r}"
        if case.mode == "refuse" and not _class_ok(exc, case.errors):
            return f"{type(exc).__name__} instead of one of {case.errors}: {text[:300]}"
        if case.message and case.message not in text.lower():
            return f"error does not say {case.message!r}: {text[:300]}"
        return None
    except Exception as exc:
        return f"{type(exc).__name__} (not a QueryError): {str(exc)[:300]}"
    rows = _plain(result.rows)
    if case.mode == "no-leak":
        return leak_problem(lake, json.dumps([result.columns, rows]))
    return f"ran instead of being refused: {result.columns} {str(rows[:3])[:300]}"


def http_problem(case: Attack, lake: SqlLake, client: Any, sql: str) -> str | None:
    """None when POST /api/query refused the attack with a one-line JSON 4xx (or answered without a secret)."""
    answer = client.post("/api/query", json={"sql": sql})
    if answer.status_code == 200:
        if case.mode == "no-leak":
            return leak_problem(lake, answer.text)
        return f"HTTP 200 instead of a refusal: {answer.text[:300]}"
    if answer.status_code not in case.http:
        return f"HTTP {answer.status_code} instead of {case.http}: {answer.text[:300]}"
    if not answer.headers.get("content-type", "").startswith("application/json"):
        return f"not JSON: {answer.headers.get('content-type')} {answer.text[:200]}"
    message = answer.json().get("error")
    if not isinstance(message, str) or not message.strip() or "\n" in message:
        return f"error is not one line: {answer.text[:300]}"
    if case.message and case.message not in message.lower():
        return f"error does not say {case.message!r}: {message[:300]}"
    return None


def cli_problem(case: Attack, lake: SqlLake, sql: str) -> str | None:
    """None when `eventlake query` exited 1 with one line on stderr (or answered without a secret)."""
    proc = run_cli(lake, sql, "--format", "json")
    if proc.returncode == 0:
        if case.mode == "no-leak":
            return leak_problem(lake, proc.stdout)
        return f"exit 0 instead of a refusal: {proc.stdout[:300]}"
    if proc.returncode != 1:
        return f"exit code {proc.returncode} instead of 1: {proc.stderr[-500:]}"
    try:
        line = one_error_line(proc.stderr)
    except AssertionError as exc:
        return str(exc)
    if case.message and case.message not in line.lower():
        return f"error does not say {case.message!r}: {line[:300]}"
    return None if proc.stdout.strip() == "" else f"stdout is not empty: {proc.stdout[:200]}"


def verdict(problem: str | None, before: World) -> None:
    """Fail with the problem and with whatever the attack changed."""
    messages = [problem] if problem else []
    try:
        assert_nothing_changed(before)
    except AssertionError as exc:
        messages.append(str(exc))
    assert not messages, "\n".join(messages)


def _params(case: Attack, values: dict[str, str]) -> dict[str, str] | None:
    return {k: render(v, values) for k, v in case.params.items()} if case.params else None


# -- the corpus -------------------------------------------------------------------------------------------------


def test_corpus_is_large_and_ids_are_unique() -> None:
    ids = [c.id for c in ATTACKS] + list(SAVED_VIEW_ATTACKS) + [d.id for d in DOS]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert len(ATTACKS) + len(SAVED_VIEW_ATTACKS) + len(DOS) >= 150
    assert 25 <= sum(c.cli for c in ATTACKS) <= 40
    assert len(ALLOWED) >= 20


@pytest.mark.parametrize("case", ATTACKS, ids=[c.id for c in ATTACKS])
def test_attack_library(
    case: Attack, sql_lake: SqlLake, sql_engine: Any, attack_targets: dict[str, str], world: World
) -> None:
    sql = render(case.sql, attack_targets)
    verdict(library_problem(case, sql_lake, sql_engine, sql, _params(case, attack_targets)), world)


@pytest.mark.parametrize("case", ATTACKS, ids=[c.id for c in ATTACKS])
def test_attack_http(
    case: Attack, sql_lake: SqlLake, sql_client: Any, attack_targets: dict[str, str], world: World
) -> None:
    verdict(http_problem(case, sql_lake, sql_client, render(case.sql, attack_targets)), world)


CLI_ATTACKS = [c for c in ATTACKS if c.cli]


CliOutcomes = tuple[dict[str, str | None], list[str]]


@pytest.fixture(scope="module")
def cli_outcomes(sql_lake: SqlLake, attack_targets: dict[str, str]) -> CliOutcomes:
    """The CLI attacks, two processes at a time (start-up dominates); what the batch changed, if anything."""
    before = snapshot_world(sql_lake)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {c.id: pool.submit(cli_problem, c, sql_lake, render(c.sql, attack_targets)) for c in CLI_ATTACKS}
        problems = {key: future.result() for key, future in futures.items()}
    changes = world_changes(before)
    if changes:
        restore_world(before)
    return problems, changes


@pytest.mark.e2e
@pytest.mark.parametrize("case", CLI_ATTACKS, ids=[c.id for c in CLI_ATTACKS])
def test_attack_cli(case: Attack, cli_outcomes: CliOutcomes) -> None:
    """Refused by `eventlake query`; the batch of CLI attacks changed nothing (it ran as one, in parallel)."""
    problems, changes = cli_outcomes
    messages = [m for m in (problems[case.id],) if m]
    if changes:
        ran = sorted(k for k, p in problems.items() if p and ("exit 0" in p))
        messages.append(f"the CLI attacks changed the world (those that ran: {ran}):\n  " + "\n  ".join(changes[:20]))
    assert not messages, "\n".join(messages)


# -- saved views someone else wrote into the catalog ---------------------------------------------------------


@pytest.mark.parametrize("view_id", list(SAVED_VIEW_ATTACKS))
def test_saved_view_attack(view_id: str, sql_lake: SqlLake, attack_targets: dict[str, str], tmp_path: Path) -> None:
    """A malicious view in the catalog is never run: not when an engine is built, nor when queried by name;
    `eventlake views create` refuses it too."""
    from eventlake.catalog import open_catalog
    from eventlake.query import connect
    from eventlake.query.catalog_views import create_view

    sql = render(SAVED_VIEW_ATTACKS[view_id], attack_targets)
    small = build_sunk_lake(tmp_path / "lake2", rows=300)
    settings = small.settings
    with open_catalog(settings) as store:
        store.save_view("evil", sql)
    before = snapshot_world(sql_lake, tmp_path)
    problems: list[str] = []
    case = Attack(view_id, "saved-view", "SELECT * FROM evil", errors=NAMES)
    try:
        with connect(settings) as engine:
            problems.append(library_problem(case, sql_lake, engine, "SELECT * FROM evil", None) or "")
            ok = engine.execute("SELECT count(*) FROM stock_ticks").rows
            if ok != [(len(small.source),)]:
                problems.append(f"the other tables broke: {ok}")
        with http_client(settings) as client:
            problems.append(http_problem(case, sql_lake, client, "SELECT * FROM evil") or "")
        try:
            create_view(settings, "evil_too", sql)
            problems.append("`views create` stored it")
        except QueryError:
            pass
        problems = [p for p in problems if p]
        verdict("\n".join(problems) or None, before)
    finally:
        if world_changes(before):
            restore_world(before)


# -- positive controls -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ALLOWED, ids=[c.id for c in ALLOWED])
def test_allowed_library(case: Allowed, sql_lake: SqlLake, sql_engine: Any, world: World) -> None:
    result = sql_engine.execute(case.sql)
    rows = _plain(result.rows)
    case.check(sql_lake, result.columns, rows)
    assert leak_problem(sql_lake, json.dumps([result.columns, rows])) is None
    assert_nothing_changed(world)


@pytest.mark.parametrize("case", ALLOWED, ids=[c.id for c in ALLOWED])
def test_allowed_http(case: Allowed, sql_lake: SqlLake, sql_client: Any, world: World) -> None:
    answer = sql_client.post("/api/query", json={"sql": case.sql})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    case.check(sql_lake, body["columns"], body["rows"])
    assert leak_problem(sql_lake, answer.text) is None
    assert_nothing_changed(world)


CLI_ALLOWED = [c for c in ALLOWED if c.cli]


@pytest.mark.e2e
@pytest.mark.parametrize("case", CLI_ALLOWED, ids=[c.id for c in CLI_ALLOWED])
def test_allowed_cli(case: Allowed, sql_lake: SqlLake, world: World) -> None:
    proc = run_cli(sql_lake, case.sql, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    columns = list(records[0]) if records else []
    case.check(sql_lake, columns, [list(r.values()) for r in records])
    assert leak_problem(sql_lake, proc.stdout + proc.stderr) is None
    assert_nothing_changed(world)


def test_sql_under_the_size_limit_runs(sql_engine: Any, sql_client: Any, world: World) -> None:
    assert sql_engine.execute(NEAR_LIMIT_SQL).rows == [(1,)]
    answer = sql_client.post("/api/query", json={"sql": NEAR_LIMIT_SQL})
    assert answer.status_code == 200 and answer.json()["rows"] == [[1]], answer.text[:300]
    assert_nothing_changed(world)


def test_named_parameters_are_bound_by_duckdb(sql_lake: SqlLake, sql_engine: Any, world: World) -> None:
    sql = "SELECT count(*) AS n FROM stock_ticks WHERE symbol = $symbol AND volume > $min_volume"
    result = sql_engine.execute(sql, params={"symbol": "AAPL", "min_volume": 100})
    src = sql_lake.source
    assert result.rows == [(int(((src["symbol"] == "AAPL") & (src["volume"] > 100)).sum()),)]
    hostile = sql_engine.execute(
        "SELECT count(*) AS n FROM stock_ticks WHERE symbol = $symbol",
        params={"symbol": "'; COPY (SELECT 1) TO 'x.csv'; --"},
    )
    assert hostile.rows == [(0,)]
    assert_nothing_changed(world)


def test_rows_are_capped_with_truncation(sql_engine: Any, sql_client: Any, world: World) -> None:
    small = sql_engine.execute("SELECT * FROM range(1000)", max_rows=10)
    assert len(small.rows) == 10 and small.truncated
    answer = sql_client.post("/api/query", json={"sql": "SELECT range AS n FROM range(100001)"})
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["truncated"] is True and len(answer.json()["rows"]) == 100_000
    assert_nothing_changed(world)


def _temp_paths_held(obj: Any, tmp: Path, depth: int = 0, seen: set[int] | None = None) -> set[Path]:
    """Paths under `tmp` an engine holds in its attributes (two levels deep)."""
    seen = seen if seen is not None else set()
    if id(obj) in seen or depth > 2:
        return set()
    seen.add(id(obj))
    found: set[Path] = set()
    values = vars(obj).values() if hasattr(obj, "__dict__") else []
    for value in values:
        if isinstance(value, (str, Path)) and str(value).startswith(str(tmp) + os.sep):
            top = Path(value).relative_to(tmp).parts[0]
            found.add(tmp / top)
        elif hasattr(value, "__dict__") and type(value).__module__.startswith("eventlake"):
            found |= _temp_paths_held(value, tmp, depth + 1, seen)
    return found


def test_engine_temp_dirs_are_private_and_per_engine(sql_lake: SqlLake) -> None:
    from eventlake.query import connect

    with connect(sql_lake.settings) as one, connect(sql_lake.settings) as two:
        held_one = _temp_paths_held(one, sql_lake.tmp)
        held_two = _temp_paths_held(two, sql_lake.tmp)
        assert held_one and held_two
        assert not held_one & held_two, f"engines share temp folders: {held_one & held_two}"
        for path in held_one | held_two:
            assert path.name != "eventlake-duckdb", "the shared, fixed temp folder is still used"
            assert path.is_dir(), f"{path} is not made by the engine (a shared name another user can take first)"
            assert path.stat().st_mode & 0o777 == 0o700, f"{path} is mode {path.stat().st_mode & 0o777:o}"
            assert path.stat().st_uid == os.getuid()
    for path in held_one | held_two:
        assert not path.exists(), f"{path} is left behind after close()"


def test_refusals_are_query_errors_of_the_right_family() -> None:
    from eventlake.errors import EventlakeError
    from eventlake.query import exceptions

    assert issubclass(exceptions.RefusedStatement, QueryError) and issubclass(QueryError, EventlakeError)
    assert issubclass(BadSql, QueryError)
    too_large = getattr(exceptions, "ResultTooLarge", None)
    assert too_large is not None, "eventlake.query.exceptions.ResultTooLarge is missing"
    assert issubclass(too_large, QueryError)


# -- DoS --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The probes' $TMPDIR: outside the watched folders (a probe stopped at its bound leaves its engine's)."""
    return tmp_path_factory.mktemp("probe-tmp")


def _words_ok(case: Dos, message: str) -> bool:
    return not case.words or any(w.lower() in message.lower() for w in case.words)


def probe(case: Dos, surface: str, lake: SqlLake, tmp: Path) -> dict[str, Any]:
    request = {
        "surface": surface,
        "lake": str(lake.root),
        "sql": case.build(),
        "bound_s": TIME_LIMIT_S + MARGIN_S,
        "query": {"time_limit_s": TIME_LIMIT_S, "memory_limit": "256MB", **case.query},
    }
    env = {**cli_env(lake), "TMPDIR": str(tmp)}
    proc = subprocess.run(
        [sys.executable, PROBE],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=lake.cwd,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the probe printed no answer (exit {proc.returncode}): {proc.stderr[-2000:]}"
    answer: dict[str, Any] = json.loads(lines[-1])
    return answer


def dos_problems(case: Dos, surface: str, answer: dict[str, Any]) -> list[str]:
    """What is wrong with how a surface answered a DoS request."""
    kind = answer["kind"]
    if kind == "setup":
        return [f"could not set up: {answer['error_class']}: {answer['message']}"]
    if kind == "overrun":
        return [f"no answer within {TIME_LIMIT_S + MARGIN_S:g} s (time limit {TIME_LIMIT_S:g} s + margin)"]
    problems = []
    if answer["elapsed_s"] > TIME_LIMIT_S + MARGIN_S:
        problems.append(f"answered after {answer['elapsed_s']:.1f} s")
    if answer["rss_growth"] > RSS_BOUND:
        problems.append(f"the process grew by {answer['rss_growth'] / 2**20:.0f} MB")
    message = str(answer.get("message") or "")
    if kind == "ok":
        if not case.ok:
            problems.append(f"ran instead of being stopped ({answer})"[:400])
    elif surface == "library":
        if not answer["query_error"] or answer["error_class"] not in case.errors:
            problems.append(f"{answer['error_class']} instead of one of {case.errors}: {message[:300]}")
    else:
        if answer["status"] not in case.http:
            problems.append(f"HTTP {answer['status']} instead of {case.http}: {message[:300] or answer.get('body')}")
        if not answer["content_type"].startswith("application/json"):
            problems.append(f"not JSON: {answer['content_type']}")
    if kind == "error":
        if not message.strip() or "\n" in message:
            problems.append(f"error is not one line: {message[:300]!r}")
        if "recursion" in message.lower():
            problems.append(f"a RecursionError leaked: {message[:200]}")
        if not _words_ok(case, message):
            problems.append(f"error does not name the limit: {message[:300]}")
    return problems


DOS_RUNS = [(d, s) for d in DOS for s in d.surfaces]


@pytest.fixture(scope="module")
def dos_answers(sql_lake: SqlLake, probe_tmp: Path) -> tuple[dict[tuple[str, str], dict[str, Any]], list[str]]:
    """Every DoS probe, two at a time (each in its own process, timed inside it), and what they changed."""
    before = snapshot_world(sql_lake)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {(d.id, s): pool.submit(probe, d, s, sql_lake, probe_tmp) for d, s in DOS_RUNS}
        answers = {key: future.result() for key, future in futures.items()}
    changes = world_changes(before)
    if changes:
        restore_world(before)
    return answers, changes


@pytest.mark.parametrize(("case", "surface"), DOS_RUNS, ids=[f"{d.id}-{s}" for d, s in DOS_RUNS])
def test_dos(case: Dos, surface: str, dos_answers: tuple[dict[tuple[str, str], dict[str, Any]], list[str]]) -> None:
    answers, changes = dos_answers
    problems = dos_problems(case, surface, answers[(case.id, surface)])
    assert not problems, "\n".join(problems)
    assert not changes, "the DoS probes changed the world:\n  " + "\n  ".join(changes[:20])


def _run_measured(
    args: list[str], env: dict[str, str], cwd: Path, out: Path, limit_s: float
) -> tuple[int | None, float, int, str]:
    """Run a command, sampling its RSS; kill it after `limit_s`. -> (exit code or None, seconds, peak RSS, stderr)."""
    with (out / "stdout").open("wb") as stdout, (out / "stderr").open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(args, stdout=stdout, stderr=stderr, env=env, cwd=cwd)
        peak = 0
        try:
            ps = psutil.Process(proc.pid)
            while proc.poll() is None and time.perf_counter() - started < limit_s:
                try:
                    peak = max(peak, ps.memory_info().rss)
                except psutil.Error:
                    break
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
    elapsed = time.perf_counter() - started
    killed = elapsed >= limit_s and code < 0
    return (None if killed else code), elapsed, peak, (out / "stderr").read_text(errors="replace")


CLI_DOS = [d for d in DOS if d.cli]


@pytest.mark.e2e
@pytest.mark.parametrize("case", CLI_DOS, ids=[d.id for d in CLI_DOS])
def test_dos_cli(case: Dos, sql_lake: SqlLake, probe_tmp: Path, world: World) -> None:
    sql = case.build()
    assert len(sql.encode()) < ARGV_MAX
    env = cli_env(sql_lake, EVENTLAKE_QUERY__MEMORY_LIMIT="256MB")
    if "max_result_bytes" in case.query:
        env["EVENTLAKE_QUERY__MAX_RESULT_BYTES"] = str(case.query["max_result_bytes"])
    bound = TIME_LIMIT_S + MARGIN_S + CLI_START_S
    args = [EVENTLAKE, "query", sql, "--lake", str(sql_lake.root), "--format", "csv", "--time-limit", str(TIME_LIMIT_S)]
    out = probe_tmp / f"cli-{case.id}"
    out.mkdir()
    code, elapsed, peak, stderr = _run_measured(args, env, sql_lake.cwd, out, bound + 10)
    problems = []
    if code is None or elapsed > bound:
        problems.append(f"no answer within {bound:g} s ({elapsed:.1f} s)")
    if peak > CLI_RSS_BOUND:
        problems.append(f"the process took {peak / 2**20:.0f} MB")
    if code == 0 and not case.ok:
        problems.append("exit 0 instead of an error")
    if code not in (0, 1, None):
        problems.append(f"exit code {code}: {stderr[-500:]}")
    if code == 1:
        try:
            line = one_error_line(stderr)
            if not _words_ok(case, line):
                problems.append(f"error does not name the limit: {line[:300]}")
        except AssertionError as exc:
            problems.append(str(exc)[:1000])
    verdict("\n".join(problems) or None, world)
