"""Live views of a sandbox, built from standard ipywidgets only.

* :class:`Inspector` — one object: State, KV, SQL, Sockets, Alarm and Events tabs, Evict;
* :class:`ClockBar` — the virtual now, +1 s / +1 min / +1 h, next alarm, run until idle, mode;
* :class:`Dashboard` — the clock bar, every object (click to inspect) and the event log;
* :func:`static_html` / :func:`mimebundle` — the snapshot saved notebooks show without a kernel.

ipywidgets is imported only when a widget is made; the snapshot needs only pandas. Importing
this package registers the views with the sandbox's display registry, which is how
``sb.widget()``, ``handle.widget()``, ``sb.clock.widget()`` and notebook display find them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._core import display

if TYPE_CHECKING:
    from ._clockbar import ClockBar
    from ._dashboard import Dashboard
    from ._inspector import Inspector
    from ._static import mimebundle, static_html

__all__ = ["ClockBar", "Dashboard", "Inspector", "mimebundle", "static_html"]

_WHERE = {
    "Inspector": "._inspector",
    "ClockBar": "._clockbar",
    "Dashboard": "._dashboard",
    "static_html": "._static",
    "mimebundle": "._static",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'dosandbox.widgets' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


# --- the display registry ------------------------------------------------------------------
# Each view module is imported only when its view is first asked for.


def _sandbox_widget(sandbox: Any) -> Any:
    from ._dashboard import Dashboard

    return Dashboard(sandbox)


def _handle_widget(handle: Any) -> Any:
    from ._inspector import Inspector

    return Inspector(handle)


def _clock_widget(sandbox: Any) -> Any:
    from ._clockbar import ClockBar

    return ClockBar(sandbox)


def _snapshot(subject: Any) -> str:
    from ._static import static_html

    return static_html(subject)


def _clock_snapshot(sandbox: Any) -> str:
    from ._static import clock_html

    return clock_html(sandbox)


def _bundle(factory: Any, fallback: Any = None) -> dict[str, Any]:
    from ._static import mimebundle

    return mimebundle(factory, fallback_html=fallback)


def _stub_handle(stub: Any) -> Any:
    from .._notebook.handle import Handle

    return Handle(stub)


display.register("sandbox", display.Views(
    widget=_sandbox_widget,
    mimebundle=lambda sb: _bundle(sb.widget),
    html=_snapshot,
))
display.register("handle", display.Views(
    widget=_handle_widget,
    mimebundle=lambda handle: _bundle(handle.widget, handle._repr_html_),
    html=_snapshot,
))
display.register("stub", display.Views(
    widget=lambda stub: _handle_widget(_stub_handle(stub)),
    mimebundle=lambda stub: display.mimebundle("handle", _stub_handle(stub)),
    html=lambda stub: _snapshot(_stub_handle(stub)),
))
display.register("clock", display.Views(
    widget=_clock_widget,
    mimebundle=lambda sb: _bundle(sb.clock.widget, lambda: _clock_snapshot(sb)),
    html=_clock_snapshot,
))
