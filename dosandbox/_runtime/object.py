"""The class-based core: ``class Chat(DurableObject)``, shaped like the platform's own.

Public methods of a subclass are its RPC methods. The handlers ``fetch``, ``alarm``,
``web_socket_message``, ``web_socket_close`` and ``web_socket_error`` are optional; they are
called by the runtime and cannot be called over RPC, as on the platform. The socket handlers
may also be spelled as the platform spells them (``webSocketMessage``, as in JavaScript and
Python Workers classes); one class giving both spellings of a handler is refused.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .._core.errors import ConfigError, NoHandlerError
from .websocket import SOCKET_HANDLER_NAMES, socket_handler

if TYPE_CHECKING:
    from .context import DurableObjectContext

__all__ = ["HANDLERS", "RESERVED", "DurableObject", "rpc_methods"]

HANDLERS = ("fetch", "alarm", "web_socket_message", "web_socket_close", "web_socket_error")
# The platform's spelling of each handler (fetch and alarm are the same in both).
PLATFORM_NAMES = {"fetch": "fetch", "alarm": "alarm", **SOCKET_HANDLER_NAMES}

# Names that can never be RPC methods: the handlers (and their camelCase forms), what the stub
# itself needs, and what the platform reserves (constructor, dup).
RESERVED = frozenset(
    {
        *HANDLERS,
        *PLATFORM_NAMES.values(),
        "init", "constructor", "dup", "id", "name", "ctx", "env",
    }
)


class DurableObject:
    """Base class for an object: ``__init__(self, ctx, env)`` stores both.

    Subclasses may call ``ctx.block_concurrency_while(fn)`` in ``__init__`` to load state before
    any event is delivered, as on the platform.
    """

    ctx: DurableObjectContext
    env: Any

    def __init__(self, ctx: DurableObjectContext, env: Any) -> None:
        self.ctx = ctx
        self.env = env


_METHOD_CACHE: dict[type, dict[str, str]] = {}


def rpc_methods(cls: type) -> dict[str, str]:
    """Method name → first docstring line, for the public RPC methods of ``cls``."""
    cached = _METHOD_CACHE.get(cls)
    if cached is not None:
        return cached
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or klass is DurableObject or not issubclass(klass, DurableObject):
            continue
        for attr, value in vars(klass).items():
            if attr.startswith("_") or attr in RESERVED:
                continue
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value):
                doc = inspect.getdoc(value) or ""
                found[attr] = doc.splitlines()[0] if doc else ""
    _METHOD_CACHE[cls] = found
    return found


def handlers_of(cls: type) -> list[str]:
    """The handlers a class defines, in the platform's order, spelled as the class spells them."""
    found = (socket_handler(cls, h) for h in HANDLERS)
    return [attr for attr in found if attr is not None]


def validate_class(cls: Any, name: str) -> None:
    """Refuse what the platform would refuse, with the fix in the message."""
    if not isinstance(cls, type) or not issubclass(cls, DurableObject):
        raise ConfigError(
            f"register({name!r}, ...) takes a definition from define_durable_object() or a "
            f"subclass of dosandbox.DurableObject, not {type(cls).__name__}.",
            object_name=name,
        )
    for canonical, platform in PLATFORM_NAMES.items():
        if platform != canonical and all(
            callable(getattr(cls, attr, None)) for attr in (canonical, platform)
        ):
            raise ConfigError(
                f"{cls.__name__} defines both {canonical} and {platform}; they are the same "
                f"handler in two spellings, so one would never run. Keep one ({platform} is "
                "the platform's spelling, also accepted here).",
                object_name=name,
            )
    if not rpc_methods(cls) and not handlers_of(cls):
        raise NoHandlerError(
            f"{cls.__name__} has no RPC method and no handler, so nothing could ever reach it. "
            "Add a public method or one of: " + ", ".join(HANDLERS) + ".",
            object_name=name,
        )
