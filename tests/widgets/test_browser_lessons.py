"""The lessons' widgets in real front ends, driven by headless Chromium (marker ``browser``).

* JupyterLab: each teaching notebook runs all its cells; its main widget renders live, takes
  one click, and the view changes.
* Notebook 7 and Voilà: notebook 05's clock bar renders and its "+1 min" moves the clock.
* The inspector's six tabs on a sample object, light and dark theme: every text reaches 4.5:1
  contrast, and the screenshots in docs/ are made from them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .browser import CONTRAST_JS, chromium, run_all, serve, shutdown_kernel, wait_idle

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DOCS = ROOT / "docs"
# DOSANDBOX_UPDATE_DOCS=1 copies the screenshots into docs/ (the README's pictures).
UPDATE_DOCS = os.environ.get("DOSANDBOX_UPDATE_DOCS") == "1"


def _lessons(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, root / path.name)
    return root


def _now(bar: Any) -> str:
    return str(bar.locator("b").first.inner_text())


# --- one click per lesson --------------------------------------------------------------------


def _click_tab(tab: str, before: str, after: str) -> Callable[[Any], None]:
    def act(page: Any) -> None:
        from playwright.sync_api import expect

        inspector = page.locator(".jp-OutputArea .dosandbox-inspector").first
        expect(inspector).to_contain_text(before, timeout=30_000)
        inspector.get_by_role("tab", name=tab).click()
        expect(inspector).to_contain_text(after, timeout=30_000)

    return act


def _clock_step(label: str) -> Callable[[Any], None]:
    def act(page: Any) -> None:
        from playwright.sync_api import expect

        bar = page.locator(".dosandbox-clockbar").first
        expect(bar).to_be_visible(timeout=30_000)
        before = _now(bar)
        bar.get_by_role("button", name=label).click()
        expect(bar.locator("b").first).not_to_have_text(before, timeout=30_000)

    return act


def _close_socket(page: Any) -> None:
    from playwright.sync_api import expect

    inspector = page.locator(".jp-OutputArea .dosandbox-inspector").first
    expect(inspector).to_contain_text("last from the object", timeout=30_000)
    expect(inspector).not_to_contain_text("closed from the inspector")
    inspector.get_by_role("button", name="Close").first.click()
    expect(inspector).to_contain_text("closed from the inspector", timeout=30_000)
    expect(inspector).to_contain_text("CLOSED")


def _evict(page: Any) -> None:
    from playwright.sync_api import expect

    inspector = page.locator(".jp-OutputArea .dosandbox-inspector").first
    header = inspector.locator(".dosandbox-inspector-title")
    expect(header).to_contain_text("live", timeout=30_000)
    inspector.get_by_role("button", name="Evict").click()
    expect(header).to_contain_text("evicted", timeout=30_000)


def _timeline_step(page: Any) -> None:
    from playwright.sync_api import expect

    inspector = page.locator(".jp-OutputArea .dosandbox-inspector").first
    expect(inspector).to_contain_text("state #", timeout=30_000)
    # The slider's readout is the event shown (two events may show one stored state).
    readout = inspector.locator(".widget-readout").first
    where = readout.inner_text()
    inspector.get_by_role("button", name="◀").first.click()
    expect(readout).not_to_have_text(where, timeout=30_000)


def _pick_object(page: Any) -> None:
    from playwright.sync_api import expect

    dashboard = page.locator(".dosandbox-dashboard").first
    expect(dashboard).to_be_visible(timeout=30_000)
    assert dashboard.locator(".dosandbox-inspector").count() == 0
    dashboard.locator(".dosandbox-object-picker select").first.select_option(index=0)
    expect(dashboard.locator(".dosandbox-inspector")).to_be_visible(timeout=30_000)


ACTIONS: dict[str, Callable[[Any], None]] = {
    "01": _click_tab("KV", "counter", "keys 1–1 of 1"),
    "02": _click_tab("Events", "keys 1–", "kv.put"),
    "03": _click_tab("State", "messages", "initialized"),
    "04": _click_tab("State", "audit", "transfers_attempted"),
    "05": _clock_step("+1 min"),
    "06": _close_socket,
    "07": _clock_step("+1 s"),
    "08": _evict,
    "09": _pick_object,
    "10": _pick_object,
    "11": _click_tab("Events", "Stubs", "stub.created"),
    "12": _click_tab("Events", "messages", "kv.put"),
    "13": _timeline_step,
    "14": _click_tab("Events", "Sockets", "ws.message"),
}


def test_every_lesson_has_an_action() -> None:
    """Each teaching notebook has its main widget's click here."""
    assert sorted(ACTIONS) == [p.name[:2] for p in NOTEBOOKS]


