"""`make lab` serves JupyterLab on copies of the teaching notebooks, as root too."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_lab_adds_allow_root_only_for_root() -> None:
    """As root (uid 0) the lab command carries --allow-root, which Jupyter needs there."""
    dry = subprocess.run(["make", "-n", "lab", "-o", ".venv/.lab-installed"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    command = next(line for line in dry.splitlines() if "jupyter lab" in line)
    assert ("--allow-root" in command) == (os.getuid() == 0)
    assert '"my-notebooks"' in command  # the copies, never notebooks/ itself


@pytest.mark.slow
def test_make_lab_serves_copies_and_keeps_the_clone_clean(tmp_path: Path) -> None:
    """`make lab` (no --allow-root given) serves copies of the lessons; a changed copy is kept."""
    port, token = _free_port(), "dosandbox-test"
    copies = tmp_path / "copies"
    copies.mkdir()
    mine = copies / "01_counter_and_rpc.ipynb"
    mine.write_text('{"my": "work"}')  # an attendee's saved work survives the next make lab
    originals = {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")}
    args = (
        f"--no-browser --ip=127.0.0.1 --port={port} "
        f"--IdentityProvider.token={token} --ServerApp.open_browser=False"
    )
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    # VENV= the interpreter running the tests, already installed: -o keeps make from
    # installing the package into it again.
    venv = Path(sys.prefix)
    proc = subprocess.Popen(
        ["make", "lab", f"VENV={venv}", "-o", f"{venv}/.lab-installed", f"LAB_DIR={copies}",
         f"LAB_ARGS={args}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/contents/?token={token}"
        listing = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    listing = json.load(response)
                break
            except OSError:
                time.sleep(0.5)
        assert listing is not None, (
            f"make lab did not serve on port {port}: "
            f"{proc.stdout.read().decode() if proc.poll() is not None and proc.stdout else ''}"
        )
        names = {item["name"] for item in listing["content"]}
        assert "01_counter_and_rpc.ipynb" in names, names
        assert "10_from_notebook_to_project.ipynb" in names
        assert names >= set(originals)
        assert mine.read_text() == '{"my": "work"}'
        assert (copies / "02_kv_storage.ipynb").read_bytes() == originals["02_kv_storage.ipynb"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    assert {p.name: p.read_bytes() for p in (ROOT / "notebooks").glob("*.ipynb")} == originals
