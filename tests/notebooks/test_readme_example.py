"""The README's first example, pasted into one cell, shows what the README says it shows."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

README = Path(__file__).parents[2] / "README.md"
WIDGET = "application/vnd.jupyter.widget-view+json"


def first_example() -> str:
    section = README.read_text().split("## A first example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's first example has no python block"
    return match.group(1)


def test_first_example_says_what_it_shows() -> None:
    """The text under the example names what the cell shows: 5, the clock bar, the KV tab."""
    section = README.read_text().split("## A first example", 1)[1].split("![", 1)[0]
    assert "prints `5`" in section and "clock bar" in section and "KV tab" in section


@pytest.mark.slow
def test_first_example_in_one_cell_prints_5_and_shows_both_widgets(tmp_path: Path) -> None:
    """One cell: the stream says 5, then the clock bar and the inspector show as live widgets."""
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(first_example()),
                nbformat.v4.new_code_cell('sb.inspect(stub, tab="KV").tab, '
                                          "sb.inspect(stub).kv.key.tolist()")]
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["stream", "display_data", "execute_result"]
    assert outputs[0].text.strip() == "5"
    assert WIDGET in outputs[1].data and "virtual now" in outputs[1].data["text/html"]
    assert WIDGET in outputs[2].data and "Handle counter" in outputs[2].data["text/plain"]
    assert nb.cells[1].outputs[0].data["text/plain"] == "('KV', ['state'])"
