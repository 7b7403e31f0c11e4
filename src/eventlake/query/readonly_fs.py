"""The only way DuckDB reaches local files: a read-only filesystem rooted at one folder.

DuckDB's own file lock (`allowed_paths`) cannot tell reading from writing: a path it may read
it may also overwrite. So the engine never gives DuckDB a local path. Each view names its
files as `<protocol>://<path relative to the root>`, and DuckDB opens them through this
fsspec filesystem, which opens for reading only (`rb`), resolves every name inside its root
(no `..`, no symlink out), and refuses everything else. A hole in the SQL guard therefore
still cannot change a lake file; and SQL users see lake-relative names, never absolute ones.

It costs about 0.5 ms per file opened (DuckDB calls into Python); large files read as fast as
natively, since DuckDB still reads whole column chunks per call.
"""

# os.path and os.stat on purpose: DuckDB calls these once per file it opens, Path objects cost more.
# ruff: noqa: PTH113, PTH116, PTH118
from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fsspec import AbstractFileSystem


class ReadOnlyFiles(AbstractFileSystem):  # type: ignore[misc]  # fsspec has no type hints: its base is Any
    """Files under `root`, named `<protocol>://relative/path`, opened read-only."""

    cachable = False  # one instance per engine: fsspec must not hand it to another root

    def __init__(self, root: str | Path, protocol: str) -> None:
        super().__init__()
        self.root = os.path.realpath(root)
        self.protocol = protocol
        self._prefix = f"{protocol}://"
        # Lake files never change under their names (offset-named; compaction writes new ones), so
        # each name is resolved and stat'ed once: DuckDB asks for open, size and mtime per file, twice
        # per query, and realpath + stat from its threads under the GIL cost ~0.3 s for 170 files.
        self._resolved: dict[str, str] = {}
        self._stats: dict[str, tuple[int, float]] = {}
        self._urls: dict[str, str] = {}

    def url(self, path: str | Path) -> str:
        """The name DuckDB uses for a file under the root (resolved once per name: files never change)."""
        key = str(path)
        name = self._urls.get(key)
        if name is None:
            relative = os.path.relpath(os.path.realpath(path), self.root)
            if relative.startswith(".."):
                raise PermissionError(f"{path} is outside {self.root}")
            name = self._urls[key] = self._prefix + Path(relative).as_posix()
        return name

    def _real(self, path: str) -> str:
        real = self._resolved.get(path)
        if real is None:
            relative = path.removeprefix(self._prefix)
            real = os.path.realpath(os.path.join(self.root, relative))
            if not real.startswith(self.root + os.sep):
                raise PermissionError(f"{self._prefix}{relative}: outside the lake")
            self._resolved[path] = real
        return real

    def _stat(self, path: str) -> tuple[int, float]:
        stat = self._stats.get(path)
        if stat is None:
            st = os.stat(self._real(path))
            stat = self._stats[path] = (st.st_size, st.st_mtime)
        return stat

    # -- what DuckDB calls ------------------------------------------------------------------------
    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> PositionalReader:
        if mode != "rb":
            raise PermissionError(f"{path}: the query engine opens lake files read-only")
        reader = PositionalReader(self._real(path))
        self._stats.setdefault(path, (reader.size, reader.mtime))
        return reader

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        size, mtime = self._stat(path)
        return {"name": path, "size": size, "type": "file", "mtime": mtime}

    def size(self, path: str) -> int:
        return self._stat(path)[0]

    def modified(self, path: str) -> datetime:
        return datetime.fromtimestamp(self._stat(path)[1], UTC)

    def exists(self, path: str, **kwargs: Any) -> bool:
        if path in self._stats:
            return True
        try:
            return os.path.isfile(self._real(path))
        except PermissionError:
            return False

    def isfile(self, path: str) -> bool:
        return self.exists(path)

    def isdir(self, path: str) -> bool:
        return False

    def glob(self, path: str, **kwargs: Any) -> list[str]:
        """No patterns: a listed file or nothing (views name every file explicitly)."""
        return [path] if self.exists(path) else []

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
