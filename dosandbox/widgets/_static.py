"""Static snapshots: what a saved notebook shows where there is no kernel (GitHub, nbviewer).

Plain escaped HTML, built from the same pages the widgets read; no ipywidgets needed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _data
from ._render import (
    BORDER,
    MUTED,
    TEXT,
    alarm_html,
    esc,
    format_ms,
    frame_rows,
    message_html,
    preview,
    relative,
    status_badge,
    table_html,
    tree_html,
)

if TYPE_CHECKING:
    from .._notebook.handle import Handle
    from .._sandbox import Sandbox

__all__ = ["mimebundle", "static_html"]

SNAPSHOT_ROWS = 20
_BOX = (
    f"border:1px solid {BORDER};border-radius:4px;padding:6px 10px;margin:4px 0;"
    f"font-family:var(--jp-ui-font-family,sans-serif);color:{TEXT};text-align:left"
)


def _section(title: str, body: str) -> str:
    return (
        f'<details open><summary style="font-weight:600;font-size:12px">{esc(title)}</summary>'
        f'<div style="margin-left:12px">{body}</div></details>'
    )


def _guard(fn: Callable[[], str]) -> str:
    try:
        return fn()
    except _data.Unavailable as missing:
        return message_html(str(missing))
    except Exception as exc:  # a snapshot never breaks the output it belongs to
        return message_html(f"{type(exc).__name__}: {exc}", "error")


def in_flight_html(handle: Handle) -> str:
    """Where each in-flight event waits (the line of user code), and the input-gate queue."""
    events = handle.in_flight_events() if handle.is_live else []
    queued = handle.gate_queue if handle.is_live else 0
    if not events and not queued:
        return ""
    items = []
    for event in events:
        steps = " → ".join(esc(step) for step in event.chain)
        items.append(
            f'<li><b>{esc(event.method)}()</b> waits on {esc(event.waits_on)}<br>'
            f'<span style="font-family:var(--jp-code-font-family,monospace)">{steps}</span></li>'
        )
    if queued:
        items.append(
            f"<li>{queued} more event(s) wait at the input gate: block_concurrency_while holds "
            "it until its callback finishes</li>"
        )
    return (
        f'<div style="font-size:12px;text-align:left;margin:2px 0 6px">'
        f"<b>{len(events) + queued} event(s) in flight</b> (they finish when what they wait on "
        f'does: move the clock for a timer)<ul style="margin:2px 0;padding-left:18px">'
        f'{"".join(items)}</ul></div>'
    )


def handle_html(handle: Handle) -> str:
    """One object: header, state, a first page of KV, tables, sockets, alarm, recent events."""
    key = handle.object_key
    name = f' "{esc(key)}"' if key else ""
    header = (
        f'<div style="font-size:14px"><b>{esc(handle.name)}</b>{name} '
        f'<code style="font-size:11px">{esc(handle.id)}</code> {status_badge(handle.status)} '
        f'<span style="font-size:11px;color:{MUTED}">instance #{handle.instance_number} · '
        f"{handle.events_delivered} events delivered · {len(handle.event_list())} log entries · "
        f"storage {esc(storage_text(_data.storage_size(handle)))}</span></div>"
    )

    def state() -> str:
        if not handle.is_live:
            return message_html("no live instance (in-memory state is gone)")
        return in_flight_html(handle) + (
            f'<div style="font-size:12px;color:{MUTED}">type {esc(type(handle.state).__name__)}'
            "</div>"
            + tree_html(handle.state)
        )

    def kv() -> str:
        page = _data.kv_page(handle, 0, SNAPSHOT_ROWS, "")
        more = f" (first {len(page.rows)} of {page.total:,})" if page.total > len(page.rows) else ""
        return (
            f'<div style="font-size:12px;color:{MUTED}">{page.total:,} key(s){esc(more)}</div>'
            + table_html(["key", "value", "type", "size"], page.rows, empty="no keys",
                         mono=("key", "value"))
        )

    def sql() -> str:
        tables = _data.sql_tables(handle)
        return table_html(["table", "rows", "schema"],
                          [(t.name, f"{t.rows:,}", t.schema) for t in tables],
                          empty="no tables", mono=("schema",), limit=160)

    def sockets() -> str:
        cols, rows = frame_rows(_data.sockets(handle))
        return table_html(cols, rows[:SNAPSHOT_ROWS], empty="no sockets connected")

    def alarm() -> str:
        info = _data.alarm(handle)
        if info is None:
            return message_html("No alarm set.")
        return alarm_html(info, handle.sandbox.clock.now_ms)

    def events() -> str:
        newest = handle.event_list()[::-1][:SNAPSHOT_ROWS]
        return table_html(["seq", "time", "kind", "message"],
                          [(e.seq, format_ms(e.time_ms), e.kind, e.message) for e in newest],
                          empty="no events", limit=160)

    parts = [header]
    for title, fn in (("State", state), ("KV", kv), ("SQL", sql), ("Sockets", sockets),
                      ("Alarm", alarm), ("Events (newest first)", events)):
        parts.append(_section(title, _guard(fn)))
    return f'<div class="dosandbox-snapshot" style="{_BOX}">{"".join(parts)}</div>'


def clock_html(sandbox: Sandbox) -> str:
    clock = sandbox.clock
    count = _data.pending_alarms(sandbox)
    alarms = "" if count is None else f" · {count} pending alarm{'s' * (count != 1)}"
    return (
        f'<div style="font-size:13px">virtual now <span style="font-family:monospace">'
        f"{esc(format_ms(clock.now_ms))}</span> · mode {esc(clock.mode)}{esc(alarms)}</div>"
    )


def objects_columns() -> list[str]:
    return ["object", "name", "id", "status", "storage", "sockets", "next alarm"]


def object_rows(sandbox: Sandbox, handles: list[Handle]) -> list[tuple[Any, ...]]:
    """One summary row per object: name, id, status, storage size, sockets, next alarm."""
    now = sandbox.clock.now_ms
    rows = []
    for handle in handles:
        size = _data.storage_size(handle)
        sockets = _data.socket_count(handle)
        try:
            info = _data.alarm(handle)
        except _data.Unavailable:
            info = None
        nxt = ""
        if info is not None:
            ms = int(info.get("time_ms", info.get("time", 0)))
            nxt = f"{format_ms(ms)} ({relative((ms - now) / 1000)})"
        key = handle.object_key
        rows.append((
            handle.name,
            key if key is not None else "",
            handle.id[:16] + "…",
            handle.status,
            "" if size is None else storage_text(size),
            "" if sockets is None else sockets,
            nxt,
        ))
    return rows


SQLITE_PAGE = 4096  # the page size of every object's database, as on the platform


def storage_text(size: int | None) -> str:
    """``12288`` → ``12.0 KB (3 SQLite pages of 4 KB)``: why a 61-byte value shows as 12 KB.

    The size is ``ctx.sql.database_size``: SQLite keeps the schema, the KV table and each index
    in pages of their own, so even one tiny value takes whole pages.
    """
    if size is None:
        return "n/a"
    if size == 0:
        return "none yet"
    pages = size // SQLITE_PAGE
    if size % SQLITE_PAGE or pages > 10_000:
        return _bytes(size)
    return f"{_bytes(size)} ({pages:,} SQLite page{'s' * (pages != 1)} of 4 KB)"


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def sandbox_html(sandbox: Sandbox) -> str:
    """The dashboard's snapshot: clock, objects, recent events."""
    handles = sandbox.handles()
    objects = table_html(objects_columns(), object_rows(sandbox, handles[:50]),
                         empty="no objects yet", mono=("id",))
    newest = list(sandbox.event_log)[::-1][:SNAPSHOT_ROWS]
    events = table_html(["seq", "time", "kind", "object", "message"],
                        [(e.seq, format_ms(e.time_ms), e.kind, e.object_name or "", e.message)
                         for e in newest], empty="no events", limit=120)
    return (
        f'<div class="dosandbox-snapshot" style="{_BOX}">{clock_html(sandbox)}'
        f'{_section("Objects", objects)}{_section("Events (newest first)", events)}</div>'
    )


