"""The inspector's tabs: State, KV, SQL, Sockets, Alarm, Events.

Each tab owns its widgets (through the inspector) and renders only when it is shown: a
refresh of an inspector redraws the visible tab and marks the others stale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import SqlError
from . import _data
from ._base import Owner, close_widget, heading, set_options
from ._render import (
    MUTED,
    alarm_html,
    esc,
    format_ms,
    frame_rows,
    message_html,
    preview,
    status_badge,
    table_html,
    tree_html,
    value_detail_html,
)
from ._static import in_flight_html

if TYPE_CHECKING:
    from .._notebook.handle import Handle

__all__ = ["TABS"]

PAGE = 50


class Tab:
    """One tab of an inspector: ``inspector`` owns its widgets, ``handle`` is what it shows."""

    title = ""

    def __init__(self, inspector: Owner, handle: Handle) -> None:
        self.inspector = inspector
        self.handle = handle
        self.stale = True
        self.built = False
        # Filled the first time the tab is shown: an inspector opens with one tab's widgets.
        self.box = inspector.own(W.VBox([]))
        self.renders = 0

    def ensure_built(self) -> None:
        if not self.built:
            self.built = True
            self.note = self.inspector.html()
            self.box.children = self.build()

    def build(self) -> list[W.Widget]:  # pragma: no cover - overridden
        return []

    def refresh(self) -> None:
        self.ensure_built()
        self.stale = False
        self.renders += 1
        try:
            self.note.value = ""
            self.render()
        except _data.Unavailable as missing:
            self.note.value = message_html(str(missing))

    def render(self) -> None:  # pragma: no cover - overridden
        pass

    def on_change(self, widget: Any, fn: Any) -> None:
        """When the user changes ``widget``: run ``fn`` then redraw this tab."""

        def then_refresh() -> None:
            fn()
            self.refresh()

        self.inspector.on_change(widget, then_refresh)

    def act(self, action: Any) -> Any:
        """Run a button's action; show its error; redraw this tab."""
        result = self.inspector.run_action(action)
        self.refresh()
        return result


# --- State -----------------------------------------------------------------------------------


class StateTab(Tab):
    title = "State"

    def build(self) -> list[W.Widget]:
        self.view = self.inspector.html()
        return [self.note, self.view]

    def render(self) -> None:
        h = self.handle
        waiting = in_flight_html(h)
        if not h.is_live:
            why = {
                "evicted": "No live instance: the object was evicted and its in-memory state is "
                "gone. Storage, the alarm and hibernated sockets remain; the next event runs init "
                "again.",
                "redeployed": "Redeployed: new code was registered, so the old instance and its "
                "in-memory state are gone. Storage, the alarm and hibernatable sockets remain; "
                "the next event starts the new code (its init).",
            }.get(h.status, "Not created yet: the first call builds the instance and runs init.")
            self.view.value = message_html(why)
            return
        state = h.state
        self.view.value = waiting + (
            f'<div style="font-size:12px;color:{MUTED}">type <b>{esc(type(state).__name__)}</b>'
            f"</div>{tree_html(state, open_levels=2)}"
        )


# --- KV --------------------------------------------------------------------------------------


class KVTab(Tab):
    title = "KV"

    def build(self) -> list[W.Widget]:
        ins = self.inspector
        self.offset = 0
        self.page: _data.KVPage | None = None
        self.prefix = ins.own(
            W.Text(placeholder="key prefix", description="Prefix", continuous_update=False,
                   layout=W.Layout(width="260px"))
        )
        self.on_change(self.prefix, self._reset)
        self.prev_button = ins.button("◀ Prev", lambda: self.act(self.prev_page))
        self.next_button = ins.button("Next ▶", lambda: self.act(self.next_page))
        self.position = ins.html()
        self.table = ins.html()
        self.key_picker = ins.own(
            W.Dropdown(description="Value of", options=[], layout=W.Layout(width="420px"))
        )
        ins.on_change(self.key_picker, self._show_detail)
        self.detail = ins.html()
        bar = ins.own(W.HBox([self.prefix, self.prev_button, self.next_button, self.position]))
        return [self.note, bar, self.table, self.key_picker, self.detail]

    def _reset(self) -> None:
        self.offset = 0

    def set_prefix(self, prefix: str) -> None:
        """Show only keys starting with ``prefix`` (the prefix box's twin)."""
        self.prefix.value = prefix

    def next_page(self) -> None:
        if self.page is not None and self.offset + PAGE < self.page.total:
            self.offset += PAGE

    def prev_page(self) -> None:
        self.offset = max(0, self.offset - PAGE)

    def select(self, key: str) -> None:
        """Show one key's value in full (the picker's twin)."""
        self.key_picker.value = key

    def render(self) -> None:
        page = _data.kv_page(self.handle, self.offset, PAGE, self.prefix.value)
        self.page, self.offset = page, page.offset
        first = page.offset + 1 if page.rows else 0
        last = page.offset + len(page.rows)
        where = f" starting with {self.prefix.value!r}" if self.prefix.value else ""
        self.position.value = (
            f'<span style="font-size:12px">keys {first:,}–{last:,} of {page.total:,}'
            f"{esc(where)}</span>"
        )
        self.prev_button.disabled = page.offset == 0
        self.next_button.disabled = last >= page.total
        self.table.value = table_html(
            ["key", "value", "type", "size"],
            page.rows,
            empty="no keys" + where,
            mono=("key", "value"),
        )
        keys = [r[0] for r in page.rows]
        current = self.key_picker.value
        set_options(self.inspector, self.key_picker, keys,
                    current if current in keys else (keys[0] if keys else None))
        self._show_detail()

    def _show_detail(self) -> None:
        key = self.key_picker.value
        if self.page is None or key is None:
            self.detail.value = ""
            return
        for k, value, type_name, size in self.page.rows:
            if k == key:
                self.detail.value = value_detail_html(k, value, type_name, size)
                return


