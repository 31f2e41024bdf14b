"""The ``workers``, ``js`` and ``pyodide`` modules a Python Workers project imports, from dosandbox.

:func:`installed` puts them in ``sys.modules`` under those names while a project is loaded
(and keeps them there while any loaded project's sandbox is open, for imports made inside
functions), replacing a real ``workers`` package if one is installed: the real SDK needs
Pyodide and cannot run under CPython. When the last such sandbox closes, whatever was there
before comes back.
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["MODULE_NAMES", "install", "release"]

MODULE_NAMES = ("workers", "js", "pyodide", "pyodide.ffi")
_users = 0
_previous: dict[str, types.ModuleType | None] = {}


def _ours() -> dict[str, Any]:
    from . import js, pyodide_ffi, pyodide_pkg, workers

    return {"workers": workers, "js": js, "pyodide": pyodide_pkg, "pyodide.ffi": pyodide_ffi}


def install() -> None:
    """Serve our ``workers`` and ``js`` from now on (counted: one call per loaded project)."""
    global _users
    ours = _ours()
    if _users == 0:
        _previous.clear()
        for name in MODULE_NAMES:
            _previous[name] = sys.modules.get(name)
    for name, module in ours.items():
        sys.modules[name] = module
    _users += 1


def release() -> None:
    """One loaded project is gone; when none is left, restore what was there before."""
    global _users
    if _users == 0:
        return
    _users -= 1
    if _users:
        return
    ours = _ours()
    for name in MODULE_NAMES:
        if sys.modules.get(name) is ours[name]:
            previous = _previous.get(name)
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    _previous.clear()
