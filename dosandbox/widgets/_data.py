"""What the views read from a handle or a sandbox, in one place.

The views only need pages (a million keys open instantly), counts and small summaries. A
capability the running build lacks raises :class:`Unavailable`, which a tab shows as a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._notebook.handle import Handle
    from .._sandbox import Sandbox

__all__ = ["Unavailable"]


class Unavailable(Exception):
    """This build of dosandbox has no such capability (the tab says so)."""


def _need(handle: Any, attr: str, what: str) -> Any:
    if not hasattr(type(handle), attr) and not hasattr(handle, attr):
        raise Unavailable(f"{what}: not available in this build of dosandbox.")
    return getattr(handle, attr)


# --- KV ------------------------------------------------------------------------------------


@dataclass
class KVPage:
    rows: list[tuple[str, Any, str, int | None]]  # key, decoded value, type, size in bytes
    total: int
    offset: int


def kv_page(handle: Handle, offset: int, limit: int, prefix: str) -> KVPage:
    page = _need(handle, "kv_page", "KV storage")
    count = _need(handle, "kv_count", "KV storage")
    total = int(count(prefix or None))
    if offset >= total and total:
        offset = max(0, (total - 1) // limit * limit)
    frame = page(offset, limit, prefix or None)
    rows = []
    columns = list(frame.columns)
    for rec in frame.itertuples(index=False, name=None):
        item = dict(zip(columns, rec, strict=False))
        value = item.get("value")
        rows.append(
            (
                str(item.get("key")),
                value,
                str(item.get("type") or type(value).__name__),
                _int_or_none(item.get("size")),
            )
        )
    return KVPage(rows, total, offset)


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


# --- SQL -----------------------------------------------------------------------------------


@dataclass
class TableInfo:
    name: str
    rows: int
    schema: str


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_tables(handle: Handle) -> list[TableInfo]:
    sql = _need(handle, "sql", "SQL storage")
    frame = sql(
        # GLOB: the platform's _cf_ rule is case-sensitive (_CF_mine is the user's table).
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT GLOB '_cf_*' "
        "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    )
    out = []
    for name, schema in frame.itertuples(index=False, name=None):
        count = sql(f"SELECT count(*) AS n FROM {quote_ident(name)}")
        out.append(TableInfo(str(name), int(count.iloc[0, 0]), str(schema or "")))
    return out


def sql_table_page(handle: Handle, table: str, offset: int, limit: int) -> Any:
    sql = _need(handle, "sql", "SQL storage")
    return sql(f"SELECT * FROM {quote_ident(table)} LIMIT {int(limit)} OFFSET {int(offset)}")


def sql_query(handle: Handle, query: str, write: bool) -> Any:
    sql = _need(handle, "sql", "SQL storage")
    return sql(query, write=write)


def storage_size(handle: Handle) -> int | None:
    if not hasattr(type(handle), "storage_size"):
        return None
    try:
        return int(handle.storage_size)
    except Exception:
        return None


# --- sockets -------------------------------------------------------------------------------


def sockets(handle: Handle) -> Any:
    return _need(handle, "sockets", "WebSockets")


def socket_count(handle: Handle) -> int | None:
    """Accepted sockets of one object, counted without building a DataFrame."""
    if not hasattr(type(handle), "socket_count"):
        return None
    return int(handle.socket_count)


# --- alarms --------------------------------------------------------------------------------


def alarm(handle: Handle) -> dict[str, Any] | None:
    value = _need(handle, "alarm", "Alarms")
    return value if value is None else dict(value)


def pending_alarms(sandbox: Sandbox) -> int | None:
    """How many alarms wait on the timeline (cheap: the scheduler's count, no DataFrame)."""
    count = getattr(sandbox, "pending_alarm_count", None)
    return None if count is None else int(count())


def socket_id_column(frame: Any) -> str | None:
    for name in ("socket", "socket_id", "id"):
        if name in frame.columns:
            return name
    return None


def socket_is_open(row: dict[str, Any]) -> bool:
    state = row.get("ready_state", row.get("state", "OPEN"))
    return str(state).upper() in ("OPEN", "1", "CONNECTING", "0")


def _client_for(handle: Handle, socket_id: str) -> Any:
    """The simulated client (``sb.connect``) at the other end of an accepted socket."""
    return _need(handle, "client", "WebSockets")(socket_id)


def socket_send(handle: Handle, socket_id: str, message: str) -> None:
    """Send ``message`` to the object as the socket's client: ``web_socket_message`` runs."""
    _client_for(handle, socket_id).send(message)


def socket_close(handle: Handle, socket_id: str, code: int, reason: str) -> None:
    """Close from the client's side, as a browser tab does: ``web_socket_close`` runs."""
    _client_for(handle, socket_id).close(code, reason)


def fire_alarm(handle: Handle) -> None:
    _need(handle, "fire_alarm", "Alarms")()


def delete_alarm(handle: Handle) -> None:
    """Delete the pending alarm, as ``ctx.storage.delete_alarm()`` would (a no-op if none)."""
    _need(handle, "delete_alarm", "Alarms")(by="the inspector's Delete button")


# --- socket traffic, closes and handler errors (what the Sockets tab adds to the counts) -------

LAST_MESSAGES = 3


@dataclass
class Traffic:
    """The last messages each way on one socket (simulated or served; else empty)."""

    to_object: list[Any]  # what the client sent, newest last
    from_object: list[Any]  # what the object sent to the client, newest last


def socket_traffic(handle: Handle, socket_id: str) -> Traffic:
    try:
        client = handle.client(socket_id)
    except Exception:  # a real client (sb.serve), or closed meanwhile: only counts are known
        return Traffic([], [])
    sent = list(getattr(client, "sent", ()))
    return Traffic(sent[-LAST_MESSAGES:], list(client.messages)[-LAST_MESSAGES:])


@dataclass
class ClosedSocket:
    socket: str
    code: Any
    reason: str
    time_ms: int
    by: str


def closed_sockets(handle: Handle, limit: int = 5) -> list[ClosedSocket]:
    """The most recent socket closes of this object, from its event log, newest first."""
    out = []
    for event in reversed(handle.event_list()):
        if event.kind not in ("ws.close", "ws.error") or "socket" not in event.data:
            continue
        data = event.data
        out.append(ClosedSocket(
            str(data["socket"]), data.get("code"), str(data.get("reason") or ""),
            event.time_ms, str(data.get("by") or "client"),
        ))
        if len(out) >= limit:
            break
    return out


def last_seq(handle: Handle) -> int:
    """The sequence number of the newest event in the sandbox's log (0 when it is empty)."""
    entries = list(handle.sandbox.event_log)
    return entries[-1].seq if entries else 0


def errors_since(handle: Handle, seq: int) -> list[str]:
    """Errors this object's handlers raised after event ``seq`` (the log keeps them)."""
    return [
        e.message for e in handle.sandbox.event_log.since(seq)
        if e.object_id == handle.id and e.kind in ("error", "ws.error", "ws.timeout")
    ]