# --- SQL -------------------------------------------------------------------------------------


class SQLTab(Tab):
    title = "SQL"

    def build(self) -> list[W.Widget]:
        ins = self.inspector
        self.offset = 0
        self.tables: list[_data.TableInfo] = []
        self.table_list = ins.html()
        self.table_picker = ins.own(
            W.Dropdown(description="Table", options=[], layout=W.Layout(width="320px"))
        )
        self.on_change(self.table_picker, self._reset)
        self.prev_button = ins.button("◀ Prev", lambda: self.act(self.prev_page))
        self.next_button = ins.button("Next ▶", lambda: self.act(self.next_page))
        self.position = ins.html()
        self.table_page = ins.html()
        self.query = ins.own(
            W.Textarea(placeholder="SELECT * FROM ...", layout=W.Layout(width="100%",
                                                                       height="60px"))
        )
        self.allow_writes = ins.own(
            W.Checkbox(value=False, description="allow writes", indent=False)
        )
        self.run_button = ins.button("Run query", lambda: self.act(self.run_query), icon="play")
        self.result = ins.html()
        self.result_frame: Any = None
        return [
            self.note,
            ins.html(heading("Tables")),
            self.table_list,
            ins.own(W.HBox([self.table_picker, self.prev_button, self.next_button,
                            self.position])),
            self.table_page,
            ins.html(heading("Query (read-only unless writes are allowed)")),
            self.query,
            ins.own(W.HBox([self.run_button, self.allow_writes])),
            self.result,
        ]

    def _reset(self) -> None:
        self.offset = 0

    def next_page(self) -> None:
        info = self._current()
        if info is not None and self.offset + PAGE < info.rows:
            self.offset += PAGE

    def prev_page(self) -> None:
        self.offset = max(0, self.offset - PAGE)

    def show_table(self, name: str) -> None:
        """Page through one table (the picker's twin)."""
        self.table_picker.value = name

    def _current(self) -> _data.TableInfo | None:
        for info in self.tables:
            if info.name == self.table_picker.value:
                return info
        return None

    def run_query(self, query: str | None = None, *, write: bool | None = None) -> Any:
        """Run the query box (or ``query``) and show the result; returns the DataFrame."""
        if query is not None:
            self.query.value = query
        if write is not None:
            self.allow_writes.value = write
        self.result_frame = None
        self.result.value = ""
        try:
            frame = _data.sql_query(self.handle, self.query.value, self.allow_writes.value)
        except SqlError as exc:
            if "\n" in exc.message:  # the statement with a caret under the token: keep it lined up
                self.result.value = (
                    f'<pre style="font-size:12px;margin:4px 0">{esc(exc.message)}</pre>'
                )
            raise
        self.result_frame = frame
        cols, rows = frame_rows(frame)
        shown = rows[:200]
        more = f" (first {len(shown)} shown)" if len(rows) > len(shown) else ""
        self.result.value = (
            f'<div style="font-size:12px;color:{MUTED}">{len(rows):,} row(s){esc(more)}</div>'
            + table_html(cols, shown, empty="no rows")
        )
        return frame

    def render(self) -> None:
        self.tables = _data.sql_tables(self.handle)
        self.table_list.value = table_html(
            ["table", "rows", "schema"],
            [(t.name, f"{t.rows:,}", t.schema) for t in self.tables],
            empty="no tables yet (create one with ctx.sql.exec('CREATE TABLE ...'))",
            mono=("schema",),
            limit=160,
        )
        names = [t.name for t in self.tables]
        current = self.table_picker.value
        set_options(self.inspector, self.table_picker, names,
                    current if current in names else (names[0] if names else None))
        info = self._current()
        if info is None:
            self.position.value = ""
            self.table_page.value = ""
            self.prev_button.disabled = self.next_button.disabled = True
            return
        self.offset = min(self.offset, max(0, (info.rows - 1) // PAGE * PAGE))
        frame = _data.sql_table_page(self.handle, info.name, self.offset, PAGE)
        cols, rows = frame_rows(frame)
        first = self.offset + 1 if rows else 0
        self.position.value = (
            f'<span style="font-size:12px">rows {first:,}–{self.offset + len(rows):,} of '
            f"{info.rows:,}</span>"
        )
        self.prev_button.disabled = self.offset == 0
        self.next_button.disabled = self.offset + len(rows) >= info.rows
        self.table_page.value = table_html(cols, rows, empty="empty table")


# --- Sockets ---------------------------------------------------------------------------------

MAX_SOCKET_ROWS = 20


class SocketRow:
    """One connected socket: its summary and last messages, a send box, Send and Close."""

    def __init__(self, tab: SocketsTab, socket_id: str) -> None:
        ins = tab.inspector
        self.socket_id = socket_id
        self.summary = ins.html(width="55%")
        self.message = ins.own(W.Text(placeholder="message to send", layout=W.Layout(width="30%")))
        self.send_button = ins.button("Send", lambda: tab.act(self.send))
        self.close_button = ins.button("Close", lambda: tab.act(self.close), icon="times")
        self.box = ins.own(W.HBox([self.summary, self.message, self.send_button,
                                   self.close_button]))
        self.tab = tab

    def send(self, message: str | None = None) -> None:
        """Send the box's text (or ``message``) to the object as this socket's client.

        A handler that raises does not fail the send (the platform drops the event and keeps
        the socket open): its error shows in the tab.
        """
        if message is not None:
            self.message.value = message
        before = _data.last_seq(self.tab.handle)
        _data.socket_send(self.tab.handle, self.socket_id, self.message.value)
        self.message.value = ""
        errors = _data.errors_since(self.tab.handle, before)
        self.tab.feedback = (
            f"{self.socket_id}: the object's handler raised (the socket stays open, the "
            f"message was dropped): " + "; ".join(errors) if errors else ""
        )

    def close(self, code: int = 1000, reason: str = "closed from the inspector") -> None:
        _data.socket_close(self.tab.handle, self.socket_id, code, reason)

    def widgets(self) -> tuple[W.Widget, ...]:
        return (self.box, self.summary, self.message, self.send_button, self.close_button)


def _messages_html(label: str, messages: list[Any]) -> str:
    if not messages:
        return ""
    shown = " · ".join(esc(preview(m, 60)) for m in messages)
    return (
        f'<div style="font-size:11px;color:{MUTED}">{esc(label)}: '
        f'<span style="font-family:var(--jp-code-font-family,monospace)">{shown}</span></div>'
    )


class SocketsTab(Tab):
    title = "Sockets"

    def build(self) -> list[W.Widget]:
        self.table = self.inspector.html()
        self.feedback = ""  # the last Send's handler error, shown until the next action
        self.feedback_view = self.inspector.html()
        self.rows: dict[str, SocketRow] = {}
        self.rows_box = self.inspector.own(W.VBox([]))
        self.closed = self.inspector.html()
        return [self.note, self.feedback_view, self.table, self.rows_box, self.closed]

    def row(self, socket_id: str) -> SocketRow:
        return self.rows[socket_id]

    def render(self) -> None:
        frame = _data.sockets(self.handle)
        cols, rows = frame_rows(frame)
        self.table.value = table_html(cols, rows, empty="no sockets connected")
        self.feedback_view.value = message_html(self.feedback, "error") if self.feedback else ""
        id_col = _data.socket_id_column(frame)
        open_items: dict[str, dict[str, Any]] = {}
        if id_col is not None:
            for rec in frame.itertuples(index=False, name=None):
                item = dict(zip(cols, rec, strict=False))
                if _data.socket_is_open(item) and len(open_items) < MAX_SOCKET_ROWS:
                    open_items[str(item[id_col])] = item
        open_ids = list(open_items)
        for gone in [sid for sid in self.rows if sid not in open_items]:
            old = self.rows.pop(gone)
            for w in old.widgets():
                close_widget(w)
                self.inspector._owned.remove(w)
        for sid, item in open_items.items():
            if sid not in self.rows:
                self.rows[sid] = SocketRow(self, sid)
            tags = ", ".join(map(str, item.get("tags") or ())) or "no tags"
            traffic = f"in {item.get('messages_in', '?')} · out {item.get('messages_out', '?')}"
            # Which API accepted it: a standard-API socket closes when the object is evicted.
            api = f" ({item['api']})" if item.get("api") else ""
            last = _data.socket_traffic(self.handle, sid)
            self.rows[sid].summary.value = (
                f'<div style="font-size:12px;text-align:left">{status_badge("OPEN")} '
                f'<b style="font-family:monospace">{esc(sid)}</b>'
                f"{esc(api)} [{esc(tags)}] {esc(traffic)}</div>"
                + _messages_html("last to the object", last.to_object)
                + _messages_html("last from the object", last.from_object)
            )
        self.rows_box.children = [self.rows[sid].box for sid in open_ids]
        self.closed.value = self._closed_html(set(open_ids))

    def _closed_html(self, open_ids: set[str]) -> str:
        """Recent closes stay listed as CLOSED with their code, so a close never just vanishes."""
        lines = []
        for c in _data.closed_sockets(self.handle):
            if c.socket in open_ids:
                continue
            reason = f" {c.reason!r}" if c.reason else ""
            lines.append(
                f'<div style="font-size:12px;text-align:left;margin:1px 0">'
                f'{status_badge("CLOSED")} <b style="font-family:monospace">{esc(c.socket)}</b> '
                f"code {esc(c.code)}{esc(reason)} (by the {esc(c.by)}, "
                f"{esc(format_ms(c.time_ms))})</div>"
            )
        if not lines:
            return ""
        return (
            '<div style="font-size:12px;font-weight:600;margin-top:6px">Recently closed</div>'
            + "".join(lines)
        )

    def act(self, action: Any) -> Any:
        self.feedback = ""
        return super().act(action)


# --- Alarm -----------------------------------------------------------------------------------


class AlarmTab(Tab):
    title = "Alarm"

    def build(self) -> list[W.Widget]:
        ins = self.inspector
        self.view = ins.html()
        self.fire_button = ins.button("Fire now", lambda: self.act(self.fire), icon="bolt")
        self.delete_button = ins.button("Delete alarm", lambda: self.act(self.delete),
                                        icon="trash")
        return [self.note, self.view, ins.own(W.HBox([self.fire_button, self.delete_button]))]

    def fire(self) -> None:
        """Run the pending alarm now, without moving the clock (``handle.fire_alarm()``)."""
        _data.fire_alarm(self.handle)

    def delete(self) -> None:
        _data.delete_alarm(self.handle)

    def render(self) -> None:
        info = _data.alarm(self.handle)
        has = info is not None
        self.fire_button.disabled = not has
        self.delete_button.disabled = not has
        if info is None:
            self.view.value = message_html("No alarm set.")
            return
        self.view.value = alarm_html(info, self.handle.sandbox.clock.now_ms)


# --- Events ----------------------------------------------------------------------------------

EVENT_ROWS = 200


class EventsTab(Tab):
    title = "Events"

    def build(self) -> list[W.Widget]:
        ins = self.inspector
        self.kind = ins.own(W.Dropdown(description="Kind", options=["all"], value="all"))
        self.on_change(self.kind, lambda: None)
        # A long log scrolls inside the tab instead of pushing the notebook down.
        self.table = ins.html(max_height="420px", overflow="auto")
        return [self.note, self.kind, self.table]

    def filter(self, kind: str) -> None:
        """Only events of this kind (``alarm`` also matches ``alarm.fired``)."""
        if kind not in self.kind.options:
            self.kind.options = [*self.kind.options, kind]
        self.kind.value = kind

    def render(self) -> None:
        events = self.handle.event_list()
        kinds = sorted({e.kind for e in events} | {k for k in self.kind.options if k != "all"})
        kind = self.kind.value or "all"
        set_options(self.inspector, self.kind, ["all", *kinds], kind)
        if kind != "all":
            events = [e for e in events if e.kind == kind or e.kind.startswith(kind + ".")]
        newest = events[::-1][:EVENT_ROWS]
        self.table.value = table_html(
            ["seq", "time", "kind", "message"],
            [(e.seq, format_ms(e.time_ms), e.kind, e.message) for e in newest],
            empty="no events",
            limit=160,
        )


TABS: tuple[type[Tab], ...] = (StateTab, KVTab, SQLTab, SocketsTab, AlarmTab, EventsTab)
