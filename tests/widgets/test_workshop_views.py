"""What a workshop room needs from the views: the lesson's tab, frozen "before" views, in-flight
calls that say where they wait, socket feedback, theme colours, counts that say what they count.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from dosandbox import Response, Sandbox, WebSocketPair, define_durable_object
from dosandbox.errors import ValidationError, WaitingOnTimeError

WIDGETS = Path(__file__).parents[2] / "dosandbox" / "widgets"


# --- the tab a lesson means ------------------------------------------------------------------


def test_inspect_tab_opens_the_inspector_on_that_tab(sb: Sandbox, stub: Any) -> None:
    """sb.inspect(stub, tab="KV") opens the live inspector on KV, in any spelling of the name."""
    sb.run(stub.put("k", 1))
    assert sb.inspect(stub, tab="KV").widget().selected.title == "KV"
    assert sb.inspect(stub, tab="events").widget().selected.title == "Events"
    assert sb.inspect(stub).widget(tab="Alarm").selected.title == "Alarm"


def test_inspect_refuses_an_unknown_tab_naming_the_tabs(sb: Sandbox, stub: Any) -> None:
    """A tab that does not exist is a ValidationError listing every tab, before anything shows."""
    with pytest.raises(ValidationError) as info:
        sb.inspect(stub, tab="Storage")
    assert "State, KV, SQL, Sockets, Alarm, Events" in str(info.value)
    with pytest.raises(ValidationError):
        sb.inspect(stub, tab=3)  # type: ignore[arg-type]


def _sql_init(ctx: Any) -> dict[str, Any]:
    ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (x)")
    return {}


def _noop(ctx: Any) -> None:
    return None


def test_default_tab_is_the_most_telling_one(sb: Sandbox, stub: Any) -> None:
    """No tab asked: a fresh object opens on State, one with KV keys on KV, with tables on SQL."""
    assert sb.inspect(stub).widget().selected.title == "State"
    sb.run(stub.inc())
    assert sb.inspect(stub).widget().selected.title == "State"  # only memory: State tells most
    sb.run(stub.put("k", 1))
    assert sb.inspect(stub).widget().selected.title == "KV"
    sb.register("tables", define_durable_object(init=_sql_init, methods={"noop": _noop}))
    tables = sb.durable_objects.tables.get("t")
    sb.run(tables.noop())
    assert sb.inspect(tables).widget().selected.title == "SQL"
    sb.run(stub.arm(30))
    assert sb.inspect(stub, tab="Alarm").widget().selected.title == "Alarm"


# --- frozen "before" views -------------------------------------------------------------------


def test_snapshot_keeps_showing_the_moment_it_was_taken(sb: Sandbox, stub: Any) -> None:
    """handle.snapshot() is static: later calls change the live view, never the snapshot."""
    sb.run(stub.put("fruit", "apple"))
    handle = sb.inspect(stub)
    before = handle.snapshot()
    sb.run(stub.put("fruit", "banana-split"))
    html = before._repr_html_()
    assert "apple" in html and "banana-split" not in html
    assert "frozen" in html and "2026-01-01" in html
    assert "banana-split" in handle._repr_html_()
    assert repr(before).startswith("<HandleSnapshot <Handle counter")


# --- in-flight calls say where they wait -----------------------------------------------------


async def _slow_lookup(ctx: Any) -> int:
    await asyncio.sleep(5)
    return 3


async def _asks_other(ctx: Any) -> int:
    limit = await ctx.env.LOOKUP.get("x").slow_lookup()
    return int(limit)


def test_in_flight_events_name_the_line_they_wait_at(sb: Sandbox) -> None:
    """A call parked on another object's timer shows its method, the awaiting line and a timer."""
    sb.register("lookup", define_durable_object(methods={"slow_lookup": _slow_lookup}))
    sb.register("asker", define_durable_object(methods={"asks_other": _asks_other}))
    asker = sb.durable_objects.asker.get("a")
    with pytest.raises(WaitingOnTimeError):
        sb.run(asker.asks_other())
    handle = sb.inspect(asker)
    [event] = handle.in_flight_events()
    assert event.method == "_asks_other"
    assert event.chain[0].startswith("_asks_other(): limit = await ctx.env.LOOKUP")
    assert event.where == "_slow_lookup(): await asyncio.sleep(5)"
    assert "timer" in event.waits_on
    view = handle.widget(tab="State").tab("State").view.value
    assert "1 event(s) in flight" in view and "await ctx.env.LOOKUP" in view
    sb.clock.advance(seconds=5)
    assert handle.in_flight_events() == []


async def _guarded(ctx: Any) -> str:
    async def hold() -> str:
        await asyncio.sleep(1)
        return "done"

    return str(await ctx.block_concurrency_while(hold))