@pytest.mark.timeout(1500)
def test_each_lessons_main_widget_renders_and_answers_a_click(tmp_path: Path) -> None:
    """In JupyterLab each notebook runs all, then its main widget takes a click and changes."""
    root = _lessons(tmp_path)
    failures = []
    with serve("lab", root, tmp_path / "lab") as server, chromium() as page:
        for path in NOTEBOOKS:
            number = path.name[:2]
            url = server.url(f"lab/workspaces/w{number}/tree/{path.name}")
            try:
                run_all(page, url)
                wait_idle(page)
                ACTIONS[number](page)
            except Exception as exc:  # report every lesson, not only the first that fails
                page.screenshot(path=str(tmp_path / f"{number}-failed.png"), full_page=True)
                failures.append(f"{path.name}: {type(exc).__name__}: {str(exc)[:400]}")
            finally:
                shutdown_kernel(page)
    assert not failures, "\n".join(failures)
    # Run All without saving left every copy as it was.
    for path in NOTEBOOKS:
        assert (root / path.name).read_bytes() == path.read_bytes()


# --- other front ends ------------------------------------------------------------------------

LESSON = "05_alarms_and_the_clock.ipynb"


@pytest.mark.timeout(600)
def test_clock_bar_works_in_notebook_7(tmp_path: Path) -> None:
    """Jupyter Notebook 7 runs lesson 05: the clock bar renders live and +1 min moves it."""
    root = _lessons(tmp_path)
    with serve("notebook", root, tmp_path / "nb7") as server, chromium() as page:
        run_all(page, server.url(f"notebooks/{LESSON}"))
        wait_idle(page)
        _clock_step("+1 min")(page)
        shutdown_kernel(page)


@pytest.mark.timeout(600)
def test_clock_bar_works_in_voila(tmp_path: Path) -> None:
    """Voilà renders lesson 05 (it runs every cell itself): the clock bar's +1 min moves it."""
    from playwright.sync_api import expect

    root = _lessons(tmp_path)
    with serve("voila", root, tmp_path / "voila", notebook=LESSON) as server, \
            chromium() as page:
        page.goto(server.url(""))
        bar = page.locator(".dosandbox-clockbar").first
        expect(bar).to_be_visible(timeout=120_000)
        before = _now(bar)
        bar.get_by_role("button", name="+1 min").click()
        expect(bar.locator("b").first).not_to_have_text(before, timeout=30_000)


# --- the six tabs, light and dark: contrast and the README's screenshots ---------------------

