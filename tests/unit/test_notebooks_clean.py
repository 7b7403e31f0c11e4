"""The notebooks as committed: valid, no outputs, settings read in the first cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there() -> None:
    assert [p.name for p in NOTEBOOKS] == ["01_producer.ipynb", "02_consumer.ipynb", "03_analytics.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code
    for cell in code:
        assert cell.outputs == [], f"{path.name}: a cell keeps outputs; clear them before committing"
        assert cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_loads_settings_and_holds_the_parameters(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    first = next(c for c in book.cells if c.cell_type == "code")
    assert "eventlake.load_settings(" in first.source
    assert "parameters" in first.metadata.get("tags", [])
    assert book.metadata.kernelspec.name == "python3"
