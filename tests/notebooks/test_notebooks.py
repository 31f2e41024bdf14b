"""Every teaching notebook runs top to bottom in a real kernel, and is committed clean."""

from __future__ import annotations

import ast
import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
ANSWER_GUARD = "run_answer = False"


def ask_for_answers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as an attendee who asked for the answers runs it (``run_answer = True``)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and ANSWER_GUARD in cell.source:
            cell.source = cell.source.replace(ANSWER_GUARD, "run_answer = True", 1)
    return nb


def test_there_are_notebooks() -> None:
    """The notebooks folder holds the numbered teaching notebooks."""
    assert NOTEBOOKS, "notebooks/ has no .ipynb files"
    assert all(p.name[:2].isdigit() for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    """Code cells carry no outputs and no execution counts."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} has execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_valid_and_uses_the_python3_kernel(path: Path) -> None:
    """Each notebook is valid nbformat v4 and asks for the standard python3 kernel."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_an_exercise_and_a_collapsed_answer(path: Path) -> None:
    """The last cells are an exercise (markdown) and its answer, a code cell with hidden source."""
    nb = nbformat.read(path, as_version=4)
    exercise, answer = nb.cells[-2], nb.cells[-1]
    assert exercise.cell_type == "markdown" and "## Exercise" in exercise.source
    assert answer.cell_type == "code" and answer.source.strip()
    assert answer.metadata.get("jupyter", {}).get("source_hidden") is True


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_answer_hides_its_output_and_runs_only_when_asked(path: Path) -> None:
    """The answer hides outputs too, and its code sits under ``if run_answer:`` (False as saved).

    So Run All neither shows the answer nor takes the names the exercise asks the attendee to
    use; setting ``run_answer = True`` runs it.
    """
    answer = nbformat.read(path, as_version=4).cells[-1]
    assert answer.metadata["jupyter"].get("outputs_hidden") is True
    body = ast.parse(answer.source).body
    assert [type(node) for node in body] == [ast.Assign, ast.If], path.name
    assert ast.unparse(body[0]) == ANSWER_GUARD
    assert ast.unparse(body[1].test) == "run_answer"  # type: ignore[attr-defined]
    assert not body[1].orelse  # type: ignore[attr-defined]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    """The notebook, answers asked for, runs in a fresh ipykernel with no error, under a minute."""
    nb = ask_for_answers(nbformat.read(path, as_version=4))
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", (
                f"{path.name} cell {index} raised {output.get('ename')}: {output.get('evalue')}"
            )
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = output.get("text", "")
                assert "Traceback" not in text, f"{path.name} cell {index} stderr: {text}"
    assert elapsed < 60, f"{path.name} took {elapsed:.1f} s"
