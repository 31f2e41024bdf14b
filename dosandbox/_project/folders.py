"""Project folders in use by loaded projects: their ``sys.path`` entry and modules, counted.

Two open sandboxes of one project (a re-run ``from_project`` cell) share its folder: the
folder joins ``sys.path`` with the first load (unless it was there already) and leaves it, with
every module imported from it, only when the last of them is released. A method that imports a
sibling module when it runs (``import helper``) keeps working in the sandbox still open.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["hold", "inside", "let_go"]

_users: dict[str, int] = {}  # folder → loaded projects using it
_added: set[str] = set()  # folders we put on sys.path (the user's own entries stay)


def inside(module: Any, folder: Path) -> bool:
    """Whether ``module`` was imported from a file under ``folder``."""
    file = getattr(module, "__file__", None)
    if not isinstance(file, str) or not file:
        return False
    try:
        return folder in Path(file).resolve().parents
    except (OSError, ValueError):  # pragma: no cover - odd module files
        return False


def hold(folder: Path) -> str:
    """One more loaded project uses ``folder``: make sure it is on ``sys.path``."""
    key = str(folder)
    if not _users.get(key) and key not in sys.path:
        sys.path.insert(0, key)
        _added.add(key)
    _users[key] = _users.get(key, 0) + 1
    return key


def let_go(key: str) -> None:
    """One loaded project no longer uses the folder; the last one takes its traces away."""
    count = _users.get(key, 0)
    if count > 1:
        _users[key] = count - 1
        return
    _users.pop(key, None)
    if key in _added:
        _added.discard(key)
        if key in sys.path:
            sys.path.remove(key)
    folder = Path(key)
    for name, module in list(sys.modules.items()):
        if inside(module, folder):
            del sys.modules[name]  # the project's modules go with it
