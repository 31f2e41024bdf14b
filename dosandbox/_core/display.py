"""The display registry: how the kernel finds views without importing them.

``dosandbox.widgets`` registers a view factory per kind of subject (``"sandbox"``, ``"handle"``,
``"clock"``) when it is imported; ``widget()`` and ``_repr_mimebundle_`` on sandboxes, handles,
stubs and the clock ask here. The public package installs a loader that imports the widgets on
the first request, so ``import dosandbox`` stays light and the kernel names no view module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Views", "html", "mimebundle", "register", "set_loader", "widget"]


@dataclass(frozen=True)
class Views:
    """The views of one kind of subject: a live widget, a display bundle, an HTML snapshot."""

    widget: Callable[[Any], Any]
    mimebundle: Callable[[Any], dict[str, Any]]
    html: Callable[[Any], str]


_views: dict[str, Views] = {}
_loader: Callable[[], None] | None = None


def register(kind: str, views: Views) -> None:
    """Make ``views`` the views of subjects of ``kind`` (a later registration replaces it)."""
    _views[kind] = views


def set_loader(loader: Callable[[], None]) -> None:
    """``loader()`` fills the registry; it runs once, on the first request for a view."""
    global _loader
    _loader = loader


def _views_for(kind: str) -> Views:
    global _loader
    views = _views.get(kind)
    if views is None and _loader is not None:
        loader, _loader = _loader, None
        loader()
        views = _views.get(kind)
    if views is None:
        raise LookupError(
            f"No view is registered for {kind!r}; import dosandbox.widgets to register them."
        )
    return views


def widget(kind: str, subject: Any) -> Any:
    """The live widget for ``subject``."""
    return _views_for(kind).widget(subject)


def mimebundle(kind: str, subject: Any) -> dict[str, Any]:
    """The display bundle for ``subject``: the live view plus an HTML and a text snapshot."""
    return _views_for(kind).mimebundle(subject)


def html(kind: str, subject: Any) -> str:
    """A static HTML snapshot of ``subject`` (what saved notebooks show without a kernel)."""
    return _views_for(kind).html(subject)
