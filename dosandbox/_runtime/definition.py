"""``define_durable_object``: the cloudwerk API's convention-based shape over the class-based core.

A definition is validated when it is made (types, method names) and when it is registered
(it must have at least one method or handler, so decorators can add them in between). It
builds a subclass of :class:`DurableObject`; everything else in the runtime only knows classes.

The cloudwerk API's ``name`` (the object's name when it is registered without one, and instead
of the file's name in a project folder) and ``sqlite`` (the storage backend) are kept too. The
sandbox runs SQLite-backed objects only, as new namespaces on the platform are, so
``sqlite=False`` (KV-backed storage) is refused with the fix.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable
from typing import Any, TypeVar

from .._core.errors import ConfigError, NoHandlerError
from .._core.naming import is_object_name, suggest_name
from .object import HANDLERS, RESERVED, DurableObject

__all__ = ["DurableObjectDefinition", "define_durable_object", "named_definition"]

F = TypeVar("F", bound=Callable[..., Any])

# camelCase keys from cloudwerk and Cloudflare's examples → canonical snake_case keys.
CAMEL_KEYS = {
    "webSocketMessage": "web_socket_message",
    "webSocketClose": "web_socket_close",
    "webSocketError": "web_socket_error",
    "stateType": "state_type",
}


def _positional_count(fn: Callable[..., Any]) -> int | None:
    """How many positional parameters ``fn`` takes (None when it takes *args)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return None
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def check_method_name(name: Any, where: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(
            f"{where}: method name {name!r} is not a Python identifier; RPC methods are "
            "called as stub.<name>(...), so use letters, digits and underscores.",
            method_name=str(name),
        )
    if name.startswith("_"):
        raise ConfigError(
            f"{where}: method name {name!r} starts with '_'; private names are not callable over "
            "RPC (as #private members on the platform). Drop the underscore.",
            method_name=name,
        )
    if name in RESERVED:
        raise ConfigError(
            f"{where}: method name {name!r} is reserved (handlers, init, and what a stub needs: "
            f"{', '.join(sorted(RESERVED))}). Rename the method.",
            method_name=name,
        )


def _check_callable(value: Any, key: str) -> None:
    if not callable(value):
        raise ConfigError(
            f"define_durable_object({key}=...) must be a function (def or async def), "
            f"not {type(value).__name__} {value!r}.",
        )


class DurableObjectDefinition:
    """What ``define_durable_object`` returns: register it with ``sb.register(name, d)``."""

    def __init__(
        self,
        *,
        init: Callable[..., Any] | None,
        methods: dict[str, Callable[..., Any]],
        handlers: dict[str, Callable[..., Any]],
        state_type: type | None,
        name: str | None = None,
        sqlite: bool = True,
    ) -> None:
        self.init_fn = init
        self.methods = dict(methods)
        self.handlers = dict(handlers)
        self.state_type = state_type
        self.name = name
        self.sqlite = sqlite
        self._class: type[DurableObject] | None = None
        self.class_name: str | None = None

    def __repr__(self) -> str:
        parts = sorted(self.methods) + [f"<{h}>" for h in self.handlers]
        named = f" {self.name!r}" if self.name else ""
        return f"<DurableObjectDefinition{named} {', '.join(parts) or 'empty'}>"

    # --- decorators ------------------------------------------------------------------------

    def method(self, fn: F | None = None, *, name: str | None = None) -> Any:
        """Decorator adding an RPC method: ``@counter.method`` over ``async def inc(ctx)``."""

        def add(f: F) -> F:
            _check_callable(f, "method")
            method_name = name or f.__name__
            check_method_name(method_name, "@method")
            self.methods[method_name] = f
            self._class = None
            return f

        return add(fn) if fn is not None else add

    def _handler(self, key: str, fn: F) -> F:
        _check_callable(fn, key)
        self.handlers[key] = fn
        self._class = None
        return fn

    def init(self, fn: F) -> F:
        """Decorator setting ``init(ctx)``, which returns the initial in-memory state."""
        _check_callable(fn, "init")
        self.init_fn = fn
        self._class = None
        return fn

    def fetch(self, fn: F) -> F:
        return self._handler("fetch", fn)

    def alarm(self, fn: F) -> F:
        return self._handler("alarm", fn)

    def web_socket_message(self, fn: F) -> F:
        return self._handler("web_socket_message", fn)

    def web_socket_close(self, fn: F) -> F:
        return self._handler("web_socket_close", fn)

    def web_socket_error(self, fn: F) -> F:
        return self._handler("web_socket_error", fn)

    # --- building the class ----------------------------------------------------------------

    def validate(self, name: str = "definition") -> None:
        if not self.methods and not self.handlers:
            raise NoHandlerError(
                f"{name!r} has no methods and no handlers, so nothing could ever call it. "
                "Pass methods={...} or a handler (fetch, alarm, web_socket_message, ...), or "
                "add one with @definition.method before registering.",
                object_name=name,
            )

    def build_class(self, class_name: str = "DefinedObject") -> type[DurableObject]:
        """The :class:`DurableObject` subclass this definition stands for (cached)."""
        if self._class is not None and self.class_name == class_name:
            return self._class
        self.validate(class_name)
        namespace: dict[str, Any] = {
            "__module__": __name__,
            "__qualname__": class_name,
            "__doc__": f"Built by define_durable_object: {self!r}",
            "__dosandbox_definition__": self,
        }
        init_fn = self.init_fn

        def __init__(obj: DurableObject, ctx: Any, env: Any) -> None:
            DurableObject.__init__(obj, ctx, env)
            if init_fn is not None:

                async def run_init() -> None:
                    ctx._set_initial_state(await _maybe_await(init_fn(ctx)))

                ctx.block_concurrency_while(run_init)

        namespace["__init__"] = __init__
        for method_name, fn in self.methods.items():
            namespace[method_name] = _method_adapter(method_name, fn)
        for key, fn in self.handlers.items():
            namespace[key] = _HANDLER_ADAPTERS[key](fn)
        cls = type(class_name, (DurableObject,), namespace)
        self._class = cls
        self.class_name = class_name
        return cls


def _method_adapter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def method(self: DurableObject, *args: Any, **kwargs: Any) -> Any:
        return fn(self.ctx, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = fn.__doc__
    method.__wrapped__ = fn  # type: ignore[attr-defined]  # real signature for the CLI
    return method


def _fetch_adapter(fn: Callable[..., Any]) -> Callable[..., Any]:
    def fetch(self: DurableObject, request: Any) -> Any:
        return fn(request, self.ctx)

    return fetch


def _alarm_adapter(fn: Callable[..., Any]) -> Callable[..., Any]:
    takes_info = _positional_count(fn) in (None, 2)

    def alarm(self: DurableObject, alarm_info: Any = None) -> Any:
        return fn(self.ctx, alarm_info) if takes_info else fn(self.ctx)

    return alarm


def _ws_message_adapter(fn: Callable[..., Any]) -> Callable[..., Any]:
    def web_socket_message(self: DurableObject, ws: Any, message: Any) -> Any:
        return fn(ws, message, self.ctx)

    return web_socket_message


def _ws_close_adapter(fn: Callable[..., Any]) -> Callable[..., Any]:
    # The platform passes (ws, code, reason, wasClean); cloudwerk documents (ws, code, reason).
    short = _positional_count(fn) == 4

    def web_socket_close(
        self: DurableObject, ws: Any, code: int, reason: str, was_clean: bool
    ) -> Any:
        if short:
            return fn(ws, code, reason, self.ctx)
        return fn(ws, code, reason, was_clean, self.ctx)

    return web_socket_close


def _ws_error_adapter(fn: Callable[..., Any]) -> Callable[..., Any]:
    def web_socket_error(self: DurableObject, ws: Any, error: Any) -> Any:
        return fn(ws, error, self.ctx)

    return web_socket_error


def _check_name(name: Any) -> str | None:
    if name is None:
        return None
    if not isinstance(name, str) or not is_object_name(name):
        good = suggest_name(name) if isinstance(name, str) and name else "chat_room"
        raise ConfigError(
            f"define_durable_object(name={name!r}): an object name is lowercase words joined "
            "by single underscores, because it becomes sb.durable_objects.<name>, the class "
            f"and the binding. Use name={good!r}.",
        )
    return name


def _check_sqlite(sqlite: Any) -> bool:
    if not isinstance(sqlite, bool):
        raise ConfigError(
            f"define_durable_object(sqlite=...) must be True or False, not "
            f"{type(sqlite).__name__} {sqlite!r:.40}."
        )
    if not sqlite:
        raise ConfigError(
            "define_durable_object(sqlite=False) asks for KV-backed storage; the sandbox runs "
            "SQLite-backed objects only, as new namespaces on the platform are "
            "(new_sqlite_classes), with the same KV API plus ctx.sql. Drop sqlite=False."
        )
    return True


def named_definition(value: Any) -> tuple[str, DurableObjectDefinition]:
    """``sb.register(definition)`` without a name: the definition's own ``name``."""
    if isinstance(value, DurableObjectDefinition) and value.name is not None:
        return value.name, value
    what = (
        "this definition has no name=" if isinstance(value, DurableObjectDefinition)
        else f"{type(value).__name__} {value!r:.40} is not a definition with a name="
    )
    raise ConfigError(
        f"register() needs a name, and {what}: call sb.register('counter', definition), or "
        "define it with define_durable_object(name='counter', ...)."
    )


_HANDLER_ADAPTERS = {
    "fetch": _fetch_adapter,
    "alarm": _alarm_adapter,
    "web_socket_message": _ws_message_adapter,
    "web_socket_close": _ws_close_adapter,
    "web_socket_error": _ws_error_adapter,
}


def define_durable_object(
    *,
    init: Callable[..., Any] | None = None,
    methods: dict[str, Callable[..., Any]] | None = None,
    fetch: Callable[..., Any] | None = None,
    web_socket_message: Callable[..., Any] | None = None,
    web_socket_close: Callable[..., Any] | None = None,
    web_socket_error: Callable[..., Any] | None = None,
    alarm: Callable[..., Any] | None = None,
    state_type: type | None = None,
    name: str | None = None,
    sqlite: bool = True,
    **camel_case: Any,
) -> DurableObjectDefinition:
    """Define an object the cloudwerk way: ``init`` returns the state, methods take ``ctx`` first.

    Keys may be snake_case or the cloudwerk API's camelCase (``webSocketMessage``); giving both
    spellings of one key is an error. ``name`` names the object when it is registered without
    a name (``sb.register(definition)``) or found in a project folder; ``sqlite=True`` (the
    default) is SQLite-backed storage, the only kind the sandbox runs.
    """
    given: dict[str, Any] = {
        "fetch": fetch,
        "web_socket_message": web_socket_message,
        "web_socket_close": web_socket_close,
        "web_socket_error": web_socket_error,
        "alarm": alarm,
        "state_type": state_type,
    }
    for key, value in camel_case.items():
        canonical = CAMEL_KEYS.get(key)
        if canonical is None:
            known = ["init", "methods", *HANDLERS, "state_type", "name", "sqlite", *CAMEL_KEYS]
            from .._core.errors import did_you_mean

            raise ConfigError(
                f"define_durable_object() got an unknown key {key!r}; {did_you_mean(key, known)}."
            )
        if given[canonical] is not None:
            raise ConfigError(
                f"define_durable_object() got both {key!r} and {canonical!r}; they are the same "
                "handler in two spellings. Keep one."
            )
        given[canonical] = value
    if init is not None:
        _check_callable(init, "init")
    if methods is not None and not isinstance(methods, dict):
        raise ConfigError(
            "define_durable_object(methods=...) must be a dict of name → function, not "
            f"{type(methods).__name__}."
        )
    for method_name, fn in (methods or {}).items():
        check_method_name(method_name, "define_durable_object(methods=...)")
        if not callable(fn):
            raise ConfigError(
                f"define_durable_object(methods=...): {method_name!r} must be a function, not "
                f"{type(fn).__name__} {fn!r}.",
                method_name=method_name,
            )
    handlers = {}
    for key in HANDLERS:
        value = given[key]
        if value is not None:
            _check_callable(value, key)
            handlers[key] = value
    st = given["state_type"]
    if st is not None and not isinstance(st, type):
        raise ConfigError(
            f"state_type must be a type, not {type(st).__name__}; pass the class itself, e.g. "
            "state_type=CounterState (not CounterState())."
        )
    return DurableObjectDefinition(
        init=init, methods=methods or {}, handlers=handlers, state_type=st,
        name=_check_name(name), sqlite=_check_sqlite(sqlite),
    )
