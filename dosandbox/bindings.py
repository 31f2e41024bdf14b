"""``dosandbox.bindings``: cloudwerk's ``@cloudwerk/core/bindings`` over the active sandbox.

``durable_objects.counter.get("user-123")`` works in any module, like cloudwerk's proxy; it
talks to the newest :class:`~dosandbox.Sandbox` (or the one last ``activate()``-d). The
cloudwerk names import too: ``from dosandbox.bindings import durableObjects, getDurableObject,
hasDurableObject``.
"""

from __future__ import annotations

from typing import Any

from ._core.aliases import module_aliases
from ._runtime.namespace import Namespace
from ._sandbox import active_sandbox

__all__ = ["durable_objects", "get_durable_object", "has_durable_object"]


class _ActiveDurableObjects:
    def __getattr__(self, name: str) -> Namespace:
        if name.startswith("_"):
            raise AttributeError(name)
        return active_sandbox().get_durable_object(name)

    def __getitem__(self, name: str) -> Namespace:
        return active_sandbox().get_durable_object(name)

    def __dir__(self) -> list[str]:
        return sorted(active_sandbox().namespaces)

    def __repr__(self) -> str:
        return repr(active_sandbox().durable_objects)


durable_objects: Any = _ActiveDurableObjects()


def get_durable_object(name: str) -> Namespace:
    """The namespace ``name`` of the active sandbox (``DURABLE_OBJECT_NOT_FOUND`` if none)."""
    return active_sandbox().get_durable_object(name)


def has_durable_object(name: str) -> bool:
    return active_sandbox().has_durable_object(name)


# cloudwerk's camelCase names, importable but kept out of dir() (snake_case is canonical).
__getattr__ = module_aliases(__name__, {
    "durableObjects": "durable_objects",
    "getDurableObject": "get_durable_object",
    "hasDurableObject": "has_durable_object",
}, globals())
