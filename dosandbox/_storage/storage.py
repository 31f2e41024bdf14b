"""``ctx.storage``: the KV API of a SQLite-backed object, on the object's own database.

Sources: Cloudflare's Durable Objects storage documentation; workerd ``actor-state.c++`` and
``sqlite-kv.c++``; the conformance traces in tests/conformance/expected_workerd.json.

* KV lives in the reserved table ``_cf_KV(key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID``
  of the same database as ``ctx.sql``, so one batch or ``transaction()`` covers both.
* Writes (``put``, ``delete``, ``delete_all``, ``set_alarm``, ``delete_alarm``) do their work
  when they are called and return an awaitable that is already done (``_core.done.Done``), as
  a platform call starts its work and returns a promise: an un-awaited ``put`` still writes,
  and a bad argument raises at the call. Reads are ``async def`` that never suspend. Neither
  lets another event in (the input gate stays closed), as on the platform. ``transaction_sync``,
  ``sql`` and ``kv`` (the synchronous KV API) are synchronous.
* ``_cf_KV`` is created by the first KV write and ``_cf_METADATA`` by the first alarm, as in
  workerd, so a fresh object's ``sqlite_master`` is empty and its ``database_size`` 4096.
* Number keys are coerced to strings as the platform does (``put(1, v)`` stores ``"1"``).
* Values go through the structured-clone codec (``codec.dumps``): dataclasses are stored as
  plain dicts, as the platform stores class instances as plain objects; ``get`` returns a
  fresh copy every time.
* ``put(key, None)`` stores None. The platform refuses ``put(key, undefined)`` and stores
  ``null``; Python has only None, so None is a value here (as ``null`` is in JS), and
  ``put({"a": None})`` stores it too (JS skips ``undefined`` entries, but keeps ``null``).

Limits (``Sandbox(limits=...)``, each a :class:`~dosandbox.errors.StorageLimitError`): key ≤ 2,048
bytes, value ≤ 131,072 bytes serialized, ≤ 128 keys per batch call, the database size
(``max_page_count``), and, only when ``Limits(max_kv_ops_per_event=1_000)`` asks for it, the
cloudwerk API's 1,000 KV operations per event (each get/put/delete/list/delete_all call counts
one; the platform has no such limit). The platform documents the key, value and batch limits
for every backend; workerd's local SQLite backend does not enforce them, production may: we
enforce them so code that works here works there.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import apsw

from .._core.aliases import AliasMixin
from .._core.clock import describe_ms, to_epoch_ms
from .._core.codec import dumps
from .._core.done import DONE, Done
from .._core.errors import (
    BookmarkError,
    CheckpointError,
    StorageLimitError,
    TransactionError,
    ValidationError,
)
from .._core.fastcodec import decode_value, encode_value
from .._core.record import DropReason, current_scope
from .database import Database, pool_for, sqlite_error, tag
from .history import History, copy_into, image_of, store_for
from .keys import is_number_key, number_key
from .kvlist import key_range
from .sql import SqlStorage

if TYPE_CHECKING:
    from .._core.record import ObjectRecord

__all__ = [
    "AlarmApi",
    "Storage",
    "SyncKvStorage",
    "Transaction",
    "database_path",
    "persisted_object_ids",
]


class AlarmApi(Protocol):
    """The object's alarm, as storage's ``get_alarm``/``set_alarm``/``delete_alarm`` use it."""

    @property
    def time_ms(self) -> int | None: ...
    def set_now(self, scheduled_time: Any) -> None: ...
    def delete_now(self, *, reason: str = ...) -> None: ...


_MISSING: Any = object()
T = TypeVar("T")

_GET = tag("SELECT value FROM _cf_KV WHERE key = ?")
_PUT = tag("INSERT OR REPLACE INTO _cf_KV (key, value) VALUES (?, ?)")
_DELETE = tag("DELETE FROM _cf_KV WHERE key = ?")
_META_GET = tag("SELECT value FROM _cf_METADATA WHERE key = ?")
_META_PUT = tag("INSERT OR REPLACE INTO _cf_METADATA (key, value) VALUES (?, ?)")
_META_DELETE = tag("DELETE FROM _cf_METADATA WHERE key = ?")
# Made by the first write that needs them, as workerd does (a fresh object's schema is empty).
_KV_TABLE = tag(
    "CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"
)
_META_TABLE = tag(
    "CREATE TABLE IF NOT EXISTS _cf_METADATA (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID"
)
_TABLE_EXISTS = tag("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
# Around the rows of one batch call (put({...}), delete([...]), seed_kv): all or none.
_MANY = tag("SAVEPOINT _cf_many")
_MANY_UNDO = tag("ROLLBACK TO _cf_many")
_MANY_DONE = tag("RELEASE _cf_many")
_STAT_TABLES = tuple(tag(f"DROP TABLE IF EXISTS sqlite_stat{n}") for n in (1, 4))  # _wipe

# Options the platform accepts; they are hints with no effect in one process.
_READ_OPTIONS = frozenset({"allow_concurrency", "allowConcurrency", "no_cache", "noCache"})
_WRITE_OPTIONS = frozenset({"allow_unconfirmed", "allowUnconfirmed", "no_cache", "noCache"})
_LIST_OPTIONS = ("prefix", "start", "start_after", "end", "limit", "reverse")
_LIST_NAMES = {"startAfter": "start_after"}


def _short(key: str, width: int = 40) -> str:
    return repr(key) if len(key) <= width else repr(key[:width]) + "…"


def _keys_text(keys: Iterable[str], count: int) -> str:
    shown = ", ".join(_short(k, 24) for _, k in zip(range(3), keys, strict=False))
    return shown + (f" (+{count - 3} more)" if count > 3 else "")


class Storage(AliasMixin):
    """One object's storage: KV methods here, SQL on ``.sql``."""

    def __init__(
        self,
        record: ObjectRecord,
        path: Path | None = None,
        *,
        alarm: Callable[[], AlarmApi],
        alarm_state: Callable[[], int | None] = lambda: None,
    ) -> None:
        world = record.world
        self._record = record
        self._alarm = alarm
        self._limits = world.limits
        log = world.event_log
        object_name, object_id = record.namespace.name, record.hex
        self._log_emit = lambda kind, message: log.emit(
            kind, message, object_name=object_name, object_id=object_id
        )
        self._db = Database(path, world.limits, world.loop, self._on_batch_lost, self._log_emit,
                            pool=None if path is None else pool_for(world))
        self._bind()
        self._db.on_connect.append(self._bind)
        self._max_key = self._limits.max_key_bytes
        self._max_value = self._limits.max_value_bytes
        self._max_batch = self._limits.max_batch_keys
        self._max_ops = self._limits.max_kv_ops_per_event
        # The write batch's pending run of one SQL statement in the event log ("×10,000").
        self._log_run = self._db.log_run
        # The event running a transaction(), and how deep: another event that touches storage
        # meanwhile waits for it (the platform runs transaction() under blockConcurrencyWhile,
        # which also holds events that were suspended when it began).
        self._txn_owner: Any = None
        self._txn_depth = 0
        # The last write queued behind another event's transaction (see _after_transaction).
        self._queued: asyncio.Task[Any] | None = None
        # Whether _cf_KV / _cf_METADATA surely exist (False: absent, or unknown after a
        # rollback, so the next write runs its CREATE TABLE IF NOT EXISTS again).
        self._kv_table = self._table_exists("_cf_KV")
        self._meta_table = self._table_exists("_cf_METADATA")
        self._db.snapshot_hooks.append((lambda: None, self._forget_tables))
        self.sql = SqlStorage(self._db, record.namespace.name)
        self.kv = SyncKvStorage(self)
        self._history: History | None = None
        if self._limits.max_history_bytes > 0:
            self._start_history(alarm_state, path)

    def _start_history(self, alarm_state: Callable[[], int | None], path: Path | None) -> None:
        """The point-in-time recovery log: told of each write, commit and rollback."""
        record, world = self._record, self._record.world
        clock, log = world.clock, world.event_log
        store = None if path is None or world.persist is None else store_for(world.persist)
        history = History(
            record.hex, self._db, now_ms=lambda: clock._now_ms,
            event_seq=lambda: log.last_seq, alarm_ms=alarm_state,
            limit_bytes=self._limits.max_history_bytes, store=store,
            store_key=f"{record.namespace.name}/{record.hex}",
        )
        self._history_store = store
        self._history = history
        self._db.history = history
        self._db.snapshot_hooks.append((history.mark, history.truncate))
        self._db.on_connect.append(history.bind)

    def _bind(self) -> None:
        """Take the database's connection, again after it was closed while idle or reopened."""
        db = self._db
        self._conn = db.conn
        # Reused by single get/put (each reads its result at once): a cursor per call costs
        # about as much as the rest of put's checks.
        self._kv_cursor = db.stand_in(lambda: self._kv_cursor) if db.suspended else (
            db.conn.cursor()
        )
        self._forget_tables()  # checked again on use: the file may have changed meanwhile

    def _table_exists(self, name: str) -> bool:
        return bool(self._conn.execute(_TABLE_EXISTS, (name,)).fetchall())

    def _forget_tables(self, _snapshot: object = None) -> None:
        """A rollback may have undone the CREATE TABLE of a lazily made table."""
        self._kv_table = self._meta_table = False

    def _make_kv_table(self) -> None:
        """Inside the open write batch: the first KV write creates _cf_KV (rolls back with it)."""
        self._conn.execute(_KV_TABLE)
        self._kv_table = True
        if self._history is not None:
            self._history.schema_dirty = True

    def _kv_readable(self) -> bool:
        """Whether _cf_KV exists, for reads (which never create it, as in workerd)."""
        if not self._kv_table:
            self._kv_table = self._table_exists("_cf_KV")
        return self._kv_table

    def _must_wait(self) -> bool:
        """Another event's transaction() is running: this event's storage call waits for it."""
        if self._txn_owner is None or current_scope.get() is self._txn_owner:
            return False
        instance = self._record.instance
        return instance is not None and not instance.gate.is_open

    async def _wait_for_transaction(self) -> None:
        """Hold a storage call of another event until the running transaction() settles."""
        while self._must_wait():
            instance = self._record.instance
            assert instance is not None
            await instance.gate.wait_open()

    def _after_transaction(self, work: Callable[[], T]) -> Awaitable[T]:
        """A write made while another event's transaction() runs: done once it settles.

        ``work`` was checked and encoded already (a bad argument raised at the call); what is
        left is the SQL. It still happens if nobody awaits it (a task, like the platform's
        queued promise), and queued writes keep their order, reads of later events after them.
        """
        previous = self._queued

        async def later() -> T:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])  # its error is its own caller's
            await self._wait_for_transaction()
            return work()

        task = asyncio.get_running_loop().create_task(later())
        self._queued = task

        def forget(done: asyncio.Task[T]) -> None:
            if self._queued is done:
                self._queued = None

        task.add_done_callback(forget)
        return task

    async def _settle(self) -> None:
        """Before a read: another event's transaction() and the writes queued behind it."""
        await self._wait_for_transaction()
        tail = self._queued
        if tail is not None and not tail.done() and (
            self._txn_owner is None or current_scope.get() is not self._txn_owner
        ):
            await asyncio.wait([tail])

    def _check_sync(self, what: str) -> None:
        """The synchronous API cannot wait behind another event's transaction()."""
        if self._must_wait() or (self._queued is not None and not self._queued.done()):
            raise TransactionError(
                f"{what} cannot run now: another event of this object is inside "
                "storage.transaction() (or writes wait behind one), and the synchronous KV API "
                "cannot wait for it; it would join that transaction. Use the async API "
                "(`await ctx.storage.get(...)` / `put(...)`), which waits its turn."
            )

    def keep_across_rollback(self, take: Callable[[], Any], restore: Callable[[Any], None]) -> None:
        """State outside SQLite that a rolled-back transaction must undo too (the alarm timer).

        ``take()`` snapshots it when a transaction begins; ``restore(snapshot)`` runs on rollback.
        """
        self._db.snapshot_hooks.append((take, restore))

    def __repr__(self) -> str:
        where = "in memory" if self._db.path is None else str(self._db.path)
        return f"<Storage {self._record.namespace.name} {self._record.hex[:12]}… {where}>"

    # --- checks ------------------------------------------------------------------------------

    def _count_op(self, what: str) -> None:
        if self._max_ops is None:  # the platform counts nothing (opt-in, see Limits)
            return
        scope = current_scope.get()
        if scope is None:
            return
        scope.kv_ops += 1
        if scope.kv_ops > self._max_ops:
            scope.kv_ops -= 1  # the refused call did nothing
            raise StorageLimitError(
                f"Too many KV operations in one event: {what} would be operation "
                f"#{scope.kv_ops + 1:,}; the limit is {self._max_ops:,} per request, the "
                "cloudwerk API's documented rule that Limits.max_kv_ops_per_event turned on (the "
                "platform itself has no such limit). Batch keys (get([...]), "
                "put({...}), delete([...]) count once each), use list(prefix=...), or spread "
                "the work over several events (e.g. an alarm).",
                object_name=self._record.namespace.name,
                object_id=self._record.hex,
            )

    def _check_key(self, key: Any, what: str) -> str:
        if type(key) is not str:
            if isinstance(key, str):
                return self._check_key(str(key), what)
            if is_number_key(key):  # the platform converts keys with String(key)
                return self._check_key(number_key(key), what)
            raise ValidationError(
                f"{what}: keys are strings (or numbers, stored as their text), not "
                f"{type(key).__name__} {key!r:.60}. Convert it (f'user:{{id}}')."
            )
        # Beyond ASCII a key may hold a lone surrogate: found here, before a batch writes any.
        if len(key) * 4 > self._max_key or not key.isascii():  # UTF-8: at most 4 bytes a char
            try:
                size = len(key.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise self._surrogate(key, what) from exc
            if size > self._max_key:
                raise StorageLimitError(
                    f"Keys cannot be larger than {self._max_key} bytes. A key of size {size} "
                    f"was provided ({what} {_short(key)}). Use a shorter key, e.g. a hash of "
                    "the long one, and keep the long text in the value.",
                    object_name=self._record.namespace.name,
                    object_id=self._record.hex,
                )
        return key

    def _surrogate(self, key: str, what: str) -> ValidationError:
        return ValidationError(
            f"{what}: key {_short(key)} contains a lone surrogate, which has no UTF-8 form; "
            "fix the string (e.g. key.encode('utf-8', 'replace').decode())."
        )

    def _encode(self, key: str, value: Any, what: str) -> bytes:
        data = encode_value(value)
        if data is None:
            data = dumps(value, path=f"{what}[{_short(key)}]")
        if len(data) > self._max_value:
            raise StorageLimitError(
                f"Values cannot be larger than {self._max_value} bytes. A value of size "
                f"{len(data)} was provided for key {_short(key)} (serialized). Split it over "
                "several keys, or store it in a SQL table (rows may hold up to 2 MB).",
                object_name=self._record.namespace.name,
                object_id=self._record.hex,
            )
        return data

    def _check_batch(self, count: int, what: str) -> None:
        if count > self._max_batch:
            raise StorageLimitError(
                f"Maximum number of key value pairs is {self._max_batch}. {count} pairs were "
                f"provided to {what}. Split the batch into chunks of {self._max_batch}.",
                object_name=self._record.namespace.name,
                object_id=self._record.hex,
            )

    def _check_options(
        self, options: Mapping[str, Any], allowed: frozenset[str], what: str
    ) -> None:
        for name, value in options.items():
            if name not in allowed:
                raise ValidationError(
                    f"{what}() got an unknown option {name!r}; it accepts "
                    f"{', '.join(sorted(o for o in allowed if '_' in o))}."
                )
            if not isinstance(value, bool):
                raise ValidationError(f"{what}({name}=...) takes True or False, not {value!r}.")


    # --- events ------------------------------------------------------------------------------

    def _emit(self, kind: str, message: str) -> None:
        if self._log_run.query is not None:
            self._log_run.flush()
        self._log_emit(kind, message)

    def discard_unconfirmed(self, why: str) -> None:
        """The object was reset: the writes of its open batch are lost, as on the platform."""
        self._log_run.query = None  # those writes never happened
        if self._db.discard_batch():
            self._forget_tables()
            self._log_emit("kv.rollback", f"uncommitted writes discarded: {why}")

    def _on_batch_lost(self, exc: BaseException) -> None:
        # As on the platform, a write that cannot be committed breaks the output gate: the
        # instance is reset and its in-memory state goes with the lost writes.
        self._forget_tables()
        self._emit(
            "error", f"storage write batch rolled back ({exc}); the instance was reset"
        )
        self._record.drop_instance(DropReason.STORAGE_FAILED, exc)

    # --- reads -------------------------------------------------------------------------------

    async def get(self, key: str | Iterable[str], **options: Any) -> Any:
        """The value for ``key`` (None if absent), or a dict of the found keys, in key order."""
        if self._txn_owner is not None or self._queued is not None:
            await self._settle()
        if options:
            self._check_options(options, _READ_OPTIONS, "get")
        self._count_op("get()")
        if type(key) is not str and is_number_key(key):
            key = number_key(key)
        if type(key) is str:
            if len(key) * 4 > self._max_key:
                self._check_key(key, "get()")
            if not self._kv_table and not self._kv_readable():
                return None
            try:
                # fetchall, not fetchone: it steps the statement to its end, so the reused
                # cursor leaves no read statement open between calls.
                rows: Any = self._kv_cursor.execute(_GET, (key,)).fetchall()
            except UnicodeEncodeError as exc:
                raise self._surrogate(key, "get()") from exc
            return decode_value(rows[0][0]) if rows else None
        keys = self._key_list(key, "get")
        found: dict[str, Any] = {}
        if not self._kv_readable():
            return found
        execute = self._conn.execute
        for k in sorted(set(keys)):
            row = execute(_GET, (k,)).fetchone()
            if row is not None:
                found[k] = decode_value(row[0])
        return found

    def _key_list(self, keys: Any, what: str) -> list[str]:
        if isinstance(keys, (str, bytes)) or not isinstance(keys, Iterable) or isinstance(
            keys, Mapping
        ):
            raise ValidationError(
                f"{what}() takes a key (str) or a list of keys, not {type(keys).__name__}."
            )
        keys = list(keys)
        self._check_batch(len(keys), f"{what}()")
        return [self._check_key(k, f"{what}()") for k in keys]

    async def list(
        self, options_: Mapping[str, Any] | None = None, /, **options: Any
    ) -> dict[str, Any]:
        """Keys and values in UTF-8 byte order (see ``_kvlist`` for the platform's rules).

        Options go as keywords (``list(prefix="user:", limit=10)``: prefix, start, start_after,
        end, limit, reverse); a dict works too, as in ported code (``list({"prefix": "user:",
        "startAfter": "user:5"})``).
        """
        if self._txn_owner is not None or self._queued is not None:
            await self._settle()
        return {k: decode_value(v) for k, v in self._list_rows(options_, options, "list")}

    def _list_rows(
        self, options_: Mapping[str, Any] | None, options: dict[str, Any], what: str
    ) -> builtins.list[tuple[str, bytes]]:
        """The rows ``list()`` / ``kv.list()`` ask for; ``options_`` is the dict form."""
        if options_ is not None:
            if not isinstance(options_, Mapping):
                raise ValidationError(
                    f"{what}() takes keyword options (or one dict of them), not "
                    f"{type(options_).__name__}."
                )
            options = {**options_, **options}
        named = {name: options.pop(name) for name in _LIST_OPTIONS if name in options}
        for camel, snake in _LIST_NAMES.items():
            if camel in options:
                if snake in named:
                    raise ValidationError(
                        f"{what}() got both {snake} and {camel}; they are one option in two "
                        "spellings, pass one."
                    )
                named[snake] = options.pop(camel)
        if options:
            self._check_options(options, _READ_OPTIONS, what)
        self._count_op(f"{what}()")
        if named.get("reverse") is None:
            named.pop("reverse", None)  # list(reverse=None) as "not given"
        kr = key_range(**named)
        if kr.empty or not self._kv_readable():
            return []
        sql, params = kr.sql()
        try:
            rows: Any = self._conn.execute(tag(sql), params).fetchall()
        except UnicodeEncodeError as exc:
            raise ValidationError(
                f"{what}(): a bound key contains a lone surrogate, which has no UTF-8 form; "
                "fix the string (e.g. key.encode('utf-8', 'replace').decode())."
            ) from exc
        return rows

    # --- writes ------------------------------------------------------------------------------

    def put(
        self, key: str | Mapping[str, Any], value: Any = _MISSING, /, **options: Any
    ) -> Awaitable[None]:
        """Store ``value`` under ``key``, or every pair of a dict (≤ 128) atomically.

        The write happens now; the returned awaitable is already done (``await`` is optional).
        """
        if self._txn_owner is not None and self._must_wait():
            return self._after_transaction(self._put(key, value, options, apply=False))
        if not options and type(key) is str and value is not _MISSING:
            # The hot path, inlined: count, check, encode, write, log.
            if self._max_ops is not None:
                self._count_op("put()")
            if len(key) * 4 > self._max_key:
                self._check_key(key, "put()")
            data = encode_value(value)
            if data is None or len(data) > self._max_value:
                data = self._encode(key, value, "put()")
            db = self._db
            if not db.batch_open:
                db.begin_write()
            history = self._history
            if history is not None and history.hooked:
                history.hook_off()  # this KV row is noted here, not by SQLite's row hook
            try:
                if not self._kv_table:
                    self._make_kv_table()
                self._kv_cursor.execute(_PUT, (key, data))
                if history is not None:
                    history.kv.append((key, data))
            except UnicodeEncodeError as exc:
                raise self._surrogate(key, "put()") from exc
            except Exception as exc:
                db.check_batch(exc)
                raise sqlite_error(exc) from exc
            if self._log_run.query is not None:
                self._log_run.flush()
            self._log_emit("kv.put", f"put {key!r}" if len(key) <= 40 else f"put {_short(key)}")
            return DONE
        self._put(key, value, options, apply=True)
        return DONE

    def _put(
        self, key: Any, value: Any, options: dict[str, Any], *, apply: bool
    ) -> Callable[[], None]:
        """Check and encode now; write now (``apply``) or when the returned step is called."""
        if options:
            self._check_options(options, _WRITE_OPTIONS, "put")
        if isinstance(key, Mapping):
            if value is not _MISSING:
                raise ValidationError(
                    "put(entries) takes a dict of key → value and no second value; to store one "
                    "value use put(key, value)."
                )
            self._count_op("put()")
            self._check_batch(len(key), "put()")
            rows = []
            for k, v in key.items():
                k = self._check_key(k, "put()")
                rows.append((k, self._encode(k, v, "put()")))

            def write_rows() -> None:
                if rows:
                    self._write_many(_PUT, rows)
                    shown = _keys_text((k for k, _ in rows), len(rows))
                    self._emit("kv.put", f"put {len(rows)} keys: {shown}")

            step = write_rows
        else:
            if value is _MISSING:
                raise ValidationError(
                    "put() takes a key and a value, put('k', v), or a dict of entries, "
                    "put({...})."
                )
            self._count_op("put()")
            key = self._check_key(key, "put()")
            data = self._encode(key, value, "put()")

            def write_one() -> None:
                self._write(_PUT, (key, data), key)
                self._emit("kv.put", f"put {_short(key)}")

            step = write_one
        if apply:
            step()
        return step

    def _write(self, sql: str, params: tuple[Any, ...], key: str) -> None:
        db = self._db
        if not db.batch_open:
            db.begin_write()
        if self._history is not None and self._history.hooked:
            self._history.hook_off()  # the row is noted below, not by SQLite's row hook
        try:
            if not self._kv_table:
                self._make_kv_table()
            self._conn.execute(sql, params)
            if self._history is not None:  # a put (key, value) or a delete (key,)
                self._history.kv.append((key, params[1] if sql is _PUT else None))
        except UnicodeEncodeError as exc:
            raise self._surrogate(key, "put()") from exc
        except Exception as exc:
            db.check_batch(exc)
            raise sqlite_error(exc) from exc

    def _write_many(self, sql: str, rows: builtins.list[tuple[Any, ...]]) -> None:
        """Every row or none: the keys were checked already, and a savepoint undoes the rows
        written before one that SQLite refuses (a row past SQLITE_LIMIT_LENGTH, say)."""
        db = self._db
        db.begin_write()
        conn = self._conn
        if self._history is not None and self._history.hooked:
            self._history.hook_off()  # the rows are noted below, not by SQLite's row hook
        try:
            conn.execute(_MANY)
            try:
                if not self._kv_table:
                    self._make_kv_table()
                conn.executemany(sql, rows)
            except BaseException:
                if conn.in_transaction:  # (SQLITE_FULL may have rolled the batch back)
                    conn.execute(_MANY_UNDO)
                    conn.execute(_MANY_DONE)
                self._forget_tables()
                raise
            conn.execute(_MANY_DONE)
            if self._history is not None:
                self._history.kv.extend(rows if sql is _PUT else [(r[0], None) for r in rows])
        except UnicodeEncodeError as exc:
            raise ValidationError(
                "a key contains a lone surrogate, which has no UTF-8 form; fix the string "
                "(e.g. key.encode('utf-8', 'replace').decode())."
            ) from exc
        except Exception as exc:
            db.check_batch(exc)
            raise sqlite_error(exc) from exc

    def delete(self, key: str | Iterable[str], **options: Any) -> Awaitable[bool | int]:
        """Delete ``key`` (True if it existed) or a list of keys (how many existed).

        The delete happens now; the returned awaitable is already done and gives the answer.
        """
        step = self._delete(key, options)
        if self._txn_owner is not None and self._must_wait():
            return self._after_transaction(step)
        return Done(step())

    def _delete(self, key: Any, options: dict[str, Any]) -> Callable[[], bool | int]:
        """Check the keys now; the returned step deletes and says how many existed."""
        if options:
            self._check_options(options, _WRITE_OPTIONS, "delete")
        self._count_op("delete()")
        if type(key) is str or is_number_key(key):
            one = self._check_key(key, "delete()")

            def delete_one() -> bool:
                before = self._conn.total_changes()
                self._write(_DELETE, (one,), one)
                existed = self._conn.total_changes() != before
                self._emit("kv.delete", f"delete {_short(one)}")
                return existed

            return delete_one
        keys = sorted(set(self._key_list(key, "delete")))

        def delete_many() -> int:
            if not keys:
                return 0
            before = self._conn.total_changes()
            self._write_many(_DELETE, [(k,) for k in keys])
            count = self._conn.total_changes() - before
            self._emit("kv.delete", f"delete {len(keys)} keys: {_keys_text(keys, len(keys))}")
            return count

        return delete_many

    def delete_all(self, **options: Any) -> Awaitable[None]:
        """Delete every key, every SQL table and the alarm, atomically (compat ≥ 2026-02-24).

        As in workerd the database is then as a fresh object's: no tables, 4096 bytes.
        """
        if options:
            self._check_options(options, _WRITE_OPTIONS, "delete_all")
        if self._txn_owner is not None and self._must_wait():
            return self._after_transaction(self._delete_all)
        self._delete_all()
        return DONE

    def _delete_all(self) -> None:
        if self._db.savepoints:
            raise TransactionError(
                "Cannot call deleteAll() within a transaction. Call delete_all() outside "
                "storage.transaction(), or delete the keys you need with delete([...])."
            )
        self._count_op("delete_all()")
        db = self._db
        db.begin_write()
        try:
            self._wipe()
        except Exception as exc:
            db.check_batch(exc)
            raise sqlite_error(exc) from exc
        self._emit("kv.delete_all", "delete_all: every key and SQL table deleted")
        self._alarm().delete_now(reason="delete_all()")

    def _wipe(self) -> None:
        conn = self._conn
        # Open cursors end first (workerd cancels them), or SQLite refuses to drop their tables.
        self.sql._cancel_cursors()
        if self._history is not None:
            self._history.schema_dirty = True
        # The internal tables go too: afterwards the schema is a fresh object's (workerd).
        conn.execute(tag("DROP TABLE IF EXISTS _cf_KV"))
        conn.execute(tag("DROP TABLE IF EXISTS _cf_METADATA"))
        self._kv_table = self._meta_table = False
        conn.execute(tag("PRAGMA defer_foreign_keys=ON"))  # drop tables in any order
        # Everything but SQLite's own (sqlite_%, a case-insensitive rule): _CF_mine is a user
        # table (the _cf_ rule is case-sensitive), and any other _cf_ table goes as on workerd.
        user = tag(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' "
            "ESCAPE '\\'"
        )
        for kind in ("view", "trigger"):
            for _, name, _ in [r for r in conn.execute(user) if r[0] == kind]:
                conn.execute(tag(f'DROP {kind.upper()} IF EXISTS "{_quote(name)}"'))
        # Virtual tables first: dropping one also drops its shadow tables.
        while True:
            tables: Any = [r for r in conn.execute(user).fetchall() if r[0] == "table"]
            if not tables:
                break
            tables.sort(key=lambda r: not (r[2] or "").upper().startswith("CREATE VIRTUAL"))
            conn.execute(tag(f'DROP TABLE IF EXISTS "{_quote(tables[0][1])}"'))
        for stats in _STAT_TABLES:  # ANALYZE's, which SQLite lets go
            conn.execute(stats)
        if conn.execute(tag("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).fetchone():
            conn.execute(tag("DELETE FROM sqlite_sequence"))

    # --- transactions ------------------------------------------------------------------------

    async def transaction(self, fn: Callable[..., Any], **options: Any) -> Any:
        """Run ``fn(txn)`` (async or sync) atomically: raising rolls back KV and SQL, re-raises.

        No other event is delivered while it runs (as on the platform, which runs it under
        blockConcurrencyWhile), but a raise does not reset the object.
        """
        if not callable(fn):
            raise ValidationError(
                "transaction() takes a function, async def or def, e.g. "
                "transaction(lambda txn: ...); pass the function itself, not its call."
            )
        if self._txn_owner is not None:
            await self._wait_for_transaction()
        txn = Transaction(self)
        db = self._db
        name = db.savepoint()
        txn._savepoint = name
        instance = self._record.instance
        gate = instance.gate if instance is not None else None
        if gate is not None:
            gate.block()
        if self._txn_depth == 0:
            self._txn_owner = current_scope.get()
        self._txn_depth += 1
        try:
            result = fn(txn) if _takes_argument(fn) else fn()
            if inspect.isawaitable(result):
                result = await result
        except BaseException as exc:
            db.rollback_to(name)
            db.release(name)
            self._emit(
                "kv.rollback", f"transaction rolled back: {type(exc).__name__}: {exc}"
            )
            raise
        else:
            db.release(name)
        finally:
            txn._done = True
            self._txn_depth -= 1
            if self._txn_depth == 0:
                self._txn_owner = None
            if gate is not None:
                gate.unblock()
        return result

    def transaction_sync(self, fn: Callable[[], Any]) -> Any:
        """Run the synchronous ``fn()`` atomically; raising rolls back and re-raises. Nestable."""
        if not callable(fn):
            raise ValidationError("transaction_sync() takes a function (def), not its result.")
        db = self._db
        name = db.savepoint()
        try:
            result = fn()
            if inspect.isawaitable(result):
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                raise TransactionError(
                    "transaction_sync() callback must be synchronous (a plain def); it returned "
                    "an awaitable. Use `await storage.transaction(fn)` for async callbacks."
                )
        except BaseException as exc:
            db.rollback_to(name)
            db.release(name)
            self._emit(
                "kv.rollback", f"transaction_sync rolled back: {type(exc).__name__}: {exc}"
            )
            raise
        db.release(name)
        return result

    async def sync(self) -> None:
        """Wait until every write so far is durable (commits the current batch now)."""
        self._db.commit()

    # --- point-in-time recovery (see history.py) --------------------------------------------

    def _require_history(self, what: str) -> History:
        history = self._history
        if history is None:
            raise BookmarkError(
                f"{what}: this sandbox keeps no point-in-time recovery history "
                "(Limits(max_history_bytes=0)). Make the sandbox without that limit, e.g. "
                "Sandbox(limits=Limits(max_history_bytes=64 * 1024 * 1024)), the default."
            )
        return history

    def _current_index(self) -> int:
        """Commit the open batch (unless a transaction() holds it), then the newest entry."""
        history = self._require_history("getCurrentBookmark")
        self._db.commit()
        history.note_alarm()
        return len(history.entries) - 1

    async def get_current_bookmark(self) -> str:
        """A bookmark for the state right now, every write so far included (a string that
        sorts after every earlier bookmark of this object)."""
        self._current_index()
        assert self._history is not None
        return self._history.bookmark()

    async def get_bookmark_for_time(self, timestamp: Any) -> str:
        """A bookmark for the state at ``timestamp`` (a datetime or epoch ms, on the virtual
        clock) within the last 30 days; the same time always gives the same bookmark."""
        history = self._require_history("getBookmarkForTime")
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float, dt.datetime)):
            raise BookmarkError(
                "getBookmarkForTime takes a datetime or epoch milliseconds (Date.now()-style, "
                f"time.time() * 1000), not {type(timestamp).__name__} {timestamp!r:.60}."
            )
        ms = to_epoch_ms(timestamp, now_ms=self._record.world.clock._now_ms,
                         what="getBookmarkForTime")
        self._db.commit()
        history.note_alarm()
        return history.bookmark(history.index_for_time(ms))

    async def on_next_session_restore_bookmark(self, bookmark: Any) -> str:
        """Restore the state ``bookmark`` names when the object next starts (call
        ``ctx.abort()`` to restart it now); KV, SQL tables and the alarm go back. Returns a
        bookmark for the state right now, which undoes the restore the same way."""
        history = self._require_history("onNextSessionRestoreBookmark")
        index = history.resolve(bookmark, "onNextSessionRestoreBookmark")
        undo = self._current_index()
        history.set_pending(index)
        self._emit("storage.restore_scheduled",
                   f"restore of bookmark {bookmark[:26]}… scheduled for the next start")
        return history.bookmark(undo)

    def restore_pending(self) -> bool:
        """Apply a restore scheduled with on_next_session_restore_bookmark (the object is not
        running: it was reset or evicted, or the sandbox reopened). True if one was applied."""
        history = self._history
        if history is None or history.pending is None:
            return False
        index = history.pending_index()
        history.set_pending(None)
        if index is None:
            self._emit("error", "a scheduled restore names a state no longer kept; skipped")
            return False
        db = self._db
        if db.batch_open:
            db.commit()
        db.resume()
        bookmark = history.bookmark(index)
        try:
            scratch = history.materialize(index)
        except Exception as exc:  # the live database was not touched
            self._emit("error", f"the restore of bookmark {bookmark[:26]}… failed, nothing "
                       f"changed: {type(exc).__name__}: {exc}")
            return False
        image = self._swap_in(scratch, history.alarm_at(index))
        history.add_restore(image, "restore")
        self._emit("storage.restored", f"restored to bookmark {bookmark[:26]}…")
        return True

    def _swap_in(self, scratch: Any, alarm_ms: int | None, reason: str = "a point-in-time "
                 "restore") -> bytes:
        """Replace the database with ``scratch``'s (closed after) and set the alarm to
        ``alarm_ms``; returns the new state's image."""
        db = self._db
        try:
            image = image_of(scratch)
            self.sql._cancel_cursors()
            copy_into(scratch, db.conn)
        finally:
            scratch.close()
        # A new connection: APSW's cached statements would keep the old tables' columns.
        # Its owners (this storage, sql, the history) rebind through on_connect.
        db.suspend()
        db.resume()
        self.sql._plans.clear()
        alarm = self._alarm()
        if alarm_ms is None:
            alarm.delete_now(reason=reason)
        elif alarm.time_ms != alarm_ms:
            alarm.set_now(alarm_ms)
        return image

    def rewind_to(self, seq: int | None, time_ms: int) -> None:
        """sb.rewind(): the state of history entry ``seq`` (None: empty, as before the object
        existed) now, its alarm with it; the entries after it are forgotten."""
        history = self._require_history("sb.rewind()")
        history.set_pending(None)
        db = self._db
        if db.batch_open:
            db.commit()
        db.resume()
        if seq is None:
            first = history.entries[0]
            index = 0 if first.kind == "start" and first.image == b"" else None
            scratch = apsw.Connection(":memory:")
        else:
            index = self.rewind_index(seq, time_ms)
            scratch = history.materialize(index)
        alarm_ms = None if index is None else history.alarm_at(index)
        image = self._swap_in(scratch, alarm_ms, reason="sb.rewind()")
        if index is None:
            history.add_restore(image, "rewind")
        else:
            history.drop_after(index)

    def checkpoint_mark(self) -> tuple[int, int, int | None]:
        """sb.checkpoint(): (seq, time) of the entry holding the state now, and its alarm."""
        history = self._require_history("sb.checkpoint()")
        entry = history.entries[self._current_index()]
        return entry.seq, entry.time_ms, entry.alarm_ms

    def note_alarm(self) -> None:
        """The alarm changed outside a write batch (it fired): the history notes it now."""
        if self._history is not None and not self._db.batch_open:
            self._history.note_alarm()

    def cancel_pending_restore(self) -> None:
        """Forget a restore scheduled with on_next_session_restore_bookmark (sb.rewind())."""
        if self._history is not None and self._history.pending is not None:
            self._history.set_pending(None)

    def rewind_index(self, seq: int, time_ms: int) -> int:
        """The index of the entry a checkpoint names, or the typed error if it is gone."""
        history = self._require_history("sb.rewind()")
        index = seq - history.entries[0].seq
        if not 0 <= index < len(history.entries) or history.entries[index].time_ms != time_ms:
            raise CheckpointError(
                f"sb.rewind(): {self._record.namespace.name} {self._record.hex[:12]}… no longer "
                f"keeps its state of {describe_ms(time_ms)} (its history goes back to "
                f"{describe_ms(history.entries[0].time_ms)}: Limits.max_history_bytes="
                f"{history.limit_bytes:,} bytes and the 30-day window). Nothing was rewound; "
                "take checkpoints closer to the experiment, or raise the limit."
            )
        return index

    # --- alarms (storage operations on the platform; the alarm itself is given to storage) ----

    async def get_alarm(self, **options: Any) -> int | None:
        """The pending alarm's time in epoch ms, or None."""
        if options:
            self._check_options(options, _READ_OPTIONS, "get_alarm")
        return self._alarm().time_ms

    def set_alarm(self, scheduled_time: Any, **options: Any) -> Awaitable[None]:
        """Set (replace) the alarm now; the returned awaitable is already done."""
        if options:
            self._check_options(options, _WRITE_OPTIONS, "set_alarm")
        self._alarm().set_now(scheduled_time)
        return DONE

    def delete_alarm(self, **options: Any) -> Awaitable[None]:
        """Delete the alarm now (a no-op if none); the returned awaitable is already done."""
        if options:
            self._check_options(options, _WRITE_OPTIONS, "delete_alarm")
        self._alarm().delete_now()
        return DONE

    # --- metadata for other capabilities (alarms) --------------------------------------------

    def _meta_get(self, key: str) -> bytes | None:
        if not self._meta_table:
            self._meta_table = self._table_exists("_cf_METADATA")
            if not self._meta_table:
                return None
        row = self._conn.execute(_META_GET, (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def before_alarm_change(self, *, setting: bool) -> None:
        """The alarm is about to change: open the write batch first, so that a reset (which
        drops the batch) or a rolled-back transaction puts the alarm back as it was; a set
        makes _cf_METADATA, as workerd does with the first alarm."""
        db = self._db
        if not _outside_loop(db) and not db.batch_open:
            db.begin_write()
        if setting:
            self._ensure_meta_table()

    def _ensure_meta_table(self) -> None:
        """_cf_METADATA exists from the first alarm on (in memory, alarms write no row)."""
        if self._meta_table:
            return
        db = self._db
        db.begin_write()
        self._conn.execute(_META_TABLE)
        self._meta_table = True
        if self._history is not None:
            self._history.schema_dirty = True
        if _outside_loop(db):
            db.commit()

    def _meta_set(self, key: str, value: bytes | None) -> None:
        """Write inside the current batch (commits with the KV/SQL writes around it).

        The first value written creates _cf_METADATA; deleting from a missing table is a no-op.
        """
        if value is None and not self._meta_table:
            self._meta_table = self._table_exists("_cf_METADATA")
            if not self._meta_table:
                return
        db = self._db
        db.begin_write()
        if value is None:
            self._conn.execute(_META_DELETE, (key,))
        else:
            self._ensure_meta_table()
            self._conn.execute(_META_PUT, (key, value))
        if _outside_loop(db):
            db.commit()

    # --- the sandbox's view (handles) --------------------------------------------------------

    def _kv_rows(
        self, offset: int, limit: int, prefix: str | None
    ) -> builtins.list[tuple[str, bytes]]:
        if not self._kv_readable():
            return []
        if prefix:
            kr = key_range(prefix=prefix)
            sql, params = kr.sql()
            sql = sql.replace("LIMIT ?", "LIMIT ? OFFSET ?")
            params = (*params[:-1], limit, offset)
        else:
            sql = "SELECT key, value FROM _cf_KV ORDER BY key LIMIT ? OFFSET ?"
            params = (limit, offset)
        rows: Any = self._conn.execute(tag(sql), params).fetchall()
        return rows

    def _kv_count(self, prefix: str | None) -> int:
        if not self._kv_readable():
            return 0
        if prefix:
            kr = key_range(prefix=prefix)
            sql, params = kr.sql()
            sql = sql.replace("SELECT key, value", "SELECT count(*)").replace(
                " ORDER BY key ASC LIMIT ?", ""
            )
            return int(self._db.scalar(sql, params[:-1]))
        return int(self._db.scalar("SELECT count(*) FROM _cf_KV"))

    def _seed(self, entries: Mapping[str, Any]) -> int:
        """Write ``entries`` from outside the object (no batch cap), committed at once."""
        self._db.check_outside_write()
        rows = []
        for k, v in entries.items():
            k = self._check_key(k, "seed_kv()")
            rows.append((k, self._encode(k, v, "seed_kv()")))
        self._write_many(_PUT, rows)
        self._db.commit()
        self._emit("kv.seed", f"seeded {len(rows)} keys: {_keys_text(entries, len(rows))}")
        return len(rows)

    def close(self) -> None:
        self._log_run.flush()
        self._db.close()
        store = getattr(self, "_history_store", None)
        if store is not None:
            self._history_store = None
            store.release()


class Transaction(AliasMixin):
    """The ``txn`` passed to ``storage.transaction(fn)``: KV methods plus ``rollback()``.

    On SQLite-backed objects every ``ctx.storage``/``ctx.sql`` call inside the function is part
    of the transaction anyway; ``txn`` is kept for code written for the KV backend.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._savepoint = ""
        self._rolled_back = False
        self._done = False

    def _check(self, op: str) -> Storage:
        if self._done:
            raise TransactionError(
                f"Cannot call {op} on transaction that has already committed: did you move "
                "`txn` outside of the closure?"
            )
        if self._rolled_back:
            raise TransactionError(
                f"Cannot {op} on rolled back transaction; start a new storage.transaction() "
                "for more work."
            )
        return self._storage

    def rollback(self) -> None:
        """Undo every write of this transaction so far; later txn calls raise."""
        if self._done:
            self._check("rollback")
        if not self._rolled_back:
            self._storage._db.rollback_to(self._savepoint)
            self._rolled_back = True
            self._storage._emit("kv.rollback", "txn.rollback() called")

    async def get(self, key: Any, **options: Any) -> Any:
        return await self._check("get").get(key, **options)

    def put(self, key: Any, value: Any = _MISSING, /, **options: Any) -> Awaitable[None]:
        return self._check("put").put(key, value, **options)

    def delete(self, key: Any, **options: Any) -> Awaitable[bool | int]:
        return self._check("delete").delete(key, **options)

    async def list(
        self, options_: Mapping[str, Any] | None = None, /, **options: Any
    ) -> dict[str, Any]:
        return await self._check("list").list(options_, **options)

    async def get_alarm(self, **options: Any) -> int | None:
        return await self._check("getAlarm").get_alarm(**options)

    def set_alarm(self, scheduled_time: Any, **options: Any) -> Awaitable[None]:
        return self._check("setAlarm").set_alarm(scheduled_time, **options)

    def delete_alarm(self, **options: Any) -> Awaitable[None]:
        return self._check("deleteAlarm").delete_alarm(**options)


class SyncKvStorage(AliasMixin):
    """``ctx.storage.kv``: the synchronous KV API of SQLite-backed objects, one key at a time.

    The same data as the async API (``await storage.get(k)`` sees ``kv.put(k, v)`` at once),
    the same limits and key rules. No batch forms: ``get``/``put``/``delete`` take one key.
    """

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __repr__(self) -> str:
        return f"<SyncKvStorage of {self._storage!r}>"

    def _key(self, key: Any, what: str) -> str:
        if type(key) is str:
            return key
        if is_number_key(key) or isinstance(key, str):
            return self._storage._check_key(key, what)
        raise ValidationError(
            f"{what} takes one key, a string (numbers are stored as their text), not "
            f"{type(key).__name__} {key!r:.60}. The synchronous KV API has no batch form: for "
            "several keys use `await ctx.storage.get([...])` or call it once per key."
        )

    def _ready(self, what: str) -> Storage:
        """The storage, if a synchronous call may run now (not behind another transaction)."""
        storage = self._storage
        if storage._txn_owner is not None or storage._queued is not None:
            storage._check_sync(what)
        storage._count_op(what)
        return storage

    def _begin(self, key: Any, what: str) -> tuple[Storage, str]:
        """The checks every single-key call makes: the key, the turn, the op count."""
        key = self._key(key, what)
        storage = self._ready(what)
        return storage, storage._check_key(key, what)

    def get(self, key: str) -> Any:
        """The value stored under ``key``, or None."""
        storage, key = self._begin(key, "kv.get()")
        if not storage._kv_readable():
            return None
        try:
            rows: Any = storage._conn.execute(_GET, (key,)).fetchall()
        except UnicodeEncodeError as exc:
            raise storage._surrogate(key, "kv.get()") from exc
        return decode_value(rows[0][0]) if rows else None

    def put(self, key: str, value: Any = _MISSING, /) -> None:
        """Store ``value`` (None too) under ``key``, now."""
        if isinstance(key, Mapping) or value is _MISSING:
            raise ValidationError(
                "kv.put() takes a key and a value, kv.put('k', v); the synchronous KV API has "
                "no batch form: for a dict of entries use `ctx.storage.put({...})`."
            )
        storage, key = self._begin(key, "kv.put()")
        storage._write(_PUT, (key, storage._encode(key, value, "kv.put()")), key)
        storage._emit("kv.put", f"kv.put {_short(key)}")

    def delete(self, key: str) -> bool:
        """Delete ``key``; True if it existed."""
        storage, key = self._begin(key, "kv.delete()")
        before = storage._conn.total_changes()
        storage._write(_DELETE, (key,), key)
        existed = storage._conn.total_changes() != before
        storage._emit("kv.delete", f"kv.delete {_short(key)}")
        return existed

    def list(
        self, options_: Mapping[str, Any] | None = None, /, **options: Any
    ) -> Iterator[tuple[str, Any]]:
        """``(key, value)`` pairs in key order, with ``list()``'s options (prefix, start,
        start_after, end, limit, reverse); an iterator, as the platform's."""
        storage = self._storage
        if storage._txn_owner is not None or storage._queued is not None:
            storage._check_sync("kv.list()")  # _list_rows counts the op itself
        rows = storage._list_rows(options_, options, "kv.list")
        return ((k, decode_value(v)) for k, v in rows)


def _quote(name: str) -> str:
    return name.replace('"', '""')


def _outside_loop(db: Database) -> bool:
    import asyncio

    return asyncio._get_running_loop() is not db.loop


def _takes_argument(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` accepts the ``txn`` argument (the cloudwerk API's examples pass none)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL):
            return True
    return False


# --- per-record storage -------------------------------------------------------------------------


def database_path(record: ObjectRecord) -> Path | None:
    """``persist/<namespace>/<object-id>.sqlite``, or None in memory."""
    root = record.world.persist
    if root is None:
        return None
    return root / record.namespace.name / f"{record.hex}.sqlite"


def persisted_object_ids(persist: Path | None, namespace_name: str) -> list[str]:
    """Hex ids of the objects of ``namespace_name`` that have a database in ``persist``."""
    if persist is None:
        return []
    folder = persist / namespace_name
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.sqlite"))
