"""A record's capabilities wired in one place: storage, alarm, sockets and the RPC stubs its
instance holds, made on first use.

Each object record carries one :class:`Parts`. Its typed slots start empty; ``storage_for``,
``alarm_for`` and ``sockets_for`` fill them on first use and register their hooks here:
storage commits before output, closes its database on an eviction (reopened on the next use)
and for good with the sandbox, the alarm is snapshotted and restored with storage
transactions, sockets hold their output until the event ends and close on a reset (an
eviction keeps them: hibernation), held stubs are disposed when the instance goes.
"""

from __future__ import annotations

from typing import Any, cast

from .._core.errors import StorageError
from .._core.record import DropReason, ObjectRecord
from .._core.world import make_folder
from .._storage.storage import Storage, database_path
from . import websocket as _websocket
from .alarms import Alarm, scheduler_for
from .rpc import RpcStub, dispose_all
from .sockets import SocketRegistry

__all__ = [
    "Parts", "alarm_for", "close_parts", "existing_alarm", "existing_sockets", "existing_storage",
    "parts_of", "sockets_for", "storage_for",
]


class Parts:
    """One object's storage, alarm and sockets (None until first used), and their hooks."""

    __slots__ = ("alarm", "record", "sockets", "storage", "stubs")

    def __init__(self, record: ObjectRecord) -> None:
        self.record = record
        self.storage: Storage | None = None
        self.alarm: Alarm | None = None
        self.sockets: SocketRegistry | None = None
        # The RPC stubs its instance received (except a call's arguments), by stub number:
        # workerd disposes them only when the instance goes, so one kept in a field works in
        # later events; a stub disposed early leaves at once.
        self.stubs: dict[int, RpcStub] | None = None

    # --- the record's hooks ------------------------------------------------------------------

    def before_output(self) -> None:
        # Commit first, then release held socket messages: what a client sees is durable.
        storage = self.storage
        if storage is not None:
            storage._db.commit()
        sockets = self.sockets
        if sockets is not None:
            sockets.on_output()

    def _release_stubs(self) -> None:
        held, self.stubs = self.stubs, None
        if held:
            dispose_all(list(held.values()))

    def on_drop(self, reason: DropReason) -> None:
        self._release_stubs()  # the instance that held them is gone: so are they
        storage = self.storage
        if reason.is_reset and storage is not None:
            storage.discard_unconfirmed(f"the object was reset ({reason}) first")
        if self.sockets is not None:
            self.sockets.on_drop(reason)
        if storage is not None:
            storage.restore_pending()  # onNextSessionRestoreBookmark: before the next start
        if not reason.is_reset and storage is not None:
            # Evicted: its connection goes (~90 KiB, and 3 file descriptors if persisted);
            # the next use reopens it, in memory from its pages kept as bytes.
            storage._db.suspend()

    def close(self) -> None:
        self._release_stubs()
        if self.storage is not None:
            self.storage.close()
        if self.alarm is not None:
            self.alarm._close()

    # --- the alarm inside storage transactions -----------------------------------------------

    def _alarm_snapshot(self) -> Any:
        return None if self.alarm is None else self.alarm._snapshot()

    def _alarm_restore(self, snapshot: Any) -> None:
        if self.alarm is not None:
            self.alarm._restore_snapshot(snapshot)


def parts_of(record: ObjectRecord) -> Parts:
    return cast(Parts, record.parts)


def storage_for(record: ObjectRecord) -> Storage:
    """The record's storage, opened (or created) on first use; closed with the sandbox."""
    parts = parts_of(record)
    storage = parts.storage
    if storage is None:
        if record.world.closed:
            raise StorageError("The sandbox is closed; make a new Sandbox to use storage again.")
        path = database_path(record)
        if path is not None:
            make_folder(
                path.parent, f"{record.namespace.name} {record.hex[:12]}…'s storage",
                StorageError, "Put the sandbox's persist folder back (the objects' databases "
                "live there), or make a new Sandbox(persist=...) with another folder.",
            )
        storage = Storage(record, path, alarm=lambda: alarm_for(record),
                          alarm_state=lambda: None if parts.alarm is None else parts.alarm.time_ms)
        # The alarm lives in _cf_METADATA, so a rolled-back transaction undoes alarm changes
        # too; its timer is outside SQLite and is restored through these.
        storage.keep_across_rollback(parts._alarm_snapshot, parts._alarm_restore)
        if parts.alarm is not None and parts.alarm.ever_set:
            storage._ensure_meta_table()  # as if the in-memory alarm had written its row
        parts.storage = storage
        storage.restore_pending()  # one scheduled before the sandbox closed: the next start
    return storage


def existing_storage(record: ObjectRecord) -> Storage | None:
    """The record's storage if it has any (open, or a database file on disk); never creates."""
    storage = parts_of(record).storage
    if storage is not None:
        return storage
    path = database_path(record)
    if path is None or not path.exists():
        return None
    return storage_for(record)


def alarm_for(record: ObjectRecord) -> Alarm:
    """The alarm of one object (made on first use); storage's set/get/delete_alarm use it."""
    parts = parts_of(record)
    alarm = parts.alarm
    if alarm is None:
        # An in-memory database lives exactly as long as the sandbox, so the alarm row is
        # written only when objects persist (three statements a firing, saved otherwise).
        persisted = record.world.persist is not None
        alarm = Alarm(record, scheduler_for(record.world),
                      storage=(lambda: storage_for(record)) if persisted else None,
                      open_storage=lambda: parts.storage)
        parts.alarm = alarm
    return alarm


def existing_alarm(record: ObjectRecord) -> Alarm | None:
    return parts_of(record).alarm


def sockets_for(record: ObjectRecord) -> SocketRegistry:
    """The object's accepted sockets (made on first use); they outlive evictions."""
    parts = parts_of(record)
    sockets = parts.sockets
    if sockets is None:
        sockets = parts.sockets = SocketRegistry(record)
    return sockets


def existing_sockets(record: ObjectRecord) -> SocketRegistry | None:
    return parts_of(record).sockets


_websocket.registry_for = sockets_for  # how ws.accept() (the standard API) finds the registry


def close_parts(record: ObjectRecord) -> None:
    record.parts.close()
