"""The only way DuckDB reaches local files: a read-only filesystem rooted at one folder.

DuckDB's own file lock (`allowed_paths`) cannot tell reading from writing: a path it may read
it may also overwrite. So the engine never gives DuckDB a local path. Each view names its
files as `<protocol>://<path relative to the root>`, and DuckDB opens them through this
fsspec filesystem, which opens for reading only (`rb`), resolves every name inside its root
(no `..`, no symlink out), and refuses everything else. A hole in the SQL guard therefore
still cannot change a lake file; and SQL users see lake-relative names, never absolute ones.

DuckDB calls into Python ~20 times per file and query (3 globs; 2 opens, sizes, mtimes, reads and
closes). What it asks most is answered by dict lookups (no Python frame), and its worker threads
keep their Python thread state (`_keep_thread_state`): ~0.55 ms of CPU per small file against
DuckDB's native 0.3 ms (`python -m bench.perfile`). Large files read as fast as natively, since
DuckDB still reads whole column chunks per call.
"""

# os.path and os.stat on purpose: DuckDB calls these once per file it opens, Path objects cost more.
# ruff: noqa: PTH113, PTH116, PTH118
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem


class _Answers(dict[str, Any]):
    """path -> DuckDB's answer about it, made once by `make` and then given from C.

    DuckDB asks per file and query, from its threads under the GIL, for glob, size, mtime and the
    protocol-qualified name (3 globs and 2 each of the rest per file per query). A bound
    `dict.__getitem__` answers a known path without running a Python frame; `make` runs only for
    a path not seen yet (and checks it against the root). Negative answers are not kept (a file
    may appear later); the table is emptied past `_MAX_ANSWERS` so a long-lived engine's memory
    stays bounded as compaction retires names (a miss costs one stat).
    """

    def __init__(self, make: Callable[[str], Any], keep: Callable[[Any], bool] = bool) -> None:
        super().__init__()
        self._make, self._keep = make, keep

    def __missing__(self, path: str) -> Any:
        answer = self._make(path)
        if self._keep(answer):
            if len(self) >= _MAX_ANSWERS:
                self.clear()
            self[path] = answer
        return answer


_MAX_ANSWERS = 100_000


class ReadOnlyFiles(AbstractFileSystem):  # type: ignore[misc]  # fsspec has no type hints: its base is Any
    """Files under `root`, named `<protocol>://relative/path`, opened read-only."""

    cachable = False  # one instance per engine: fsspec must not hand it to another root

    def __init__(self, root: str | Path, protocol: str) -> None:
        super().__init__()
        self.root = os.path.realpath(root)
        self.protocol = protocol
        self._prefix = f"{protocol}://"
        # Lake files never change under their names (offset-named; compaction writes new ones), so
        # each name is resolved once. Size and mtime are taken from the file each `open` opened
        # (fstat on its descriptor), so DuckDB's size/modified after an open describe that file.
        self._resolved = _Answers(self._resolve)
        self._sizes = _Answers(lambda path: self._stat(path)[0], keep=_always)
        self._mtimes = _Answers(lambda path: _utc(self._stat(path)[1]), keep=_always)
        self._files = _Answers(self._is_file)
        self._urls: dict[str, str] = {}
        # What DuckDB calls per file, answered by dict lookups (instance attributes shadow fsspec's methods).
        self.size = self._sizes.__getitem__
        self.modified = self._mtimes.__getitem__
        self.isfile = self.exists = self._files.__getitem__
        self.glob = _Answers(lambda path: [path] if self._files[path] else []).__getitem__
        self.unstrip_protocol = _Answers(self._unstripped).__getitem__

    def url(self, path: str | Path) -> str:
        """The name DuckDB uses for a file under the root (resolved once per name: files never change)."""
        key = str(path)
        name = self._urls.get(key)
        if name is None:
            relative = os.path.relpath(os.path.realpath(path), self.root)
            if relative.startswith(".."):
                raise PermissionError(f"{path} is outside {self.root}")
            if len(self._urls) >= _MAX_ANSWERS:
                self._urls.clear()
            name = self._urls[key] = self._prefix + Path(relative).as_posix()
        return name

    def _resolve(self, path: str) -> str:
        relative = path.removeprefix(self._prefix)
        real = os.path.realpath(os.path.join(self.root, relative))
        if not real.startswith(self.root + os.sep):
            raise PermissionError(f"{self._prefix}{relative}: outside the lake")
        return real

    def _real(self, path: str) -> str:
        real: str = self._resolved[path]
        return real

    def _stat(self, path: str) -> tuple[int, float]:
        st = os.stat(self._real(path))
        return st.st_size, st.st_mtime

    def _is_file(self, path: str) -> bool:
        try:
            return os.path.isfile(self._real(path))
        except PermissionError:
            return False

    def _unstripped(self, name: str) -> str:
        return name if name.startswith(self._prefix) else self._prefix + name

    # -- what DuckDB calls (besides the lookups made in __init__) ----------------------------------
    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> PositionalReader:
        if mode != "rb":
            raise PermissionError(f"{path}: the query engine opens lake files read-only")
        if not getattr(_thread_kept, "yes", False):
            _keep_thread_state()
        reader = PositionalReader(self._real(path))
        self._sizes[path], self._mtimes[path] = reader.size, _utc(reader.mtime)
        return reader

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return {"name": path, "size": self._sizes[path], "type": "file", "mtime": self._mtimes[path].timestamp()}

    def isdir(self, path: str) -> bool:
        return False

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        raise PermissionError(f"{path}: the query engine does not list folders")

    def _rm(self, path: str) -> None:
        raise PermissionError(f"{path}: the query engine deletes nothing")

    def mv(self, path1: str, path2: str, **kwargs: Any) -> None:
        raise PermissionError(f"{path1}: the query engine moves nothing")

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        raise PermissionError(f"{path}: the query engine creates nothing")

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        raise PermissionError(f"{path}: the query engine creates nothing")

    def touch(self, path: str, truncate: bool = True, **kwargs: Any) -> None:
        raise PermissionError(f"{path}: the query engine creates nothing")


