"""Objects the widget tests look at: a counter with an alarm, storage and sockets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest

from dosandbox import Sandbox, define_durable_object
from dosandbox.widgets._live import hub_for


async def _init(ctx: Any) -> dict[str, Any]:
    return {"count": 0, "inits": 1, "note": "<b>not bold</b>"}


async def _inc(ctx: Any, by: int = 1) -> int:
    ctx.state["count"] += by
    return int(ctx.state["count"])


async def _arm(ctx: Any, seconds: float) -> None:
    await ctx.set_alarm(dt.timedelta(seconds=seconds))


async def _put(ctx: Any, key: str, value: Any) -> None:
    await ctx.storage.put(key, value)


async def _alarm(ctx: Any) -> None:
    ctx.state["count"] += 100


def counter_definition() -> Any:
    return define_durable_object(
        init=_init,
        methods={"inc": _inc, "arm": _arm, "put": _put},
        alarm=_alarm,
    )


@pytest.fixture
def sb(do_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The plugin's ``do_sandbox`` with ``counter`` registered; every view closed afterwards."""
    do_sandbox.register("counter", counter_definition())
    yield do_sandbox
    for view in hub_for(do_sandbox).views():
        view.close()  # type: ignore[attr-defined]


@pytest.fixture
def stub(sb: Sandbox) -> Any:
    return sb.durable_objects.counter.get("alice")


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(markup: str) -> list[list[str]]:
    """The text of each table row in ``markup`` (header row first), as a browser shows it."""
    parser = _Cells()
    parser.feed(markup)
    return parser.rows


@pytest.fixture
def rows() -> Any:
    """``rows(markup)``: the text of each table row, header first."""
    return table_rows
