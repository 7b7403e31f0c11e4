"""Each notebook runs top to bottom (nbclient, kernel `python3` = this venv's Python) against the test broker.

The notebooks read their settings from EVENTLAKE_* variables, as a user's would; the test gives them
the session broker, a fresh lake and its own consumer group, and (like papermill) injects fresh topic
names after each notebook's `parameters` cell.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

from eventlake.config import load_settings
from eventlake.query import connect

pytestmark = pytest.mark.integration

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _run(name: str, parameters: Mapping[str, object], cwd: Path) -> nbformat.NotebookNode:
    book: nbformat.NotebookNode = nbformat.read(NOTEBOOKS / name, as_version=4)
    index = next(i for i, c in enumerate(book.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in parameters.items()))
    injected.metadata["tags"] = ["injected-parameters"]
    book.cells.insert(index + 1, injected)
    NotebookClient(book, kernel_name="python3", timeout=240, resources={"metadata": {"path": str(cwd)}}).execute()
    return book


def _text(book: nbformat.NotebookNode) -> str:
    parts = []
    for cell in book.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or json.dumps(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_kernel_python3_is_a_python_that_has_eventlake() -> None:
    spec = KernelSpecManager().get_kernel_spec("python3")
    # jupyter_client runs a spec whose argv[0] is `python` with its own interpreter: this venv's.
    assert spec.argv[0] in ("python", "python3") or Path(spec.argv[0]).resolve() == Path(sys.executable).resolve()


def test_notebooks_produce_land_and_analyse(
    bootstrap: str, unique_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [k for k in os.environ if k.startswith("EVENTLAKE_")]:
        monkeypatch.delenv(key)
    lake = tmp_path / "lake"
    monkeypatch.setenv("EVENTLAKE_BOOTSTRAP_SERVERS", bootstrap)
    monkeypatch.setenv("EVENTLAKE_LAKE", str(lake))
    monkeypatch.setenv("EVENTLAKE_SINK__GROUP", f"nb-{unique_name}")
    prices, ticks = f"prices-{unique_name}", f"ticks-{unique_name}"

    produced = _run("01_producer.ipynb", {"PRICES_TOPIC": prices, "TICKS_TOPIC": ticks}, tmp_path)
    assert "sent 560, delivered 560, failed 0, dead-lettered 0" in _text(produced)
    assert "delivered 2,000" in _text(produced)

    landed = _run("02_consumer.ipynb", {"PRICES_TOPIC": prices, "TICKS_TOPIC": ticks}, tmp_path)
    assert f"{prices}: 560 events landed" in _text(landed)
    assert f"{ticks}: 2,000 events landed" in _text(landed)
    # A consumer SIGKILLed mid-way through message 200: at-most-once lost it, at-least-once handled it twice,
    # and a sink killed mid-way left every event in the lake once.
    assert "at-most-once: 559 of 560 messages handled, lost [200], handled twice none" in _text(landed)
    assert "at-least-once: 560 of 560 messages handled, lost none, handled twice [200]" in _text(landed)
    assert "ticks: 2,000 rows, 2,000 distinct; prices: 560 rows, 560 distinct" in _text(landed)
    # The ledger table shows each flush's files: every entry of this run wrote at least one.
    [ledger_cell] = [c for c in landed.cells if "store.ledger(" in c.get("source", "")]
    [table] = [o["data"]["text/plain"] for o in ledger_cell.outputs if "text/plain" in o.get("data", {})]
    # pandas may wrap a wide frame into blocks of columns; `files` is the last column of the last.
    header, *rows = [line.rstrip(" \\") for line in table.strip().split("\n\n")[-1].splitlines()]
    assert header.split()[-1] == "files" and rows, table
    assert all(int(row.split()[-1]) > 0 for row in rows), table

    tables = {"PRICES_TABLE": prices.replace("-", "_"), "TICKS_TABLE": ticks.replace("-", "_")}
    analysed = _run("03_analytics.ipynb", tables, tmp_path)
    assert "2,000 ticks of" in _text(analysed)
    images = [o for c in analysed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) == 1, "the chart cell draws one figure"

    # What the notebooks landed, checked outside them: every row exactly once.
    settings = load_settings(overrides={"lake": str(lake), "bootstrap_servers": bootstrap})
    with connect(settings) as engine:
        assert engine.execute(f"SELECT count(*), count(DISTINCT symbol) FROM {tables['PRICES_TABLE']}").rows == [
            (560, 5)
        ]
        assert engine.execute(f"SELECT count(*), count(DISTINCT seq) FROM {tables['TICKS_TABLE']}").rows == [
            (2000, 2000)
        ]
