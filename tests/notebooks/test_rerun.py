"""Attendees press Shift-Enter again all day: every code cell runs a second time, cleanly.

One fresh kernel per notebook runs each code cell twice in a row, in order (so when a cell is
run again, the cells above it have run, as in a notebook being worked through), answers asked
for. Any error output on either run fails, naming the cell and the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from .test_notebooks import NOTEBOOKS, ask_for_answers


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_runs_twice_without_error(path: Path, tmp_path: Path) -> None:
    """Fresh kernel; each code cell run, then run again at once; neither run may raise."""
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = ask_for_answers(nbformat.read(path, as_version=4))
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    failures = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for run in ("first", "second"):
                client.execute_cell(cell, index)
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        failures.append(
                            f"cell {index} ({run} run) {output.get('ename')}: "
                            f"{output.get('evalue', '')[:200]}"
                        )
    assert not failures, f"{path.name}:\n" + "\n".join(failures)