SAMPLE = [
    """\
import asyncio, datetime as dt
import ipywidgets as W
from dosandbox import Response, Sandbox, WebSocketPair, define_durable_object

def init(ctx):
    ctx.sql.exec("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT, qty INT)")
    return {"visitors": ["ada", "bob"], "open": True, "totals": {"book": 12, "pen": 3}}

async def order(ctx, item, qty):
    ctx.sql.exec("INSERT INTO orders (item, qty) VALUES (?, ?)", item, qty)
    await ctx.storage.put(f"order:{item}", {"qty": qty, "at": dt.datetime.now().isoformat()})
    await ctx.set_alarm(dt.timedelta(minutes=5))

async def fetch(request, ctx):
    pair = WebSocketPair()
    ctx.accept_web_socket(pair[1], ["shoppers"])
    return Response(None, status=101, web_socket=pair[0])

async def web_socket_message(ws, message, ctx):
    if message == "bad":
        raise ValueError("not JSON: 'bad'")
    ws.send(f"got {message}")

shop = define_durable_object(init=init, methods={"order": order}, fetch=fetch,
                             web_socket_message=web_socket_message, alarm=lambda ctx: None)
sb = Sandbox(start=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), seed=0)
sb.register("shop", shop)
stub = sb.durable_objects.shop.get("main-street")
for item, qty in [("book", 2), ("pen", 10), ("lamp", 1)]:
    await stub.order(item, qty)
ada, bob = sb.connect(stub, "/ws"), sb.connect(stub, "/ws")
ada.send("hello")
bob.send("bad")
bob.close(4000, "left the shop")""",
    """\
tabs = ["State", "KV", "SQL", "Sockets", "Alarm", "Events"]
grid = W.GridBox([sb.inspect(stub, tab=t).widget() for t in tabs],
                 layout=W.Layout(grid_template_columns="repeat(2, 600px)", grid_gap="8px",
                                 width="1210px"))
grid.add_class("dosandbox-sample")
grid""",
]


def _sample_notebook() -> dict[str, Any]:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"s{i}",
                   "metadata": {}, "outputs": [], "source": src}
                  for i, src in enumerate(SAMPLE)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


@pytest.mark.timeout(600)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_inspector_tabs_keep_4_5_to_1_contrast_and_make_the_screenshots(
    theme: str, tmp_path: Path
) -> None:
    """All six tabs on a sample object: every text at 4.5:1 or better; docs/ gets the picture."""
    from playwright.sync_api import expect

    root = tmp_path / "root"
    root.mkdir()
    (root / "sample.ipynb").write_text(json.dumps(_sample_notebook()))
    with serve("lab", root, tmp_path / "lab", theme=theme) as server, \
            chromium(width=1500, height=2400) as page:
        run_all(page, server.url("lab/tree/sample.ipynb"))
        wait_idle(page)
        page.evaluate("window.jupyterapp.shell.collapseLeft()")  # room for the grid
        grid = page.locator(".dosandbox-sample")
        expect(grid).to_be_visible(timeout=60_000)
        expect(grid).to_contain_text("left the shop")
        expect(grid).to_contain_text("orders")
        page.wait_for_timeout(500)  # fonts and the theme's last styles
        worst = page.evaluate(CONTRAST_JS, ".dosandbox-sample .dosandbox-inspector")
        assert worst["checked"] > 100, worst
        assert worst["ratio"] >= 4.5, f"{theme}: {worst}"
        # Two pictures per theme (each under 150 KB): State, KV, SQL, Sockets; Alarm, Events.
        box = grid.bounding_box()
        split = page.locator(".dosandbox-sample > .dosandbox-inspector").nth(4).bounding_box()
        assert box is not None and split is not None
        top = split["y"] - box["y"]
        shots = [tmp_path / f"inspector-tabs-{theme}.png",
                 tmp_path / f"inspector-tabs-{theme}-2.png"]
        page.screenshot(path=str(shots[0]), clip={**box, "height": top - 4})
        page.screenshot(path=str(shots[1]), clip={**box, "y": split["y"],
                                                  "height": box["height"] - top})
        shutdown_kernel(page)
    for shot in shots:
        assert shot.stat().st_size < 150_000, f"{shot.name} is {shot.stat().st_size} bytes"
    if UPDATE_DOCS:  # a test run leaves the checkout as it was, unless asked
        DOCS.mkdir(exist_ok=True)
        for shot in shots:
            shutil.copyfile(shot, DOCS / shot.name)
