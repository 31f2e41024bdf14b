"""The inspector: one object's state, storage, sockets, alarm and events, live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import ValidationError
from ._base import Owner, ViewBase
from ._render import MUTED, VIEW_CSS, esc, status_badge
from ._static import handle_html, storage_text
from ._stubs import StubsTab
from ._tabs import TABS, Tab
from ._timeline import TimelineTab

if TYPE_CHECKING:
    from .._notebook.handle import Handle

__all__ = ["Inspector"]


class Inspector(ViewBase, W.VBox):
    """``sb.inspect(stub).widget()``: a header with Evict, and the tabs of one object.

    Every button has a twin for code and tests: ``evict()``, ``select_tab("KV")``,
    ``tab("KV").set_prefix(...)``, ``tab("Alarm").fire()``, ``tab("SQL").run_query(...)``...
    """

    def __init__(self, handle: Handle, *, tab: str | None = None) -> None:
        Owner.__init__(self)
        self.handle = handle
        self.sandbox = handle.sandbox
        self.title = self.html()
        self.title.add_class("dosandbox-inspector-title")
        self.evict_button = self.button(
            "Evict", self.evict, icon="power-off",
            tooltip="Drop the live instance as the platform does when idle: in-memory state "
            "is lost, storage and hibernatable sockets stay (standard-API sockets close); the "
            "next event runs init again.",
        )
        self.tabs_by_title: dict[str, Tab] = {}
        tabs = []
        tab_classes: tuple[type[Tab], ...] = (*TABS, StubsTab, TimelineTab)
        for cls in tab_classes:
            t = cls(self, handle)
            self.tabs_by_title[cls.title] = t
            tabs.append(t)
        self.tabs = self.own(W.Tab(children=[t.box for t in tabs]))
        self.tabs.titles = tuple(t.title for t in tabs)
        self.tabs.selected_index = self._index(tab or handle.tab or telling_tab(handle))
        self.tabs.observe(self._on_tab, "selected_index")
        header = self.own(W.HBox([self.title, self.evict_button],
                                 layout=W.Layout(align_items="center")))
        W.VBox.__init__(self, children=[self.html(VIEW_CSS), header, self.error,
                                        self.make_action_output(), self.tabs])
        self.add_class("dosandbox-inspector")
        self._live_start(self.sandbox)
        self.refresh()

    # --- twins of the buttons ------------------------------------------------------------

    def evict(self) -> bool:
        """The Evict button: drop the live instance (``handle.evict()``)."""
        dropped = self.handle.evict()
        self.refresh()
        return dropped

    def tab(self, title: str) -> Any:
        """A tab by title, built and drawn (tabs are drawn when first shown or asked for)."""
        t = self.tabs_by_title[self._title(title)]
        if t.stale:
            t.refresh()
        return t

    def select_tab(self, title: str) -> Any:
        """Show a tab (``"KV"``...) and return it."""
        self.tabs.selected_index = self._index(title)
        return self.tab(title)

    @property
    def selected(self) -> Tab:
        return list(self.tabs_by_title.values())[self.tabs.selected_index or 0]

    # --- refreshing ----------------------------------------------------------------------

    def wants_refresh(self, object_ids: set[str | None], clock_moved: bool) -> bool:
        # The clock only changes what the Alarm tab says ("in 3 min 20 s").
        return self.handle.id in object_ids or (clock_moved and self.selected.title == "Alarm")

    def refresh(self) -> None:
        """Redraw the header and the visible tab; the others redraw when shown."""
        h = self.handle
        key = h.object_key
        label = f' <span style="color:{MUTED}">"{esc(key)}"</span>' if key else ""
        logged = len(h.event_list())
        size = h.storage_size
        self.title.value = (
            f'<div style="font-size:14px;text-align:left"><b>{esc(h.name)}</b>{label} '
            f'<span style="font-family:monospace;font-size:11px;color:{MUTED}" '
            f'title="{esc(h.id)}">{esc(h.id[:16])}…</span> {status_badge(h.status)} '
            f'<span style="font-size:11px;color:{MUTED}">instance #{h.instance_number} · '
            f'<span title="calls, fetches, alarms and socket messages that reached the object">'
            f"{h.events_delivered} events delivered</span> · "
            f'<span title="everything the Events tab lists: also storage writes, instances, '
            f'errors">{logged} log entries</span> · {h.in_flight} in flight · '
            f"storage {esc(storage_text(size))}</span></div>"
        )
        self.evict_button.disabled = not h.is_live
        for t in self.tabs_by_title.values():
            t.stale = True
        self.selected.refresh()

    def _on_tab(self, change: dict[str, Any]) -> None:
        t = self.selected
        if t.stale:
            self.run_action(t.refresh)

    # --- snapshot ------------------------------------------------------------------------

    def static_html(self) -> str:
        return handle_html(self.handle)

    def text_summary(self) -> str:
        return repr(self.handle)

    def _title(self, title: str) -> str:
        for known in self.tabs_by_title:
            if isinstance(title, str) and known.lower() == title.lower():
                return known
        raise ValidationError(
            f"The inspector has no tab {title!r}; its tabs are {', '.join(self.tabs_by_title)}."
        )

    def _index(self, title: str) -> int:
        return list(self.tabs_by_title).index(self._title(title))


def telling_tab(handle: Handle) -> str:
    """The tab that shows most about this object now, when nobody asked for one.

    Calls in flight show on State (where each waits); then open sockets, SQL tables, KV keys,
    a pending alarm; an object with none of those opens on State.
    """
    from . import _data

    if not handle.is_live and handle.status == "not created":
        return "State"
    try:
        if handle.in_flight:
            return "State"
        if handle.socket_count:
            return "Sockets"
        if _data.sql_tables(handle):
            return "SQL"
        if handle.kv_count():
            return "KV"
        if handle.alarm is not None:
            return "Alarm"
    except Exception:  # a storage read failed: the State tab says why, if it can
        return "State"
    return "State"
