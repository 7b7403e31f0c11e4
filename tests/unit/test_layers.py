"""The layers contract in pyproject.toml is what keeps dependencies pointing down the flow.

Both directions are checked: main keeps the contract, and an upward import added to a copy of
the sources breaks it with a message that names the import (a check that cannot fail is no check).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=src.parent,
        timeout=120,
    )


def test_main_keeps_the_layers() -> None:
    result = _lint(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "eventlake", src / "eventlake", ignore=shutil.ignore_patterns("__pycache__"))
    with (src / "eventlake" / "catalog" / "compact.py").open("a") as f:
        f.write("\nimport eventlake.sink.runner  # upward: catalog sits below sink\n")
    result = _lint(src)
    assert result.returncode != 0
    assert "eventlake.catalog is not allowed to import eventlake.sink" in result.stdout
    assert "eventlake.catalog.compact -> eventlake.sink.runner" in result.stdout
