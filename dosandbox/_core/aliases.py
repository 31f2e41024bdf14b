"""camelCase aliases for code ported from cloudwerk or from Cloudflare's Python Workers.

snake_case is canonical. ``ctx.setState(...)`` resolves through :class:`AliasMixin`'s
``__getattr__`` fallback, so aliases never show up in ``dir()`` or tab completion. One table
serves every class; ``tests/test_aliases.py`` checks each alias points at a real member.
User method names are never renamed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ALIASES", "AliasMixin", "module_aliases"]

ALIASES: dict[str, str] = {
    # context
    "setState": "set_state",
    "getState": "get_state",
    "blockConcurrencyWhile": "block_concurrency_while",
    "waitUntil": "wait_until",
    "acceptWebSocket": "accept_web_socket",
    "getWebSockets": "get_web_sockets",
    "getTags": "get_tags",
    "setWebSocketAutoResponse": "set_web_socket_auto_response",
    "getWebSocketAutoResponse": "get_web_socket_auto_response",
    "getWebSocketAutoResponseTimestamp": "get_web_socket_auto_response_timestamp",
    "setHibernatableWebSocketEventTimeout": "set_hibernatable_web_socket_event_timeout",
    "getHibernatableWebSocketEventTimeout": "get_hibernatable_web_socket_event_timeout",
    "setAlarm": "set_alarm",
    "getAlarm": "get_alarm",
    "deleteAlarm": "delete_alarm",
    # alarm info
    "retryCount": "retry_count",
    "isRetry": "is_retry",
    "scheduledTime": "scheduled_time",
    # storage
    "deleteAll": "delete_all",
    "transactionSync": "transaction_sync",
    "databaseSize": "database_size",
    "getCurrentBookmark": "get_current_bookmark",
    "getBookmarkForTime": "get_bookmark_for_time",
    "onNextSessionRestoreBookmark": "on_next_session_restore_bookmark",
    # sql cursor
    "toArray": "to_list",
    "columnNames": "column_names",
    "rowsRead": "rows_read",
    "rowsWritten": "rows_written",
    "lastRowId": "last_row_id",
    # websockets
    "serializeAttachment": "serialize_attachment",
    "deserializeAttachment": "deserialize_attachment",
    "readyState": "ready_state",
    "addEventListener": "add_event_listener",
    "removeEventListener": "remove_event_listener",
    "wasClean": "was_clean",
    "getRequest": "get_request",
    "getResponse": "get_response",
    # fetch (Request / Response)
    "arrayBuffer": "array_buffer",
    "bodyUsed": "body_used",
    "statusText": "status_text",
    "webSocket": "web_socket",
    # namespaces
    "idFromName": "id_from_name",
    "idFromString": "id_from_string",
    "newUniqueId": "new_unique_id",
    "getByName": "get_by_name",
    "getById": "get_by_id",
    "getDurableObject": "get_durable_object",
    "hasDurableObject": "has_durable_object",
    # errors (err.durableObjectReset, err.methodName, err.cause in JavaScript)
    "durableObjectReset": "durable_object_reset",
    "methodName": "method_name",
    "objectName": "object_name",
    "objectId": "object_id",
    "cause": "__cause__",
}


class AliasMixin:
    """Resolve camelCase names to their snake_case members, invisibly."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        canonical = ALIASES.get(name)
        if canonical is not None:
            return getattr(self, canonical)
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )


def module_aliases(
    module: str, names: Mapping[str, str], namespace: Mapping[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for camelCase names (``from dosandbox import
    defineDurableObject``): each of ``names`` maps to a canonical name in ``namespace`` (the
    module's ``globals()``); they import but stay out of ``dir()``, like the class aliases."""

    def __getattr__(name: str) -> Any:
        canonical = names.get(name)
        if canonical is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        return namespace[canonical]

    return __getattr__
