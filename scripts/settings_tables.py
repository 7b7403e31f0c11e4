"""Regenerate the settings tables in README.md from the settings models (names, types, defaults,
descriptions), so the docs never drift from the code. Run after adding or changing a setting:

    PYTHONPATH=src .venv/bin/python scripts/settings_tables.py          # rewrite README.md
    PYTHONPATH=src .venv/bin/python scripts/settings_tables.py --check  # exit 1 if it is stale

tests/unit/test_settings_documented.py runs the same comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

from eventlake.config.doc import markdown_tables, replace_tables

README = Path(__file__).resolve().parent.parent / "README.md"


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    fresh = replace_tables(text, markdown_tables())
    if "--check" in argv:
        if fresh != text:
            print("README.md settings tables are stale: run scripts/settings_tables.py", file=sys.stderr)
            return 1
        return 0
    if fresh != text:
        README.write_text(fresh, encoding="utf-8")
        print("README.md settings tables updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
