"""Keeping open views fresh, cheaply.

One :class:`LiveHub` per sandbox is its only subscriber (a single ``sb.subscribe`` for events,
clock moves and the end of each drive), and only while at least one view is open: with nothing
displayed, no callback runs at all.

An event only marks the hub dirty (a set insert). The refresh happens once per burst:

* inside a drive (``await stub.m()``, a clock step, a button) the sandbox's ``on_idle``
  callback (``sb.subscribe``) fires when the outermost drive ends;
* then, in a kernel (an asyncio loop is running in this thread), the flush is queued with
  ``call_soon`` so a cell that makes 10,000 calls refreshes once, after the cell;
* with no loop running (scripts, tests), it flushes right away: deterministic and testable.

Closed views unregister. Re-running a cell closes the views that cell's previous run made
(matched by the notebook's cell id), so a cell run 100 times leaves one live view, not 100.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._core.events import Event
    from .._sandbox import Sandbox

__all__ = ["LiveHub", "LiveView", "current_cell", "hub_for"]

# Safety net for front ends that send no cell id: past this many open views per sandbox the
# oldest is closed (a notebook rarely shows this many at once; re-runs would otherwise leak).
MAX_VIEWS = 64


def current_cell() -> tuple[str, str] | None:
    """(cell id, execute request id) of the cell running now in a Jupyter kernel, else None.

    JupyterLab, Notebook 7 and VS Code send the cell id in the execute request's metadata.
    IPython is only looked up if it is already imported, never imported here.
    """
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
        kernel = getattr(shell, "kernel", None)
        if kernel is None:
            return None
        parent = kernel.get_parent()
        header = parent.get("header", {})
        if header.get("msg_type") != "execute_request":
            return None
        cell_id = (parent.get("metadata") or {}).get("cellId")
        if not cell_id:
            return None
        return str(cell_id), str(header.get("msg_id"))
    except Exception:  # any odd front end: just no replacement
        return None


class LiveView:
    """Mixin for a widget that follows the sandbox. Subclasses implement the two hooks."""

    refresh_count: int = 0

    def _live_start(self, sandbox: Sandbox) -> None:
        self.refresh_count = 0
        self._live_closed = False
        self._live_hub = hub_for(sandbox)
        self._live_hub.register(self)

    # --- hooks ---------------------------------------------------------------------------

    def wants_refresh(self, object_ids: set[str | None], clock_moved: bool) -> bool:
        """Does a change to these objects (None: sandbox-wide events) concern this view?"""
        return True

    def refresh(self) -> None:  # pragma: no cover - every view overrides it
        raise NotImplementedError

    def _live_refresh(self) -> None:
        self.refresh_count += 1
        self.refresh()

    def _live_stop(self) -> None:
        if not getattr(self, "_live_closed", True):
            self._live_closed = True
            self._live_hub.unregister(self)


class LiveHub:
    """One sandbox's single subscription, fanned out to its open views."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = weakref.ref(sandbox)
        self._views: list[weakref.ref[LiveView]] = []
        self._cells: dict[str, tuple[str, list[weakref.ref[LiveView]]]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self.cell_source: Callable[[], tuple[str, str] | None] = current_cell
        self.dirty_ids: set[str | None] = set()
        self.clock_moved = False
        self.pending = False  # something changed since the last flush
        self.scheduled = False  # a flush is queued on the notebook's loop
        self.flushing = False
        self.flushes = 0

    # --- views ---------------------------------------------------------------------------

    def views(self) -> list[LiveView]:
        alive = [v for v in (r() for r in self._views) if v is not None]
        return alive

    @property
    def subscribed(self) -> bool:
        return self._unsubscribe is not None

    def register(self, view: LiveView) -> None:
        cell = self.cell_source()
        if cell is not None:
            self._replace_cell_views(cell, view)
        self._views.append(weakref.ref(view, self._forget))
        views = self.views()
        for old in views[: max(0, len(views) - MAX_VIEWS)]:
            _close(old)
        if self._unsubscribe is None:
            self._subscribe()

    def _replace_cell_views(self, cell: tuple[str, str], view: LiveView) -> None:
        cell_id, run_id = cell
        previous = self._cells.get(cell_id)
        if previous is not None and previous[0] != run_id:
            # The cell was run again: its old output (and its views) is gone from the page.
            for ref in previous[1]:
                old = ref()
                if old is not None:
                    _close(old)
            previous = None
        if previous is None:
            previous = (run_id, [])
            self._cells[cell_id] = previous
        previous[1].append(weakref.ref(view))

    def unregister(self, view: LiveView) -> None:
        self._views = [r for r in self._views if r() is not None and r() is not view]
        if not self._views:
            self._unsubscribe_all()

    def _forget(self, ref: weakref.ref[LiveView]) -> None:
        if ref in self._views:
            self._views.remove(ref)
        if not self._views:
            self._unsubscribe_all()

    # --- subscription --------------------------------------------------------------------

    def _subscribe(self) -> None:
        sandbox = self._sandbox()
        if sandbox is None:
            return
        self._unsubscribe = sandbox.subscribe(
            on_event=self._on_event, on_clock=self._on_clock, on_idle=self._on_idle
        )

    def _unsubscribe_all(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        self.dirty_ids.clear()
        self.pending = False
        self._cells.clear()

    def _on_event(self, event: Event) -> None:
        if self.flushing:  # our own reads while refreshing: already reflected
            return
        self.dirty_ids.add(event.object_id)
        self._request()

    def _on_clock(self) -> None:
        if self.flushing:
            return
        self.clock_moved = True
        self._request()

    def _request(self) -> None:
        self.pending = True
        if self.scheduled:
            return
        sandbox = self._sandbox()
        if sandbox is None or sandbox.is_driving:
            return  # on_idle flushes when the outermost drive ends
        self._schedule()

    def _on_idle(self) -> None:
        if self.pending and not self.scheduled:
            self._schedule()

    def _schedule(self) -> None:
        sandbox = self._sandbox()
        loop = asyncio.events._get_running_loop()
        if loop is not None and sandbox is not None and loop is not sandbox.loop:
            self.scheduled = True
            loop.call_soon(self.flush)
        else:
            self.flush()

    def flush(self) -> None:
        """Refresh every open view that the changes since the last flush concern, once."""
        self.scheduled = False
        if not self.pending:
            return
        ids, moved = self.dirty_ids, self.clock_moved
        self.dirty_ids, self.clock_moved, self.pending = set(), False, False
        self.flushing = True
        try:
            for view in self.views():
                if view.wants_refresh(ids, moved):
                    try:
                        view._live_refresh()
                    except Exception as exc:  # a view shows its own error; others go on
                        _report(view, exc)
        finally:
            self.flushing = False
        self.flushes += 1


def _close(view: LiveView) -> None:
    close = getattr(view, "close", None)
    if callable(close):
        close()
    else:  # pragma: no cover - every view is a widget
        view._live_stop()


def _report(view: LiveView, exc: Exception) -> None:
    show = getattr(view, "show_error", None)
    if callable(show):
        show(exc)


_hubs: weakref.WeakKeyDictionary[Any, LiveHub] = weakref.WeakKeyDictionary()


def hub_for(sandbox: Sandbox) -> LiveHub:
    hub = _hubs.get(sandbox)
    if hub is None:
        hub = LiveHub(sandbox)
        _hubs[sandbox] = hub
    return hub
