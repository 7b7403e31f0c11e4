"""Files only their owner may read: written atomically, mode 600 from the first byte."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def write_private(path: Path, data: str | bytes) -> None:
    """Replace `path` atomically with `data`, mode 600 from its first byte.

    Readers (Kafka reloading its keystore, a client reading the CA) see the old file or the
    new one, never half of either.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), PRIVATE_FILE)
        fh.write(raw)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def make_private(path: Path) -> None:
    """Remove group and other permissions from `path` (never following a symbolic link)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
        return
    path.chmod(stat.S_IMODE(st.st_mode) & ~0o077)
