"""The dashboard: the clock bar, every object (click one to inspect it) and the event log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..errors import ValidationError
from ._base import Owner, ViewBase, heading, set_options
from ._checkpoints import CheckpointsPanel
from ._clockbar import ClockBar
from ._inspector import Inspector
from ._render import MUTED, format_ms, table_html
from ._static import object_rows, objects_columns

if TYPE_CHECKING:
    from .._notebook.handle import Handle
    from .._sandbox import Sandbox

__all__ = ["Dashboard"]

MAX_OBJECTS = 200
EVENT_ROWS = 100


class Dashboard(ViewBase, W.VBox):
    """``sb.widget()``. Twins: ``inspect(stub_or_id)``, ``filter_events(kind)``."""

    def __init__(self, sandbox: Sandbox) -> None:
        Owner.__init__(self)
        self.sandbox = sandbox
        self.clock_bar = self.own(ClockBar(sandbox))
        self.checkpoints = CheckpointsPanel(self, sandbox)
        self.objects = self.html()
        self.picker = self.own(
            W.Select(options=[], rows=6, description="Inspect",
                     layout=W.Layout(width="520px"))
        )
        self.picker.add_class("dosandbox-object-picker")
        self.on_change(self.picker, self._show_picked)
        self.inspector: Inspector | None = None
        self.inspector_slot = self.own(W.VBox([]))
        self.kind = self.own(W.Dropdown(description="Kind", options=["all"], value="all"))
        self.on_change(self.kind, self._render_events)
        self.events = self.html(max_height="420px", overflow="auto")
        W.VBox.__init__(self, children=[
            self.clock_bar,
            self.error,
            self.make_action_output(),
            self.checkpoints.box,
            self.html(heading("Objects")),
            self.objects,
            self.picker,
            self.inspector_slot,
            self.html(heading("Events (newest first)")),
            self.kind,
            self.events,
        ])
        self.add_class("dosandbox-dashboard")
        self._live_start(sandbox)
        self.refresh()

    # --- twins ---------------------------------------------------------------------------

    def inspect(self, target: Any) -> Inspector:
        """Open the inspector for a stub, a handle, or an object id (the list's click)."""
        key = _key(self._handle(target))
        if self.picker.value != key:
            self.picker.value = key  # as a click on the list: its observer opens it
        elif self.inspector is None:
            self.run_action(self._show_picked)
        if self.last_error is not None:
            raise self.last_error
        assert self.inspector is not None
        return self.inspector

    def filter_events(self, kind: str) -> None:
        if kind not in self.kind.options:
            self.kind.options = [*self.kind.options, kind]
        self.kind.value = kind

    def _show_picked(self) -> None:
        key = self.picker.value
        if self.inspector is not None:
            self.inspector.close()
            self.inspector = None
            self.inspector_slot.children = []
        if key is None:
            return
        self.inspector = Inspector(self._handle(key))
        self.inspector_slot.children = [self.inspector]

    def _handle(self, target: Any) -> Handle:
        """A handle on ``target``: a handle, a stub, an object id or a picker key."""
        from .._notebook.handle import Handle
        from .._runtime.namespace import Stub

        if isinstance(target, Handle):
            return target
        if isinstance(target, Stub):
            return self.sandbox.inspect(target)
        text = str(target)
        for handle in self.sandbox.handles():
            if _key(handle) == text or handle.id == text:
                return handle
        raise ValidationError(
            f"The dashboard knows no object {text!r}; pass a stub, a handle or an object id "
            "from sb.objects()."
        )

    # --- refreshing ----------------------------------------------------------------------

    def refresh(self) -> None:
        handles = self.sandbox.handles()
        cols = objects_columns()
        rows = object_rows(self.sandbox, handles[:MAX_OBJECTS])
        more = (
            f'<div style="font-size:12px;color:{MUTED}">… {len(handles) - MAX_OBJECTS:,} more '
            "(sb.objects() lists them all)</div>" if len(handles) > MAX_OBJECTS else ""
        )
        self.objects.value = table_html(cols, rows, empty="no objects yet",
                                        mono=("id",)) + more
        options = [(_label(h), _key(h)) for h in handles[:MAX_OBJECTS]]
        set_options(self, self.picker, options, self.picker.value)
        self.checkpoints.refresh()
        self._render_events()

    def _render_events(self) -> None:
        events = list(self.sandbox.event_log)
        kinds = sorted({e.kind for e in events} | {k for k in self.kind.options if k != "all"})
        kind = self.kind.value or "all"
        set_options(self, self.kind, ["all", *kinds], kind)
        if kind != "all":
            events = [e for e in events if e.kind == kind or e.kind.startswith(kind + ".")]
        newest = events[::-1][:EVENT_ROWS]
        self.events.value = table_html(
            ["seq", "time", "kind", "object", "message"],
            [(e.seq, format_ms(e.time_ms), e.kind, e.object_name or "", e.message)
             for e in newest],
            empty="no events",
            limit=120,
        )

    def close(self) -> None:  # type: ignore[override]
        if self.inspector is not None:
            self.inspector.close()
            self.inspector = None
        super().close()

    def static_html(self) -> str:
        from ._static import sandbox_html

        return sandbox_html(self.sandbox)

    def text_summary(self) -> str:
        return repr(self.sandbox)


def _key(handle: Handle) -> str:
    return f"{handle.name}:{handle.id}"


def _label(handle: Handle) -> str:
    key = handle.object_key
    name = key if key is not None else handle.id[:12] + "…"
    return f"{handle.name} · {name} · {handle.status}"
