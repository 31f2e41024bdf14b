"""The inspector: one object's state, storage, sockets, alarm and events, live."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import ValidationError
from ._base import Owner, ViewBase
from ._render import esc, status_badge
from ._static import handle_html
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

    def __init__(self, handle: Handle, *, tab: str = "State") -> None:
        Owner.__init__(self)
        self.handle = handle
        self.sandbox = handle.sandbox
        self.title = self.html()
        self.evict_button = self.button(
            "Evict", self.evict, style="danger", icon="power-off",
            tooltip="Drop the live instance as the platform does when idle: in-memory state "
            "is lost, storage and hibernatable sockets stay (standard-API sockets close); the "
            "next event runs init again.",
        )
        self.tabs_by_title: dict[str, Tab] = {}
        tabs = []
        tab_classes: tuple[type[Tab], ...] = (*TABS, TimelineTab)
        for cls in tab_classes:
            t = cls(self, handle)
            self.tabs_by_title[cls.title] = t
            tabs.append(t)
        self.tabs = self.own(W.Tab(children=[t.box for t in tabs]))
        self.tabs.titles = tuple(t.title for t in tabs)
        self.tabs.selected_index = self._index(tab)
        self.tabs.observe(self._on_tab, "selected_index")
        header = self.own(W.HBox([self.title, self.evict_button],
                                 layout=W.Layout(align_items="center")))
        W.VBox.__init__(self, children=[header, self.error, self.tabs])
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
        """A tab by title, its widgets built (they are built when first shown)."""
        t = self.tabs_by_title[self._title(title)]
        t.ensure_built()
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
        label = f' <span style="color:#555">"{esc(key)}"</span>' if key else ""
        self.title.value = (
            f'<div style="font-size:14px"><b>{esc(h.name)}</b>{label} '
            f'<span style="font-family:monospace;font-size:11px;color:#777" title="{esc(h.id)}">'
            f"{esc(h.id[:16])}…</span> {status_badge(h.status)} "
            f'<span style="font-size:11px;color:#777">instance #{h.instance_number} · '
            f"{h.events_delivered} events · {h.in_flight} in flight</span></div>"
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
            if known.lower() == title.lower():
                return known
        raise ValidationError(
            f"The inspector has no tab {title!r}; its tabs are {', '.join(self.tabs_by_title)}."
        )

    def _index(self, title: str) -> int:
        return list(self.tabs_by_title).index(self._title(title))
