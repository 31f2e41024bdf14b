"""The Binder environment builds from binder/ alone and runs the first notebook.

mybinder.org builds with repo2docker: it reads ``binder/runtime.txt`` for the Python version
and runs ``pip install -r binder/requirements.txt`` from the repository root (so the ``.`` line
installs dosandbox itself). This test does the same in a fresh virtual environment, as far as a
machine without Docker allows, then runs notebook 01 with a kernel from that environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
BINDER = ROOT / "binder"
NOTEBOOK = ROOT / "notebooks" / "01_counter_and_rpc.ipynb"

# Run inside the Binder venv: execute the notebook with that venv's own kernel, then report
# which interpreter the kernel was, so the test can check it was not borrowed from elsewhere.
RUNNER = textwrap.dedent(
    """
    import json, sys
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(sys.argv[1], as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": sys.argv[2]}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    prefix = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    print(json.dumps({"errors": [e["ename"] + ": " + e["evalue"] for e in errors],
                      "kernel_prefix": prefix}))
    """
)


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


def test_runtime_pins_the_python_the_project_is_tested_on() -> None:
    """binder/runtime.txt asks repo2docker for Python 3.11, the version CI tests."""
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_requirements_install_the_package_and_jupyterlab() -> None:
    """binder/requirements.txt installs the repo itself ('.'), JupyterLab and ipywidgets."""
    lines = [
        line.strip()
        for line in (BINDER / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "." in lines
    assert any(line.startswith("jupyterlab>=4") for line in lines)
    assert any(line.startswith("ipywidgets>=8") for line in lines)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_binder_environment_runs_notebook_01(tmp_path: Path) -> None:
    """A fresh venv from binder/requirements.txt imports dosandbox and runs notebook 01."""
    venv = tmp_path / "venv"
    pinned = (BINDER / "runtime.txt").read_text().strip().removeprefix("python-")
    base = shutil.which(f"python{pinned}") or sys.executable
    _run([base, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # Keep the kernel lookup inside the venv (a user-wide python3 kernelspec must not win).
        "JUPYTER_PREFER_ENV_PATH": "1",
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)
    # Exactly what repo2docker runs, from the repository root.
    _run([str(python), "-m", "pip", "install", "-q", "-r", str(BINDER / "requirements.txt")],
         cwd=ROOT, env=env, timeout=540)

    version = _run([str(python), "-c", "import dosandbox, sys; print(dosandbox.__version__, "
                    "'%d.%d' % sys.version_info[:2])"], cwd=tmp_path, env=env).stdout
    assert version.split() == ["0.1.0", pinned]
    # jupyterlab brings nbclient (jupyter_server → nbconvert → nbclient) and the lab server.
    _run([str(python), "-c", "import jupyterlab, ipywidgets, nbclient"], cwd=tmp_path, env=env)

    work = tmp_path / "work"
    work.mkdir()
    out = _run([str(python), "-c", RUNNER, str(NOTEBOOK), str(work)],
               cwd=tmp_path, env=env, timeout=180).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report["errors"] == []
    assert Path(report["kernel_prefix"]).resolve() == venv.resolve()


def test_notebook_environments_have_what_the_lessons_run() -> None:
    """Notebook 10 runs !pytest: Binder's requirements and the notebook extra both bring pytest."""
    import tomllib

    text = (ROOT / "notebooks" / "10_from_notebook_to_project.ipynb").read_text()
    assert "-m pytest" in text
    lines = [line.split("#")[0].strip() for line in
             (BINDER / "requirements.txt").read_text().splitlines()]
    assert any(line.startswith("pytest>=") for line in lines)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert any(dep.startswith("pytest>=") for dep in extras["notebook"])
    assert any(dep.startswith("ipykernel") for dep in extras["notebook"])