def test_events_queued_behind_block_concurrency_while_are_counted_at_the_gate(
    sb: Sandbox,
) -> None:
    """The holder waits inside its callback; the next call waits at the input gate, and says so."""
    sb.register("guard", define_durable_object(methods={"guarded": _guarded}))
    guard = sb.durable_objects.guard.get("g")
    for _ in range(2):
        with pytest.raises(WaitingOnTimeError):
            sb.run(guard.guarded())
    handle = sb.inspect(guard)
    events = handle.in_flight_events()
    assert [e.where for e in events] == ["hold(): await asyncio.sleep(1)"]
    assert handle.gate_queue == 1
    view = handle.widget(tab="State").tab("State").view.value
    assert "wait at the input gate" in view
    sb.clock.advance(seconds=5)
    assert handle.gate_queue == 0 and handle.in_flight == 0


# --- Sockets tab feedback --------------------------------------------------------------------


async def _fetch(request: Any, ctx: Any) -> Any:
    pair = WebSocketPair()
    ctx.accept_web_socket(pair[1], ["all"])
    return Response(None, status=101, web_socket=pair[0])


async def _message(ws: Any, message: Any, ctx: Any) -> None:
    if message == "bad":
        raise ValueError("cannot parse 'bad'")
    ws.send(f"echo:{message}")


def _echo(sb: Sandbox) -> Any:
    sb.register("echo", define_durable_object(fetch=_fetch, web_socket_message=_message))
    return sb.durable_objects.echo.get("room")


def test_sockets_tab_shows_a_bad_message_handler_error(sb: Sandbox) -> None:
    """Send of a message the handler rejects: the handler's error shows in the tab; socket open."""
    room = _echo(sb)
    sb.connect(room, "/ws")
    tab = sb.inspect(room).widget().select_tab("Sockets")
    tab.act(lambda: tab.row("ws-1").send("bad"))
    assert "ValueError: cannot parse &#x27;bad&#x27;" in tab.feedback_view.value
    assert "stays open" in tab.feedback_view.value
    assert "ws-1" in tab.rows
    tab.act(lambda: tab.row("ws-1").send("fine"))
    assert tab.feedback_view.value == ""


def test_sockets_tab_shows_last_messages_each_way(sb: Sandbox) -> None:
    """Each socket row shows the last messages to and from the object, not only counts."""
    room = _echo(sb)
    client = sb.connect(room, "/ws")
    for text in ("one", "two", "three", "four"):
        client.send(text)
    tab = sb.inspect(room).widget().select_tab("Sockets")
    summary = tab.row("ws-1").summary.value
    assert "last to the object" in summary and "two · three · four" in summary
    assert "echo:four" in summary and "echo:one" not in summary


def test_closed_socket_shows_closed_with_its_code(sb: Sandbox) -> None:
    """A socket the client closed leaves its row and is listed as CLOSED with code and reason."""
    room = _echo(sb)
    client = sb.connect(room, "/ws")
    w = sb.inspect(room).widget()
    tab = w.select_tab("Sockets")
    client.close(4001, "gotta go")
    w.refresh()
    assert "ws-1" not in tab.rows
    assert "CLOSED" in tab.closed.value and "code 4001" in tab.closed.value
    assert "&#x27;gotta go&#x27;" in tab.closed.value


# --- the header, storage size, colours -------------------------------------------------------


def test_header_says_what_its_counts_count(sb: Sandbox, stub: Any) -> None:
    """The header's event count is labelled 'delivered'; the Events tab's rows are 'log entries'."""
    sb.run(stub.put("k", "v" * 61))
    w = sb.inspect(stub).widget()
    logged = len(sb.inspect(stub).event_list())
    assert f"{logged} log entries" in w.title.value
    assert "1 events delivered" in w.title.value
    events_rows = w.select_tab("Events").table.value.count("<tr>") - 1
    assert events_rows == logged


def test_storage_size_explains_sqlite_pages(sb: Sandbox, stub: Any) -> None:
    """A 61-byte value's database shows its size as whole 4 KB SQLite pages, saying so."""
    sb.run(stub.put("k", "v" * 61))
    size = sb.inspect(stub).storage_size
    pages = size // 4096
    title = sb.inspect(stub).widget().title.value
    assert f"({pages} SQLite pages of 4 KB)" in title


FIXED_COLOUR = re.compile(r"(?<![\w-])(#[0-9a-fA-F]{3,8}\b|white(?!-)|black\b|rgba?\()")


def test_views_use_theme_colours_only() -> None:
    """No colour in the views' markup is fixed: each is a JupyterLab CSS variable (fallback ok)."""
    for path in sorted(WIDGETS.glob("*.py")):
        if path.name == "_clockbar.py":
            continue  # owned elsewhere; it draws its text through _render, checked here
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for match in FIXED_COLOUR.finditer(line):
                before = line[: match.start()]
                assert before.rstrip().endswith(",") and "var(--jp-" in before, (
                    f"{path.name}:{n} fixed colour {match.group()} outside var(--jp-...)"
                )


def test_long_messages_are_cut_between_words() -> None:
    """A table cell cut at its limit ends on a whole word and an ellipsis, never mid-word."""
    from dosandbox.widgets._render import preview

    text = "Transactions go through the storage API: use ctx.storage.transaction() instead"
    cut = preview(text, 60)
    assert cut == "Transactions go through the storage API: use…"
    assert preview("x" * 100, 10) == "x" * 9 + "…"  # one long word: cut where it must
