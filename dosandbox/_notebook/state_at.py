"""``handle.at(event_or_time)``: one object's storage as it was then, read-only, and how it
differs from now.

Built from the object's point-in-time recovery log (``_storage/history.py``): the state after
the write batch current at that event or time is rebuilt in a scratch in-memory database and
read into DataFrames (KV with decoded values, each SQL table, the alarm). The live database
is not touched. Only states inside the history kept (``Limits.max_history_bytes``, the
30-day window) can be shown; older ones are a typed error naming the limit.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from .._core.clock import describe_ms, to_epoch_ms
from .._core.errors import BookmarkError, ValidationError
from .._core.events import Event
from .._core.fastcodec import decode_value
from .._runtime.parts import existing_storage
from .._storage.history import WINDOW_MS

if TYPE_CHECKING:
    from .._core.record import ObjectRecord
    from .._storage.history import History

__all__ = ["PastState", "StateDiff", "state_at"]

# An int this large is epoch milliseconds (1973-03-03 on), a smaller one an event's seq.
EPOCH_MS_FROM = 100_000_000_000
_USER_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT GLOB '_cf_*' "
    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
)
# Rows of each table compared or shown at most (a view, not an export).
MAX_ROWS = 10_000


class _Snapshot:
    """KV, tables (rows keyed by rowid or primary key) and columns read from one database."""

    def __init__(self, conn: Any) -> None:
        self.kv: dict[str, Any] = {}
        self.sizes: dict[str, int] = {}
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_cf_KV'").fetchall():
            for key, data in conn.execute("SELECT key, value FROM _cf_KV ORDER BY key"):
                self.kv[key] = decode_value(bytes(data))
                self.sizes[key] = len(data)
        self.columns: dict[str, list[str]] = {}
        self.rows: dict[str, dict[Any, tuple[Any, ...]]] = {}
        for (name,) in conn.execute(_USER_TABLES).fetchall():
            quoted = '"' + name.replace('"', '""') + '"'
            info = conn.execute(
                "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", (name,)).fetchall()
            without_rowid = conn.execute(
                "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?", (name,)
            ).fetchone()
            keyed = bool(without_rowid and without_rowid[0])
            self.columns[name] = [column for column, _ in info]
            key_at = [i for _, i in sorted((pk, i) for i, (_, pk) in enumerate(info) if pk)]
            select = (f"SELECT * FROM {quoted} LIMIT {MAX_ROWS}" if keyed
                      else f"SELECT _rowid_, * FROM {quoted} LIMIT {MAX_ROWS}")
            table: dict[Any, tuple[Any, ...]] = {}
            for row in conn.execute(select):
                if keyed:
                    table[tuple(row[i] for i in key_at)] = tuple(row)
                else:
                    table[row[0]] = tuple(row[1:])
            self.rows[name] = table

    def frames(self) -> tuple[Any, dict[str, Any]]:
        import pandas as pd

        kv = pd.DataFrame(
            [{"key": k, "value": v, "type": type(v).__name__, "size": self.sizes[k]}
             for k, v in self.kv.items()],
            columns=["key", "value", "type", "size"],
        )
        tables = {
            name: pd.DataFrame(list(rows.values()), columns=self.columns[name])
            for name, rows in self.rows.items()
        }
        return kv, tables


class StateDiff:
    """What changed from a past state to now: KV keys, table rows, table shapes."""

    def __init__(self, then: _Snapshot, now: _Snapshot) -> None:
        import pandas as pd

        kv_rows = []
        for key in sorted(then.kv.keys() | now.kv.keys()):
            if key not in now.kv:
                kv_rows.append({"key": key, "change": "removed", "then": then.kv[key],
                                "now": None})
            elif key not in then.kv:
                kv_rows.append({"key": key, "change": "added", "then": None, "now": now.kv[key]})
            elif then.kv[key] != now.kv[key]:
                kv_rows.append({"key": key, "change": "changed", "then": then.kv[key],
                                "now": now.kv[key]})
        #: KV keys added, changed or removed since then (key, change, then, now).
        self.kv = pd.DataFrame(kv_rows, columns=["key", "change", "then", "now"], dtype=object)
        schema_rows = []
        row_changes = []
        for table in sorted(then.columns.keys() | now.columns.keys()):
            before, after = then.columns.get(table), now.columns.get(table)
            if before is None or after is None or before != after:
                schema_rows.append({
                    "table": table,
                    "change": "added" if before is None else "removed" if after is None
                    else "columns changed",
                    "then": before, "now": after,
                })
            old, new = then.rows.get(table, {}), now.rows.get(table, {})
            old_columns, new_columns = before or [], after or []
            for key in sorted(old.keys() | new.keys(), key=repr):
                was = dict(zip(old_columns, old[key], strict=True)) if key in old else None
                is_ = dict(zip(new_columns, new[key], strict=True)) if key in new else None
                if was != is_:
                    change = "removed" if is_ is None else "added" if was is None else "changed"
                    row_changes.append({"table": table, "key": key, "change": change,
                                        "then": was, "now": is_})
        #: Tables added, removed or whose columns changed (table, change, then, now).
        self.schema = pd.DataFrame(schema_rows, columns=["table", "change", "then", "now"],
                                   dtype=object)
        #: Rows added, changed or removed (table, key: rowid or primary key, change, then, now).
        self.rows = pd.DataFrame(row_changes, columns=["table", "key", "change", "then", "now"],
                                 dtype=object)

    @property
    def empty(self) -> bool:
        """Nothing changed since then."""
        return bool(self.kv.empty and self.rows.empty and self.schema.empty)

    def __repr__(self) -> str:
        if self.empty:
            return "<StateDiff: nothing changed since then>"
        return (f"<StateDiff: {len(self.kv)} KV key(s), {len(self.rows)} row(s), "
                f"{len(self.schema)} table change(s) since then>")


class PastState:
    """One object's storage as it was at an event or a time: DataFrames, read-only."""

    def __init__(
        self, history: History, index: int, then: _Snapshot, now: _Snapshot, now_ms: int
    ) -> None:
        entry = history.entries[index]
        self.entry_seq = entry.seq
        #: When the write batch holding this state committed (epoch ms, the virtual clock).
        self.time_ms = entry.time_ms
        #: The first event of that batch (the event log's seq).
        self.event_seq = entry.event_seq
        #: "start", "write", "schema", "restore" or "rewind": what made this state.
        self.kind = entry.kind
        self.kv, self.tables = then.frames()
        #: The alarm then (epoch ms), or None.
        self.alarm_ms = entry.alarm_ms
        self.diff = StateDiff(then, now)
        # Restorable only while the state is inside the 30-day window (as the platform's).
        later = history.entries[index + 1].time_ms if index + 1 < len(history.entries) else now_ms
        self.bookmark: str | None = (
            history.bookmark(index) if later >= now_ms - WINDOW_MS else None
        )

    @property
    def time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time_ms / 1000, dt.UTC)

    @property
    def alarm(self) -> dt.datetime | None:
        return (None if self.alarm_ms is None
                else dt.datetime.fromtimestamp(self.alarm_ms / 1000, dt.UTC))

    def __repr__(self) -> str:
        return (f"<PastState #{self.entry_seq} ({self.kind}) at {describe_ms(self.time_ms)}: "
                f"{len(self.kv)} key(s), {len(self.tables)} table(s); {self.diff!r}>")


