"""The inspector's Timeline tab: scrub through one object's events and see its storage then.

A slider (and step buttons) over the object's events; each position shows KV, the SQL tables
and the alarm as they were once that event happened (``handle.at(event)``), read-only, the
diff against now, and a "Bookmark here" button giving the point-in-time recovery bookmark of
that state (restore it with ``on_next_session_restore_bookmark``).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from ..errors import ValidationError
from . import _data
from ._base import heading
from ._render import MUTED, esc, format_ms, frame_rows, message_html, table_html
from ._tabs import Tab

__all__ = ["TimelineTab"]

# Rows shown per table in the tab (handle.at() has them all).
ROWS = 50


class TimelineTab(Tab):
    """Twins of the controls: ``go_to(index_or_event)``, ``step(±1)``, ``bookmark_here()``."""

    title = "Timeline"

    def build(self) -> list[W.Widget]:
        ins = self.inspector
        self.slider = ins.own(W.IntSlider(min=0, max=0, value=0, description="Event",
                                          continuous_update=False,
                                          layout=W.Layout(width="420px")))
        self.on_change(self.slider, self._moved)
        self.back = ins.button("◀", lambda: self.step(-1), tooltip="The event before")
        self.forward = ins.button("▶", lambda: self.step(1), tooltip="The event after")
        self.mark = ins.button(
            "Bookmark here", self.bookmark_here, icon="bookmark",
            tooltip="The point-in-time recovery bookmark of the state at this event: pass it "
            "to ctx.storage.on_next_session_restore_bookmark() to bring it back.")
        self.bookmark = ins.own(W.Text(value="", description="Bookmark", disabled=True,
                                       layout=W.Layout(width="640px")))
        self.where = ins.html()
        self.view = ins.html()
        self.events: list[Any] = []
        self.past: Any = None  # the PastState shown
        self.follow = True  # at the newest event until the user moves away
        controls = ins.own(W.HBox([self.back, self.slider, self.forward, self.mark],
                                  layout=W.Layout(align_items="center")))
        return [self.note, controls, self.where, self.bookmark, self.view]

    # --- twins -----------------------------------------------------------------------------

    def go_to(self, position: Any) -> Any:
        """Show the state at an event: its position in the list, or the Event itself."""
        self.ensure_built()
        if not isinstance(position, int):
            seqs = [e.seq for e in self.events]
            if getattr(position, "seq", None) not in seqs:
                raise ValidationError(
                    "go_to() takes a position on the timeline (0 = the first event) or one of "
                    "this object's events (handle.event_list())."
                )
            position = seqs.index(position.seq)
        self.inspector.updating = True
        try:
            self.slider.value = max(self.slider.min, min(self.slider.max, position))
        finally:
            self.inspector.updating = False
        self._moved()
        self.refresh()
        return self.past

    def _moved(self) -> None:
        # At the newest event the tab follows new ones; anywhere else it stays put.
        self.follow = self.slider.value == self.slider.max

    def step(self, delta: int) -> Any:
        """One event back (-1) or forward (+1)."""
        return self.go_to(self.slider.value + delta)

    def bookmark_here(self) -> str:
        """The bookmark of the state shown (also put in the Bookmark field)."""
        if self.past is None:
            raise ValidationError("No state is shown: this object has no events with storage yet.")
        if self.past.bookmark is None:
            raise ValidationError(
                "This state is older than the 30-day point-in-time recovery window: it can be "
                "looked at, not restored."
            )
        self.bookmark.value = self.past.bookmark
        return str(self.past.bookmark)

    # --- drawing ---------------------------------------------------------------------------

    def render(self) -> None:
        events = self.handle.event_list()
        self.events = events
        self.inspector.updating = True
        try:
            self.slider.max = max(0, len(events) - 1)
            if self.follow:
                self.slider.value = self.slider.max
        finally:
            self.inspector.updating = False
        if not events:
            self.past = None
            raise _data.Unavailable("No events yet: call the object, then scrub its history.")
        event = events[self.slider.value]
        self.where.value = (
            f'<div style="font-size:12px">#{event.seq} · {esc(format_ms(event.time_ms))} · '
            f"<b>{esc(event.kind)}</b> · {esc(event.message)}</div>"
        )
        try:
            past = self.handle.at(event)
        except ValidationError as exc:
            self.past = None
            self.view.value = message_html(str(exc))
            return
        if self.past is None or past.entry_seq != self.past.entry_seq:
            self.bookmark.value = ""
        self.past = past
        self.view.value = _state_html(past)


def _state_html(past: Any) -> str:
    alarm = "no alarm" if past.alarm_ms is None else f"alarm at {format_ms(past.alarm_ms)}"
    parts = [
        f'<div style="font-size:12px;color:{MUTED}">state #{past.entry_seq} ({esc(past.kind)}) '
        f"committed {esc(format_ms(past.time_ms))} · {esc(alarm)}</div>",
        heading("KV then"),
        table_html(*frame_rows(past.kv.head(ROWS), ["key", "value", "type"]), empty="no keys"),
    ]
    for name, frame in past.tables.items():
        parts.append(heading(f"{name} then ({len(frame):,} rows)"))
        parts.append(table_html(*frame_rows(frame.head(ROWS)), empty="no rows"))
    diff = past.diff
    parts.append(heading("Changed since then"))
    if diff.empty:
        parts.append(message_html("Nothing: this is the state now."))
        return "".join(parts)
    if len(diff.schema):
        parts.append(table_html(*frame_rows(diff.schema), empty=""))
    if len(diff.kv):
        parts.append(table_html(*frame_rows(diff.kv.head(ROWS)), empty=""))
    if len(diff.rows):
        parts.append(table_html(*frame_rows(diff.rows.head(ROWS)), empty=""))
    return "".join(parts)
