"""`make lab` serves JupyterLab with the teaching notebooks."""

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


@pytest.mark.slow
def test_make_lab_serves_the_notebooks(tmp_path: Path) -> None:
    """`make lab` starts a server whose contents API lists notebooks/01_counter_and_rpc.ipynb."""
    port, token = _free_port(), "dosandbox-test"
    args = (
        f"--no-browser --allow-root --ip=127.0.0.1 --port={port} "
        f"--IdentityProvider.token={token} --ServerApp.open_browser=False"
    )
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    # VENV= the interpreter running the tests: make test already built it, so make lab reuses it.
    proc = subprocess.Popen(
        ["make", "lab", f"VENV={sys.prefix}", f"LAB_ARGS={args}"],
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
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
