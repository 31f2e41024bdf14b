"""The widgets in a real JupyterLab, driven by headless Chromium (marker ``browser``).

Starts ``jupyter lab`` from this environment on a free loopback port with a temp root, user
settings and workspaces (nothing global changes), opens a notebook the test writes, runs all
cells, checks the inspector and clock bar rendered as live widgets (not their HTML fallback),
clicks "+1 min" and waits for the Alarm tab to change in the page.

Known traps handled here: the widget front end must be in the same environment as
``jupyter lab`` (``jupyterlab_widgets``), JupyterLab 4 windowing can leave off-screen cells
undrawn (``windowingMode: none`` in the temp settings), autosave is turned off.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .browser import CHROMIUM, CHROMIUM_ARGS, free_port, need_chromium, write_settings

pytestmark = pytest.mark.browser

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "inspector.png"
UPDATE_DOCS = os.environ.get("DOSANDBOX_UPDATE_DOCS") == "1"  # copy the picture into docs/

CELLS = [
    """\
import datetime as dt
from dosandbox import Sandbox, define_durable_object

async def init(ctx):
    return {"count": 0, "visitors": ["alice", "bob"], "note": "<b>not bold</b>"}

async def inc(ctx, by=1):
    ctx.state["count"] += by
    await ctx.storage.put(f"visit:{ctx.state['count']:03d}", {"by": by, "at": "door"})
    return ctx.state["count"]

async def remind(ctx, seconds):
    await ctx.set_alarm(dt.timedelta(seconds=seconds))

async def alarm(ctx):
    ctx.state["count"] += 100

counter = define_durable_object(init=init, methods={"inc": inc, "remind": remind},
                                alarm=alarm)
sb = Sandbox(start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), seed=0)
sb.register("counter", counter)
stub = sb.durable_objects.counter.get("alice")
for _ in range(3):
    await stub.inc()
await stub.remind(30)
_ = sb.inspect(stub).seed_kv({"xss": "<script>alert(1)</script>"})""",
    "bar = sb.clock.widget()\nbar",
    'inspector = sb.inspect(stub).widget()\ninspector.select_tab("Alarm")\ninspector',
]


def _notebook() -> dict[str, Any]:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
             "outputs": [], "source": src}
            for i, src in enumerate(CELLS)
        ],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab server from this environment; yields (base url with token, root dir)."""
    need_chromium()
    root = tmp_path / "root"
    root.mkdir()
    (root / "inspector.ipynb").write_text(json.dumps(_notebook()))
    write_settings(tmp_path / "settings")
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "jupyterlab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser",
            f"--IdentityProvider.token={token}", f"--port={port}", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=", "--allow-root",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited ({proc.returncode}); see {log.name}")
            try:
                if httpx.get(f"{base}/api/status", params={"token": token}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within 90 s; see {log.name}")
            time.sleep(0.3)
        yield f"{base}/lab/tree/inspector.ipynb?token={token}", root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_widgets_render_live_in_jupyterlab(jupyterlab: tuple[str, Path], tmp_path: Path) -> None:
    """In JupyterLab the clock bar and inspector render as widgets; +1 min updates the Alarm tab."""
    from playwright.sync_api import expect, sync_playwright

    url, root = jupyterlab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(url)
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            page.wait_for_function(
                "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                " && window.jupyterapp.shell.currentWidget.sessionContext"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                timeout=60_000,
            )
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            bar = page.locator(".dosandbox-clockbar")
            inspector = page.locator(".dosandbox-inspector")
            expect(bar).to_be_visible(timeout=90_000)
            expect(inspector).to_be_visible(timeout=90_000)
            # Live widgets, not the snapshot saved notebooks show without a kernel.
            assert page.locator(".dosandbox-snapshot").count() == 0
            assert page.locator(".jp-Notebook .jp-OutputArea-output pre").filter(
                has_text="Handle counter").count() == 0
            expect(inspector).to_contain_text("counter")
            expect(inspector).to_contain_text("Next alarm at")
            expect(inspector).to_contain_text("in 30 s")
            expect(bar).to_contain_text("1 pending alarm")
            page.screenshot(path=str(tmp_path / "before.png"), full_page=True)

            bar.get_by_role("button", name="+1 min").click()

            expect(inspector).to_contain_text("No alarm set.", timeout=30_000)
            expect(bar).to_contain_text("2026-01-01 00:01:00.000Z")
            expect(bar).to_contain_text("0 pending alarms")
            page.screenshot(path=str(tmp_path / "after.png"), full_page=True)

            # The KV tab shows stored user data as text, escaped (no script runs).
            inspector.get_by_role("tab", name="KV").click()
            expect(inspector).to_contain_text("<script>alert(1)</script>")
            expect(inspector).to_contain_text("keys 1–4 of 4")
            inspector.get_by_role("tab", name="State").click()
            expect(inspector).to_contain_text("103")
            shot = tmp_path / "inspector.png"
            inspector.screenshot(path=str(shot))
            assert shot.stat().st_size < 200_000, "the README screenshot must stay small"
            if UPDATE_DOCS:  # a test run leaves the checkout as it was, unless asked
                DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
                shutil.copyfile(shot, DOCS_SCREENSHOT)
        finally:
            browser.close()
    # Autosave was off: the notebook the test wrote is untouched.
    assert json.loads((root / "inspector.ipynb").read_text()) == _notebook()