def static_html(target: Any) -> str:
    """A readable HTML snapshot of a handle, a stub or a sandbox (all user data escaped)."""
    from .._notebook.handle import Handle
    from .._runtime.namespace import Stub
    from .._sandbox import Sandbox

    if isinstance(target, Handle):
        return handle_html(target)
    if isinstance(target, Stub):
        return handle_html(Handle(target))
    if isinstance(target, Sandbox):
        return sandbox_html(target)
    return f"<pre>{esc(preview(target, 400))}</pre>"


def mimebundle(
    widget_factory: Callable[[], Any], fallback_html: Callable[[], str] | str | None = None
) -> dict[str, Any]:
    """A display bundle: the live widget view plus an HTML and a text snapshot.

    Front ends with a widget manager show the live view; GitHub and nbviewer show the HTML.
    Without ipywidgets (or outside a kernel) the snapshot alone is returned.
    """
    owner = getattr(widget_factory, "__self__", None)
    try:
        widget = widget_factory()
        bundle = dict(widget._repr_mimebundle_() or {})
    except ImportError:
        widget, bundle = None, {}
    if "text/html" in bundle:
        pass  # our views put their own snapshot in
    elif fallback_html is not None:
        bundle["text/html"] = fallback_html() if callable(fallback_html) else fallback_html
    elif owner is not None:
        bundle["text/html"] = static_html(owner)
    bundle.setdefault("text/plain", repr(owner if owner is not None else widget))
    return bundle
