"""Execute every notebook top to bottom in fast mode (MOLGAN_FAST=1), as CI does."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))

pytestmark = [pytest.mark.integration, pytest.mark.notebooks]


def test_there_are_three_notebooks():
    assert [p.stem for p in NOTEBOOKS] == [
        "01_quickstart",
        "02_drug_likeness_optimisation",
        "03_metrics_and_comparison",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_fast_mode(path, monkeypatch):
    monkeypatch.setenv("MOLGAN_FAST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            source = cell.source
            assert "import molgan." not in source and "from molgan." not in source, (
                f"{path.name} must use the public API only (from molgan import ...)"
            )
    client = NotebookClient(
        book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, with the failing cell, on any error
