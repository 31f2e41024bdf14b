"""The ``pyodide`` package a Python Worker may import (``from pyodide.ffi import to_js``).

Only ``pyodide.ffi`` exists in the sandbox (see :mod:`.pyodide_ffi`); the rest of Pyodide
(``pyodide.http``, ``pyodide.code``...) exists only on the platform.
"""

from __future__ import annotations

from typing import Any

from . import pyodide_ffi as ffi

__all__ = ["ffi"]
__path__: list[str] = []  # a package, so "import pyodide.ffi" finds its submodule


def __getattr__(name: str) -> Any:
    raise AttributeError(
        f"module 'pyodide' has no attribute {name!r} in the sandbox; it provides pyodide.ffi "
        "(to_js, create_proxy, JsProxy...). The rest of Pyodide exists only on the platform."
    )