_thread_kept = threading.local()  # set on a thread once its Python thread state is kept


def _keep_thread_state() -> None:
    """Keep this thread's Python thread state for the thread's life (DuckDB's worker threads).

    DuckDB calls the layer from its own threads. Each call takes the GIL with a thread state made
    for that call and deleted after it, and a new thread state allocates (mmap) and frees (munmap)
    its frame stack: ~0.1 ms of CPU per file (measured, `bench/perfile.py`), a third of the
    layer's cost. One `PyGILState_Ensure` never released keeps the state alive (its count stays
    above zero), so later calls from this thread reuse it. Costs one thread state (~20 KB) per
    DuckDB worker thread, kept until the process ends; on a Python-made thread it is a no-op
    (its state lives as long as the thread anyway).
    """
    import ctypes  # here: `eventlake query` start-up stays without it until a file is opened

    ctypes.pythonapi.PyGILState_Ensure()
    _thread_kept.yes = True


def _always(_answer: object) -> bool:
    return True


def _utc(mtime: float) -> datetime:
    return datetime.fromtimestamp(mtime, UTC)


class PositionalReader:
    """A read-only file shared by DuckDB's threads, read with pread, in the two ways DuckDB reads.

    Positional reads (Parquet) are `seek(offset)` then `read(n)`: two calls into Python from one
    thread while other threads do the same on the same handle. With a plain shared position,
    another thread's seek between the two returned another row group's bytes ("ZSTD
    Decompression failure" on large files). Sequential reads (gzip, CSV) are `read(n)` after
    `read(n)`, and one thread may seek where another then reads ("not a GZIP stream").
    So each seek moves the shared position and is also remembered for its own thread; that
    thread's next read uses it unless a sequential read happened since (which makes every
    remembered seek stale). A read with no fresh seek of its own continues from the shared
    position.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        st = os.fstat(self._fd)
        self._size = self.size = st.st_size
        self.mtime = st.st_mtime
        self._own = threading.local()  # (position, generation) of this thread's last seek
        self._lock = threading.Lock()
        self._shared = 0
        self._generation = 0  # bumped by each sequential read
        self.closed = False

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        with self._lock:
            base = {os.SEEK_SET: 0, os.SEEK_CUR: self._shared, os.SEEK_END: self._size}[whence]
            self._shared = max(base + offset, 0)
            self._own.seek = (self._shared, self._generation)
            return self._shared

    def tell(self) -> int:
        return self._shared

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            own = getattr(self._own, "seek", None)
            self._own.seek = None
            if own is not None and own[1] == self._generation:
                pos = own[0]  # the second half of this thread's seek-then-read
            else:
                pos = self._shared
                self._generation += 1
            wanted = self._size - pos if size is None or size < 0 else size
            data = os.pread(self._fd, max(wanted, 0), pos)
            self._shared = pos + len(data)
            return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._fd)

    def __enter__(self) -> PositionalReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
