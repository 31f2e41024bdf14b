"""Real front ends for the browser tests: JupyterLab, Notebook 7 or Voilà, and headless Chromium.

Every server runs from this environment on a free loopback port with a temp root, settings and
workspaces (nothing global changes). JupyterLab and Notebook 7 get settings that draw every
cell (no windowing), never autosave and never fetch news; the theme is a parameter.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}


@dataclass
class Server:
    base: str
    token: str
    root: Path

    def url(self, path: str) -> str:
        return f"{self.base}/{path}?token={self.token}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_settings(settings: Path, theme: str = "light") -> None:
    """User settings in a temp dir: no cell windowing, no autosave, no news, the theme asked."""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false", "checkForUpdates": False,
        },
        "@jupyterlab/apputils-extension/themes.jupyterlab-settings": {"theme": THEMES[theme]},
    }
    for name, content in files.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


def need_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser test drives Debian's chromium package. "
            "Install it with `apt-get install chromium` (CI does); never `playwright install`."
        )


@contextmanager
def serve(app: str, root: Path, tmp: Path, *, theme: str = "light",
          notebook: str | None = None) -> Iterator[Server]:
    """Run ``jupyter lab``, ``jupyter notebook`` or ``voila <notebook>`` on ``root``."""
    need_chromium()
    tmp.mkdir(parents=True, exist_ok=True)
    write_settings(tmp / "settings", theme)
    token = secrets.token_hex(16)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(tmp / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "PYTHONUNBUFFERED": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    if app == "voila":
        assert notebook is not None
        cmd = [sys.executable, "-m", "voila", str(root / notebook), "--no-browser",
               f"--port={port}", "--Voila.ip=127.0.0.1", "--show_tracebacks=True",
               f"--token={token}", "--VoilaConfiguration.file_allowlist=['.*']"]
    else:
        cmd = [sys.executable, "-m", "jupyter", app, "--no-browser",
               f"--IdentityProvider.token={token}", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}", "--allow-root"]
        if app == "lab":
            cmd += ["--LabApp.expose_app_in_browser=True", "--LabApp.news_url="]
        else:
            cmd += ["--JupyterNotebookApp.expose_app_in_browser=True"]
    log = (tmp / f"{app}.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    status = f"{base}/" if app == "voila" else f"{base}/api/status"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{app} exited ({proc.returncode}); see {log.name}")
            try:
                if httpx.get(status, params={"token": token}, timeout=60).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{app} did not answer within 90 s; see {log.name}")
            time.sleep(0.3)
        yield Server(base, token, root)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[Any]:
    """A page in headless Chromium (Debian's package, driven by Playwright)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


KERNEL_READY = (
    "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
    " && window.jupyterapp.shell.currentWidget.sessionContext"
    " && window.jupyterapp.shell.currentWidget.sessionContext.session"
    " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel"
)


def run_all(page: Any, url: str) -> None:
    """Open a notebook in JupyterLab or Notebook 7 and run all its cells."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_function(KERNEL_READY, timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_idle(page: Any, timeout_ms: int = 120_000) -> None:
    """Wait until the notebook's kernel has run every queued cell."""
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " const cells = w.content.widgets.filter(c => c.model.type === 'code');"
        " return w.sessionContext.session.kernel.status === 'idle'"
        " && cells.every(c => c.model.executionCount !== null"
        "   || c.model.sharedModel.getSource().trim() === ''); }",
        timeout=timeout_ms,
    )


def shutdown_kernel(page: Any) -> None:
    page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")


# Worst text contrast among the visible text of elements matching a selector: each element's
# colour over its first opaque background (alpha composited), per WCAG 2's relative luminance.
CONTRAST_JS = """
(selector) => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (fg, bg) => [0, 1, 2].map(i => fg[i] * fg[3] + bg[i] * (1 - fg[3]));
  const lum = (c) => {
    const [r, g, b] = c.map(v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let bg = [255, 255, 255];
    for (const c of layers.reverse()) bg = over(c, bg);
    return bg;
  };
  let worst = {ratio: 99, text: "", color: "", bg: ""};
  let checked = 0;
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const el = node.parentElement;
      if (!node.textContent.trim() || !el || !el.offsetParent) continue;
      if (el.closest("button:disabled, [disabled], .mod-disabled")) continue;  // WCAG: exempt
      const style = getComputedStyle(el);
      const bg = background(el);
      const fg = over(parse(style.color), bg);
      const a = lum(fg), b = lum(bg);
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      checked++;
      if (ratio < worst.ratio) worst = {ratio, text: node.textContent.trim().slice(0, 60),
        color: style.color, bg: "rgb(" + bg.map(Math.round).join(",") + ")"};
    }
  }
  worst.checked = checked;
  return worst;
}
"""
