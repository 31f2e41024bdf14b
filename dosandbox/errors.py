"""Every error dosandbox raises, each with a stable ``code``.

The tree::

    DurableObjectError (DURABLE_OBJECT_ERROR)
    ├── ConfigError (CONFIG_ERROR)                  a definition or registration is wrong
    │   ├── NoHandlerError (NO_HANDLER)             a definition with nothing to call
    │   └── ProjectError (PROJECT_ERROR)            a Python Workers project cannot load
    ├── DurableObjectNotFoundError (DURABLE_OBJECT_NOT_FOUND)
    ├── MethodNotFoundError (METHOD_NOT_FOUND)      also a subclass of AttributeError
    ├── InvalidIdError (INVALID_ID)                 also a subclass of TypeError
    ├── DurableObjectMethodError (RPC_ERROR)        an exception raised inside a method
    ├── DurableObjectResetError (OBJECT_RESET)      the instance was reset (ctx.abort()...)
    ├── DataCloneError (DATA_CLONE_ERROR)           cannot cross RPC (a stub, over 32 MiB...)
    ├── ValidationError (VALIDATION_ERROR)          also a subclass of ValueError
    ├── StubDisposedError (STUB_DISPOSED)           a capability stub used after dispose()
    ├── StubOwnerGoneError (STUB_OWNER_GONE)        a capability's object was evicted/reset
    ├── StreamError (STREAM_ERROR)                  a stream over RPC broke or carried non-bytes
    ├── StorageError (STORAGE_ERROR)
    │   ├── StorageLimitError (STORAGE_LIMIT)       also a subclass of ValueError
    │   ├── TransactionError (TRANSACTION_ERROR)
    │   ├── BookmarkError (BOOKMARK_ERROR)       also a subclass of ValueError
    │   └── SqlError (SQL_ERROR)
    │       └── SqlNotAuthorizedError (SQL_NOT_AUTHORIZED)
    ├── AlarmError (ALARM_ERROR)
    ├── WebSocketError (WEBSOCKET_ERROR)
    │   └── WebSocketLimitError (WEBSOCKET_LIMIT)
    ├── HttpError (HTTP_ERROR)
    │   └── OutboundFetchError (OUTBOUND_FETCH_REFUSED)  fetch() to the network, not allowed
    ├── ServeError (SERVE_ERROR)                    the local server cannot start (port in use)
    ├── ClockError (CLOCK_ERROR)                    time cannot move that way
    ├── CheckpointError (CHECKPOINT_ERROR)          sb.rewind(cp) cannot go there; a ValueError
    └── DriverError (DRIVER_ERROR)                  the sandbox cannot be driven from here
        ├── WaitingOnTimeError (WAITING_ON_TIME)    a call waits for virtual time to move
        └── ExecutionInterruptedError (INTERRUPTED) Ctrl-C stopped running object code

    SandboxWarning (a UserWarning, with a ``code``) a notice, not an error: an alarm dropped,
                                                  a message read twice, a run that stopped

Errors that mirror a JavaScript ``TypeError``/``RangeError`` on the platform also subclass
Python's ``TypeError``/``ValueError``, so ``except ValueError`` works as it would in plain code.
(``DataCloneError`` is also a ``TypeError``.)

Every error carries the platform's flags, set as workerd sets them, with the JavaScript
spellings as aliases (``err.durableObjectReset``, ``err.methodName``, ``err.cause``...):

* ``remote``: user code on the other side raised it (every ``DurableObjectMethodError``).
* ``retryable``: a transient failure; an idempotent call may be retried with a new stub.
  A user error keeps the flags it carries (``err.retryable = True``), as workerd keeps them.
* ``overloaded``: never retry (a ``block_concurrency_while`` that ran past 30 s).
* ``durable_object_reset``: the instance was reset; the stub that saw it keeps failing with
  this error, a new stub (``ns.get(id)``) reaches a fresh instance with storage kept.

The platform's retry pattern, ported::

    for attempt in range(3):
        try:
            return await env.COUNTER.get(name).increment()  # a new stub each attempt
        except DurableObjectError as err:
            if not err.retryable or err.overloaded or attempt == 2:
                raise
        await asyncio.sleep(min(20, 0.1 * random.random() * 2**attempt))
"""

from ._core.errors import (
    AlarmError,
    BookmarkError,
    CheckpointError,
    ClockError,
    ConfigError,
    DataCloneError,
    DriverError,
    DurableObjectError,
    DurableObjectMethodError,
    DurableObjectNotFoundError,
    DurableObjectResetError,
    ExecutionInterruptedError,
    HttpError,
    InvalidIdError,
    MethodNotFoundError,
    NoHandlerError,
    OutboundFetchError,
    ProjectError,
    SandboxWarning,
    ServeError,
    SqlError,
    SqlNotAuthorizedError,
    StorageError,
    StorageLimitError,
    StreamError,
    StubDisposedError,
    StubOwnerGoneError,
    TransactionError,
    ValidationError,
    WaitingOnTimeError,
    WebSocketError,
    WebSocketLimitError,
)

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
