"""Every error dosandbox raises, each with a stable ``code``.

The tree::

    DurableObjectError (DURABLE_OBJECT_ERROR)
    ├── ConfigError (CONFIG_ERROR)                  a definition or registration is wrong
    │   └── NoHandlerError (NO_HANDLER)             a definition with nothing to call
    ├── DurableObjectNotFoundError (DURABLE_OBJECT_NOT_FOUND)
    ├── MethodNotFoundError (METHOD_NOT_FOUND)      also a subclass of AttributeError
    ├── InvalidIdError (INVALID_ID)                 also a subclass of TypeError
    ├── DurableObjectMethodError (RPC_ERROR)        an exception raised inside a method
    ├── DurableObjectResetError (OBJECT_RESET)      the instance was reset under the call
    ├── DataCloneError (DATA_CLONE_ERROR)           also a subclass of TypeError
    ├── ValidationError (VALIDATION_ERROR)          also a subclass of ValueError
    ├── StorageError (STORAGE_ERROR)
    │   ├── StorageLimitError (STORAGE_LIMIT)       also a subclass of ValueError
    │   ├── TransactionError (TRANSACTION_ERROR)
    │   └── SqlError (SQL_ERROR)
    │       └── SqlNotAuthorizedError (SQL_NOT_AUTHORIZED)
    ├── AlarmError (ALARM_ERROR)
    ├── WebSocketError (WEBSOCKET_ERROR)
    │   └── WebSocketLimitError (WEBSOCKET_LIMIT)
    ├── HttpError (HTTP_ERROR)
    ├── ClockError (CLOCK_ERROR)                    time cannot move that way
    └── DriverError (DRIVER_ERROR)                  the sandbox cannot be driven from here
        └── WaitingOnTimeError (WAITING_ON_TIME)    a call waits for virtual time to move

Errors that mirror a JavaScript ``TypeError``/``RangeError`` on the platform also subclass
Python's ``TypeError``/``ValueError``, so ``except ValueError`` works as it would in plain code.
"""

from ._core.errors import (
    AlarmError,
    ClockError,
    ConfigError,
    DataCloneError,
    DriverError,
    DurableObjectError,
    DurableObjectMethodError,
    DurableObjectNotFoundError,
    DurableObjectResetError,
    HttpError,
    InvalidIdError,
    MethodNotFoundError,
    NoHandlerError,
    SqlError,
    SqlNotAuthorizedError,
    StorageError,
    StorageLimitError,
    TransactionError,
    ValidationError,
    WaitingOnTimeError,
    WebSocketError,
    WebSocketLimitError,
)

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
