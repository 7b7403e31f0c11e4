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


class ReadOnlyFiles(AbstractFileSystem):
    """Files under `root`, named `<protocol>://relative/path`, opened read-only."""

    cachable = False  # one instance per engine: fsspec must not hand it to another root

    def __init__(self, root: str | Path, protocol: str) -> None:
        super().__init__()
        self.root = os.path.realpath(root)
        self.protocol = protocol
        self._prefix = f"{protocol}://"

    def url(self, path: str | Path) -> str:
        """The name DuckDB uses for a file under the root."""
        relative = os.path.relpath(os.path.realpath(path), self.root)
        if relative.startswith(".."):
            raise PermissionError(f"{path} is outside {self.root}")
        return self._prefix + Path(relative).as_posix()

    def _real(self, path: str) -> str:
        relative = path.removeprefix(self._prefix)
        real = os.path.realpath(os.path.join(self.root, relative))
        if not real.startswith(self.root + os.sep):
            raise PermissionError(f"{self._prefix}{relative}: outside the lake")
        return real

    # -- what DuckDB calls ------------------------------------------------------------------------
    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> PositionalReader:
        if mode != "rb":
            raise PermissionError(f"{path}: the query engine opens lake files read-only")
        return PositionalReader(self._real(path))

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        st = os.stat(self._real(path))
        return {"name": path, "size": st.st_size, "type": "file", "mtime": st.st_mtime}

    def size(self, path: str) -> int:
        return os.stat(self._real(path)).st_size

    def modified(self, path: str) -> datetime:
        return datetime.fromtimestamp(os.stat(self._real(path)).st_mtime, UTC)

    def exists(self, path: str, **kwargs: Any) -> bool:
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
    """A read-only file whose position is per thread, read with pread.

    DuckDB reads one handle from several threads, each as `seek(offset)` then `read(n)`: two
    calls into Python, between which another thread may seek. With a shared position that
    interleaving returns another row group's bytes (seen as "ZSTD Decompression failure" on
    large files); a position per thread and `os.pread` make each thread's pair its own.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._size = os.fstat(self._fd).st_size
        self._local = threading.local()
        self.closed = False

    def _pos(self) -> int:
        return getattr(self._local, "pos", 0)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos(), os.SEEK_END: self._size}[whence]
        self._local.pos = max(base + offset, 0)
        return self._local.pos

    def tell(self) -> int:
        return self._pos()

    def read(self, size: int = -1) -> bytes:
        pos = self._pos()
        wanted = self._size - pos if size is None or size < 0 else size
        data = os.pread(self._fd, max(wanted, 0), pos)
        self._local.pos = pos + len(data)
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
