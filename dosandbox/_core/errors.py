"""Every error dosandbox raises. Users import them from ``dosandbox.errors``, whose docstring
draws the tree; each class here sets its stable ``code``.

Errors carry the platform's flags as workerd sets them (``remote``, ``retryable``,
``overloaded``, ``durable_object_reset``); the JavaScript spellings (``durableObjectReset``,
``methodName``, ``cause``...) resolve through the alias table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .aliases import AliasMixin

__all__ = [
    "AlarmError",
    "BookmarkError",
    "CheckpointError",
    "ClockError",
    "ConfigError",
    "DataCloneError",
    "DriverError",
    "DurableObjectError",
    "DurableObjectMethodError",
    "DurableObjectNotFoundError",
    "DurableObjectResetError",
    "ExecutionInterruptedError",
    "HttpError",
    "InvalidIdError",
    "MethodNotFoundError",
    "NoHandlerError",
    "OutboundFetchError",
    "ProjectError",
    "SandboxWarning",
    "ServeError",
    "SqlError",
    "SqlNotAuthorizedError",
    "StorageError",
    "StorageLimitError",
    "StreamError",
    "StubDisposedError",
    "StubOwnerGoneError",
    "TransactionError",
    "ValidationError",
    "WaitingOnTimeError",
    "WebSocketError",
    "WebSocketLimitError",
]


class DurableObjectError(AliasMixin, Exception):
    """Base class: ``code`` is stable; the context fields are set when known.

    The flags say what the platform would: ``remote`` (raised by code on the other side of
    the call), ``retryable`` (a transient failure: retrying an idempotent call may succeed),
    ``overloaded`` (never retry), ``durable_object_reset`` (the instance was reset; the stub
    that saw it stays broken, a new stub reaches a fresh instance).
    """

    code = "DURABLE_OBJECT_ERROR"
    # Class defaults, so a flag reads False unless the raiser set it (as JS reads undefined).
    remote: bool = False
    retryable: bool = False
    overloaded: bool = False
    durable_object_reset: bool = False
    object_name: str | None = None
    object_id: str | None = None
    method_name: str | None = None

    def __init__(
        self,
        message: str,
        *,
        object_name: str | None = None,
        object_id: str | None = None,
        method_name: str | None = None,
        remote: bool | None = None,
        retryable: bool | None = None,
        overloaded: bool | None = None,
        **details: Any,
    ) -> None:
        # Exception.__init__ directly: a subclass may also derive from a user's error type
        # whose __init__ takes other arguments (see method_error_class).
        Exception.__init__(self, message)
        self.message = message
        self.object_name = object_name
        self.object_id = object_id
        self.method_name = method_name
        if remote is not None:
            self.remote = remote
        if retryable is not None:
            self.retryable = retryable
        if overloaded is not None:
            self.overloaded = overloaded
        self.details = details

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ConfigError(DurableObjectError):
    code = "CONFIG_ERROR"


class NoHandlerError(ConfigError):
    code = "NO_HANDLER"


class ProjectError(ConfigError):
    """A Python Workers project cannot be loaded: ``path`` names the file to fix."""

    code = "PROJECT_ERROR"

    def __init__(self, message: str, *, path: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.path = path


class DurableObjectNotFoundError(DurableObjectError, LookupError):
    code = "DURABLE_OBJECT_NOT_FOUND"


class MethodNotFoundError(DurableObjectError, AttributeError):
    code = "METHOD_NOT_FOUND"


class InvalidIdError(DurableObjectError, TypeError):
    code = "INVALID_ID"


class DurableObjectMethodError(DurableObjectError):
    """An exception raised by user code inside an object, delivered to the caller.

    The original exception is ``__cause__``; ``original_type`` keeps its class name.
    """

    code = "RPC_ERROR"
    remote = True  # user code on the other side raised it (workerd sets err.remote)

    def __init__(self, message: str, *, original_type: str = "Exception", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.original_type = original_type


class DurableObjectResetError(DurableObjectError):
    """The instance was reset (``ctx.abort()``, a failed ``block_concurrency_while``, a
    constructor that raised...). Every later call on the stub that saw it fails the same way;
    a new stub (``ns.get(id)``) reaches a fresh instance, with storage kept.

    ``original_type`` names the error that caused it (the platform keeps that name).
    """

    code = "OBJECT_RESET"
    durable_object_reset = True

    def __init__(self, message: str, *, original_type: str = "Error", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.original_type = original_type


class DataCloneError(DurableObjectError, TypeError):
    code = "DATA_CLONE_ERROR"


class ValidationError(DurableObjectError, ValueError):
    code = "VALIDATION_ERROR"


class StubDisposedError(DurableObjectError):
    """A capability stub (function or RpcTarget) was used after it was disposed, or, by a
    Worker, after the request that received it ended."""

    code = "STUB_DISPOSED"


class StubOwnerGoneError(DurableObjectError):
    """The object that owns a capability (its function or RpcTarget) was evicted, reset or
    its sandbox closed: the stub can no longer reach it."""

    code = "STUB_OWNER_GONE"


class StreamError(DurableObjectError):
    """A stream passed over RPC failed: its sender raised, or it carried something other
    than bytes."""

    code = "STREAM_ERROR"


class StorageError(DurableObjectError):
    code = "STORAGE_ERROR"


class StorageLimitError(StorageError, ValueError):
    code = "STORAGE_LIMIT"


class TransactionError(StorageError):
    code = "TRANSACTION_ERROR"


class BookmarkError(StorageError, ValueError):
    """A point-in-time recovery bookmark or time that cannot be used: malformed, another
    object's, outside the 30-day window, or older than the history kept."""

    code = "BOOKMARK_ERROR"


