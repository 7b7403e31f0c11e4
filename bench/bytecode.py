"""Compiled bytecode for the eventlake tree a start-up measurement runs.

An installed wheel has its `.pyc` files (pip compiles them at install time), and so has every
package DuckDB's side imports. An editable install under `PYTHONDONTWRITEBYTECODE=1` (set on
the machines the bench runs on) has none, so every `eventlake` process compiled its ~35
modules from source: ~55 ms of CPU per query that no installed copy pays. Start-up cases
compile the tree once before timing, as `pip install` would have.
"""

from __future__ import annotations

import compileall
from pathlib import Path


def compile_tree(src: str | Path) -> None:
    """Write `__pycache__` for every module under `src` (git ignores them); quiet, idempotent."""
    compileall.compile_dir(str(src), quiet=1)


def installed_package_dir() -> Path:
    """The `eventlake` package this interpreter (and the CLI beside it) imports."""
    import eventlake

    return Path(eventlake.__file__).parent
