"""Every error dosandbox raises. Users import them from ``dosandbox.errors``, whose docstring
draws the tree; each class here sets its stable ``code``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "AlarmError",
    "ClockError",
    "ConfigError",
    "DataCloneError",
    "DriverError",
    "DurableObjectError",
    "DurableObjectMethodError",
    "DurableObjectNotFoundError",
    "DurableObjectResetError",
    "HttpError",
    "InvalidIdError",
    "MethodNotFoundError",
    "NoHandlerError",
    "SqlError",
    "SqlNotAuthorizedError",
    "StorageError",
    "StorageLimitError",
    "TransactionError",
    "ValidationError",
    "WaitingOnTimeError",
    "WebSocketError",
    "WebSocketLimitError",
]


class DurableObjectError(Exception):
    """Base class: ``code`` is stable; the context fields are set when known."""

    code = "DURABLE_OBJECT_ERROR"

    def __init__(
        self,
        message: str,
        *,
        object_name: str | None = None,
        object_id: str | None = None,
        method_name: str | None = None,
        **details: Any,
    ) -> None:
        # Exception.__init__ directly: a subclass may also derive from a user's error type
        # whose __init__ takes other arguments (see method_error_class).
        Exception.__init__(self, message)
        self.message = message
        self.object_name = object_name
        self.object_id = object_id
        self.method_name = method_name
        self.details = details

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ConfigError(DurableObjectError):
    code = "CONFIG_ERROR"


class NoHandlerError(ConfigError):
    code = "NO_HANDLER"


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

    def __init__(self, message: str, *, original_type: str = "Exception", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.original_type = original_type


class DurableObjectResetError(DurableObjectError):
    code = "OBJECT_RESET"


class DataCloneError(DurableObjectError, TypeError):
    code = "DATA_CLONE_ERROR"


class ValidationError(DurableObjectError, ValueError):
    code = "VALIDATION_ERROR"


class StorageError(DurableObjectError):
    code = "STORAGE_ERROR"


class StorageLimitError(StorageError, ValueError):
    code = "STORAGE_LIMIT"


class TransactionError(StorageError):
    code = "TRANSACTION_ERROR"


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


class ClockError(DurableObjectError, ValueError):
    code = "CLOCK_ERROR"


class DriverError(DurableObjectError, RuntimeError):
    code = "DRIVER_ERROR"


class WaitingOnTimeError(DriverError):
    code = "WAITING_ON_TIME"


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