class SqlError(StorageError):
    code = "SQL_ERROR"


class SqlNotAuthorizedError(SqlError):
    code = "SQL_NOT_AUTHORIZED"


class AlarmError(DurableObjectError):
    code = "ALARM_ERROR"


class WebSocketError(DurableObjectError):
    code = "WEBSOCKET_ERROR"


class WebSocketLimitError(WebSocketError, ValueError):
    code = "WEBSOCKET_LIMIT"


class HttpError(DurableObjectError):
    code = "HTTP_ERROR"


class OutboundFetchError(HttpError):
    """``fetch()`` from Worker or object code to a URL no outbound handler answers."""

    code = "OUTBOUND_FETCH_REFUSED"
class ServeError(DurableObjectError, OSError):
    """The local server cannot start: a port in use (``port`` names it), a bad host."""

    code = "SERVE_ERROR"

    @property
    def port(self) -> int | None:
        return self.details.get("port")

    @property
    def host(self) -> str | None:
        return self.details.get("host")


class ClockError(DurableObjectError, ValueError):
    code = "CLOCK_ERROR"


class CheckpointError(DurableObjectError, ValueError):
    """``sb.checkpoint()`` / ``sb.rewind(cp)`` cannot be done: a checkpoint of another
    sandbox or of a discarded future, history no longer kept, events still running."""

    code = "CHECKPOINT_ERROR"


class DriverError(DurableObjectError, RuntimeError):
    code = "DRIVER_ERROR"


class WaitingOnTimeError(DriverError):
    code = "WAITING_ON_TIME"


class ExecutionInterruptedError(DriverError):
    """Ctrl-C (Jupyter's interrupt) stopped object code that was running: a method, a
    handler or a SQL statement. The object was reset (``durable_object_reset``), so nothing
    that event wrote is kept."""

    code = "INTERRUPTED"


class SandboxWarning(UserWarning):
    """A notice from the sandbox, not an error: something worth knowing happened.

    Shown as one short line, ``dosandbox notice [CODE]: message``, without a file path or a
    source line. ``code`` is stable (``ALARM_DROPPED``, ``ALREADY_READ``, ``IDLE_HORIZON``,
    ``PROJECT_PROBLEMS``...). Silence them with
    ``warnings.filterwarnings("ignore", category=dosandbox.errors.SandboxWarning)``.
    """

    code = "SANDBOX_NOTICE"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        object_name: str | None = None,
        object_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.object_name = object_name
        self.object_id = object_id

    def __str__(self) -> str:
        return self.message


def sandbox_closed(what: str) -> DriverError:
    """The error for using a closed sandbox, naming what was tried."""
    return DriverError(
        f"{what}: this sandbox is closed. Make a new Sandbox() (with the same persist= "
        "folder to find the objects' data again)."
    )


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A short hint listing the available names, closest first."""
    import difflib

    names = sorted(choices)
    if not names:
        return "none are defined"
    close = difflib.get_close_matches(name, names, n=1)
    listed = ", ".join(names)
    return f"did you mean {close[0]!r}? Available: {listed}" if close else f"available: {listed}"


# Users meet these as ``dosandbox.errors.X``; reprs, tracebacks and pickles say so too.
for _name in __all__:
    globals()[_name].__module__ = "dosandbox.errors"
del _name
