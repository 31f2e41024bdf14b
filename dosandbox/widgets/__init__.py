"""Live views of a sandbox, built from standard ipywidgets only.

* :class:`Inspector` — one object: State, KV, SQL, Sockets, Alarm and Events tabs, Evict;
* :class:`ClockBar` — the virtual now, +1 s / +1 min / +1 h, next alarm, run until idle, mode;
* :class:`Dashboard` — the clock bar, every object (click to inspect) and the event log;
* :func:`static_html` / :func:`mimebundle` — the snapshot saved notebooks show without a kernel.

ipywidgets is imported only when a widget is made; the snapshot needs only pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