def _index(history: History, record: ObjectRecord, when: Any) -> int:
    now = record.world.clock._now_ms
    if isinstance(when, Event):
        return history.index_for_event(when.seq)
    if isinstance(when, bool) or not isinstance(when, (int, float, dt.datetime)):
        raise ValidationError(
            "handle.at() takes an Event (from handle.event_list()), an event's seq, a datetime "
            f"or epoch milliseconds, not {type(when).__name__} {when!r:.60}."
        )
    if isinstance(when, int) and 0 <= when < EPOCH_MS_FROM:
        if when > record.world.event_log.last_seq:
            raise ValidationError(
                f"handle.at({when}): no event #{when} was logged yet (the last is "
                f"#{record.world.event_log.last_seq}). Pass an event's seq, or a time as a "
                "datetime or epoch ms."
            )
        return history.index_for_event(when)
    ms = to_epoch_ms(when, now_ms=now, what="handle.at()")
    if ms > now:
        raise ValidationError(
            f"handle.at(): {describe_ms(ms)} is in the future (the clock is at "
            f"{describe_ms(now)}); pass a time up to now."
        )
    try:
        return history.index_for_time(ms)
    except BookmarkError as exc:  # older than the history kept: say it for handle.at()
        raise ValidationError("handle.at(): " + str(exc).split(": ", 1)[-1]) from exc


def state_at(record: ObjectRecord, when: Any) -> PastState:
    """The object's storage as it was at ``when``, with the diff against now."""
    storage = existing_storage(record)
    history = None if storage is None else storage._history
    if storage is None or history is None:
        raise ValidationError(
            f"handle.at(): {record.namespace.name} {record.hex[:12]}… has "
            + ("no storage yet, so no past states." if storage is None else
               "no history: the sandbox keeps none (Limits(max_history_bytes=0)).")
        )
    storage._current_index()  # the open batch committed, the alarm noted
    index = _index(history, record, when)
    scratch = history.materialize(index)
    try:
        then = _Snapshot(scratch)
    finally:
        scratch.close()
    now = _Snapshot(storage._conn)
    return PastState(history, index, then, now, record.world.clock._now_ms)
