"""--exactly-once without Kafka: where a run resumes, when it must refuse, and that sources resume exactly."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from eventlake.produce import BadRow, open_source
from eventlake.produce.exceptions import ResumeRefused
from eventlake.produce.progress import (
    FileIdentity,
    Progress,
    Replay,
    current_identity,
    file_identity,
    mark_at,
    plan_resume,
)
from eventlake.produce.sources import FileSource, ParquetSource, Source, locate_row


def walk(src: Source) -> list[tuple[Any, int | None, int, list[str]]]:
    """Each record with the position after it, and the lines of the bad rows handed over before it."""
    out: list[tuple[Any, int | None, int, list[str]]] = []
    bad: list[BadRow] = []
    for record in src.records(bad.append):
        out.append((record, src.position.line, src.position.offset, [b.reason for b in bad]))
        bad.clear()
    out.append((None, src.position.line, src.position.offset, [b.reason for b in bad]))  # the end
    return out


def resumed(spec: Path, line: int | None, offset: int, columns: list[tuple[str, str]] | None) -> list[Any]:
    src = open_source(spec)
    if isinstance(src, ParquetSource):
        src.resume(offset)
    else:
        assert isinstance(src, FileSource)
        src.resume(line or 0, offset, columns)
    return walk(src)


CSV = (
    b"n,k,note\n"
    b"1,a,plain\n"
    b'2,b,"quoted, with comma"\n'
    b"\n"
    b'3,c,"two\nlines"\n'
    b"4,d\n"  # bad: too few fields
    b"5,e,x\n"
    b"\xff,f,y\n"  # bad: not UTF-8
    b'6,g,"stray\n'  # bad: unterminated quote
    b"7,h,z\n"
    b"8,i,last\n"
)


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.jsonl"])
def test_a_text_source_resumed_after_any_record_yields_exactly_the_rest(tmp_path: Path, name: str) -> None:
    if name.endswith(".jsonl"):
        data = b'{"n": 1}\n\n{"n": 2}\nnot json\n{"n": 3, "big": 123456789012345678901234567890}\n[4]\n{"n": 5}\n'
    else:
        data = CSV
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    full = walk(open_source(path))
    records = [r["n"] for r, *_ in full if r is not None]
    assert records == ([1, 2, 3, 5] if name.endswith(".jsonl") else [1, 2, 3, 5, 7, 8])
    assert sum(len(bad) for *_, bad in full) == (2 if name.endswith(".jsonl") else 3)
    src = open_source(path)
    list(src.records(lambda b: None))
    columns = src.position.columns
    for i, (_, line, offset, _) in enumerate(full):
        rest = resumed(path, line, offset, columns)
        # The same records, the same bad rows between them, the same positions.
        assert rest == (full[i + 1 :] if i < len(full) - 1 else [full[-1]])


def test_csv_resumed_with_the_stored_columns_types_values_as_the_first_run_did(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"zip,n\n02134,1\n10001,2\n")
    src = open_source(path)
    first = list(src.records(lambda b: None))
    assert src.position.columns == [("zip", "text"), ("n", "int")]
    assert first[0] == {"zip": "02134", "n": 1}
    line_one_end = len(b"zip,n\n02134,1\n")
    (record, *_), _end = resumed(path, 2, line_one_end, src.position.columns)
    assert record == {"zip": "10001", "n": 2}  # text, as inferred from the whole sample: not 10001


def test_parquet_resumes_inside_and_across_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"n": list(range(25))}), path, row_group_size=10)
    meta = pq.ParquetFile(path).metadata
    assert [locate_row(meta, r) for r in (0, 9, 10, 24, 25)] == [(0, 0), (0, 9), (1, 0), (2, 4), (3, 0)]
    for start in (0, 3, 10, 17, 24, 25):
        rest = [r["n"] for r, *_ in resumed(path, start, start, None) if r is not None]
        assert rest == list(range(start, 25))


def identity(**changes: Any) -> FileIdentity:
    base = {"size": 1000, "mtime_ns": 1, "head_len": 1000, "head_sha256": "h", "tail_sha256": "t"}
    return FileIdentity(**{**base, **changes})


def progress(**changes: Any) -> Progress:
    base: dict[str, Any] = {
        "kind": "csv",
        "compressed": False,
        "file": identity(),
        "line": 40,
        "offset": 600,
        "records": 39,
        "bad_rows": 0,
        "done": False,
        "mark": "m",
    }
    return Progress(**{**base, **changes})


def plan(stored: Progress | None, current: FileIdentity, mark: tuple[str, bool] = ("m", True), **kw: Any) -> Any:
    options = {"kind": "csv", "compressed": False, **kw}
    return plan_resume(stored, current, mark=lambda offset: mark, name="t.csv", topic="t", **options)


def test_resume_plans() -> None:
    stored = progress()
    assert plan(None, identity()).start is None  # never sent
    assert plan(stored, identity(), restart=True).start is None  # --restart
    assert plan(stored, identity()).start == stored  # same file: go on
    assert plan(stored, identity(mtime_ns=99)).start == stored  # touched or copied: the bytes decide
    done = progress(done=True, offset=1000)
    assert plan(done, identity()).nothing_left
    grown = plan(done, identity(size=1500))  # rows appended since: send them
    assert grown.start == done and not grown.nothing_left
    parquet = progress(kind="parquet", offset=40, mark=None)
    assert plan(parquet, identity(mtime_ns=5), kind="parquet").start == parquet


@pytest.mark.parametrize(
    ("stored", "current", "mark", "kind", "words"),
    [
        (progress(), identity(head_sha256="other"), ("m", True), "csv", "first bytes differ"),
        (progress(), identity(head_len=500, size=500), ("m", True), "csv", "first bytes differ"),
        (progress(), identity(size=599), ("m", True), "csv", "shorter"),
        (progress(), identity(), ("changed", True), "csv", "changed before line 40"),
        (progress(done=True, offset=1000), identity(size=1200), ("m", False), "csv", "without a newline"),
        (progress(kind="parquet", mark=None), identity(size=1001), ("m", True), "parquet", "changed"),
        (progress(kind="parquet", mark=None), identity(tail_sha256="x"), ("m", True), "parquet", "changed"),
        (progress(kind="jsonl"), identity(), ("m", True), "csv", "as jsonl before"),
    ],
)
def test_a_changed_file_is_refused_with_what_to_do(
    stored: Progress, current: FileIdentity, mark: tuple[str, bool], kind: str, words: str
) -> None:
    with pytest.raises(ResumeRefused, match=words) as caught:
        plan(stored, current, mark, kind=kind)
    assert "--restart" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_identity_and_mark_of_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}\n')
    first = file_identity(path)
    digest, ends_line = mark_at(path, 9)
    with path.open("ab") as fh:
        fh.write(b'{"n": 3}\n')
    stored = progress(kind="jsonl", file=first, offset=9, mark=digest, done=True)
    grown = current_identity(path, stored)
    assert grown.head_len == first.head_len and grown.head_sha256 == first.head_sha256
    assert ends_line and mark_at(path, 9)[0] == digest
    result = plan_resume(stored, grown, kind="jsonl", compressed=False, mark=lambda o: mark_at(path, o))
    assert result.start == stored and not result.nothing_left
    path.write_bytes(b'{"n": 9}\n{"n": 2}\n{"n": 3}\n')  # rewritten in place
    with pytest.raises(ResumeRefused):
        plan_resume(
            stored, current_identity(path, stored), kind="jsonl", compressed=False, mark=lambda o: mark_at(path, o)
        )


def test_progress_records_round_trip() -> None:
    stored = progress(columns=[("n", "int"), ("k", "text")], extra={"topic": "t"})
    assert Progress.decode(stored.encode()) == stored
    with pytest.raises(ValueError, match="format"):
        Progress.decode(b'{"format": 99}')


def test_the_transactional_id_names_topic_path_and_replay_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "a.csv")
    base = Replay.of("t", Path("a.csv"))
    assert base == Replay.of("t", tmp_path / "a.csv") == Replay.of("t", Path("link.csv"))
    assert base.path == str(tmp_path / "a.csv")
    ids = {
        base.transactional_id,
        Replay.of("u", Path("a.csv")).transactional_id,
        Replay.of("t", Path("a.csv"), "second").transactional_id,
    }
    assert len(ids) == 3
    assert all(i.startswith("eventlake-produce-") and len(i) < 64 for i in ids)
    assert base.key == base.transactional_id.encode()


def test_stdin_is_not_resumable() -> None:
    assert not isinstance(open_source("-", stdin=io.BytesIO(b"")), (FileSource, ParquetSource))
