"""Which sandbox a project's module belongs to while it is being imported.

``from workers import env`` at a module's top level runs during the import, before any request
exists; the loader names the sandbox's Front here for the duration of the import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["loading", "loading_front"]

_loading: list[Any] = []


def loading_front() -> Any:
    return _loading[-1] if _loading else None


@contextmanager
def loading(front: Any) -> Iterator[None]:
    _loading.append(front)
    try:
        yield
    finally:
        _loading.pop()
