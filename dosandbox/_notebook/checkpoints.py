"""Whole-sandbox checkpoints for lessons: ``cp = sb.checkpoint()``, try something,
``sb.rewind(cp)``.

Not a platform feature (the platform has per-object point-in-time recovery, which this builds
on): a checkpoint names, for every object that exists, an entry of its change log (see
``_storage/history.py``) plus the clock and the alarms. Rewinding is a restart of every
object: live instances are reset (stubs that reached them fail, as after ``ctx.abort()``),
*every* WebSocket closes with 1006, hibernatable ones too (a restart is not an eviction;
simulated clients see the close), the clock goes back to the checkpoint's time (the one
place it ever moves backwards), each object's storage becomes the state of its entry, its
alarm is re-armed from that state, and the entries after it are forgotten (their bookmarks,
and checkpoints taken after this one, stop working). Objects made after the checkpoint come
back empty. The event log keeps everything, with a ``sandbox.rewind`` entry.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._core.aliases import AliasMixin
from .._core.clock import describe_ms
from .._core.errors import CheckpointError, sandbox_closed
from .._core.record import DropReason, ObjectRecord
from .._runtime.parts import existing_alarm, existing_storage, parts_of

if TYPE_CHECKING:
    from .._core.world import World
    from .._runtime.namespace import Namespace

__all__ = ["Checkpoint", "rewind", "take_checkpoint"]


@dataclass(frozen=True)
class ObjectMark:
    """One object at a checkpoint: its history entry (None: no storage yet), its alarm."""

    seq: int | None
    entry_time_ms: int
    alarm_ms: int | None


class Checkpoint(AliasMixin):
    """A point of the whole sandbox to come back to with ``sb.rewind(checkpoint)``."""

    def __init__(
        self, world: World, number: int, label: str, time_ms: int, event_seq: int,
        marks: dict[tuple[str, str], ObjectMark],
    ) -> None:
        self._world = weakref.ref(world)
        self.number = number
        self.label = label
        self.time_ms = time_ms
        self.event_seq = event_seq  # the last event logged before it
        self._marks = marks
        self.discarded = False  # a rewind to an earlier checkpoint made it unreachable

    @property
    def time(self) -> dt.datetime:
        """The clock's time at the checkpoint (UTC)."""
        return dt.datetime.fromtimestamp(self.time_ms / 1000, dt.UTC)

    @property
    def objects(self) -> int:
        """How many objects it holds the state of."""
        return len(self._marks)

    def __repr__(self) -> str:
        gone = ", discarded" if self.discarded else ""
        return (f"<Checkpoint #{self.number} {self.label!r} at {describe_ms(self.time_ms)}, "
                f"{self.objects} object(s){gone}>")


def _records(namespaces: Iterable[Namespace]) -> list[tuple[str, ObjectRecord]]:
    return [(ns.name, r) for ns in namespaces for r in list(ns.records.values())]


def _refuse_while_running(world: World, what: str, namespaces: Iterable[Namespace]) -> None:
    busy = [f"{name} {r.hex[:12]}…" for name, r in _records(namespaces)
            if r.instance is not None and r.instance.in_flight]
    if world.driver.depth or busy:
        running = ", ".join(busy) or "a call"
        raise CheckpointError(
            f"{what}: {running} still running; a checkpoint is a state between events. Call "
            "it from a cell, not from object code, once the calls have finished (move the "
            "clock to let them end)."
        )


def take_checkpoint(
    world: World, namespaces: Iterable[Namespace], number: int, label: str | None
) -> Checkpoint:
    """Note every existing object's current history entry and alarm, and the clock."""
    if world.closed:
        raise sandbox_closed("sb.checkpoint()")
    if world.limits.max_history_bytes <= 0:
        raise CheckpointError(
            "sb.checkpoint(): this sandbox keeps no history (Limits(max_history_bytes=0)), "
            "so there is nothing to rewind to. Make the sandbox without that limit."
        )
    namespaces = list(namespaces)
    _refuse_while_running(world, "sb.checkpoint()", namespaces)
    marks: dict[tuple[str, str], ObjectMark] = {}
    for ns in namespaces:
        for record in ns.known_records():
            storage = existing_storage(record)
            alarm = existing_alarm(record)
            if storage is None:
                marks[(ns.name, record.hex)] = ObjectMark(
                    None, 0, alarm.time_ms if alarm is not None else None)
            else:
                seq, entry_ms, alarm_ms = storage.checkpoint_mark()
                marks[(ns.name, record.hex)] = ObjectMark(seq, entry_ms, alarm_ms)
    log = world.event_log
    cp = Checkpoint(world, number, label or f"checkpoint {number}", world.clock._now_ms,
                    log.last_seq, marks)
    log.emit("sandbox.checkpoint", f"{cp.label}: {len(marks)} object(s) at "
             f"{describe_ms(cp.time_ms)}")
    return cp


def rewind(world: World, namespaces: Iterable[Namespace], cp: object) -> Checkpoint:
    """Put every object, its alarm and the clock back to ``cp`` (see the module docstring)."""
    if world.closed:
        raise sandbox_closed("sb.rewind()")
    if not isinstance(cp, Checkpoint):
        raise CheckpointError(
            f"sb.rewind() takes a checkpoint from sb.checkpoint(), not {type(cp).__name__} "
            f"{cp!r:.60}."
        )
    if cp._world() is not world:
        raise CheckpointError(
            f"sb.rewind(): {cp.label!r} is a checkpoint of another sandbox; a sandbox rewinds "
            "only to its own checkpoints (sb.checkpoints lists them)."
        )
    if cp.discarded:
        raise CheckpointError(
            f"sb.rewind(): {cp.label!r} was taken after a checkpoint this sandbox has since "
            "rewound to: that future was discarded. Rewind to a checkpoint in sb.checkpoints."
        )
    namespaces = list(namespaces)
    _refuse_while_running(world, "sb.rewind()", namespaces)
    records = _records(namespaces)
    # Everything is checked before anything changes: a refused rewind loses nothing.
    for name, record in records:
        mark = cp._marks.get((name, record.hex))
        if mark is not None and mark.seq is not None:
            storage = existing_storage(record)
            if storage is None:  # pragma: no cover - storage, once made, stays for the sandbox
                raise CheckpointError(f"sb.rewind(): {name} {record.hex[:12]}… lost its storage.")
            storage.rewind_index(mark.seq, mark.entry_time_ms)
    for _, record in records:
        storage = existing_storage(record)
        if storage is not None:
            storage.cancel_pending_restore()  # the rewind supersedes it
        if record.instance is not None:
            record.drop_instance(DropReason.REWOUND)
        else:  # nothing live, but hibernated sockets may still be connected
            parts_of(record).on_drop(DropReason.REWOUND)
    if cp.time_ms < world.clock._now_ms:
        world.clock._rewind_to(cp.time_ms)
    for name, record in records:
        mark = cp._marks.get((name, record.hex))
        alarm = existing_alarm(record)
        if alarm is not None:
            alarm.last_fired_ms = -1  # it fired later than now: not a reason to delay it
        storage = existing_storage(record)
        if storage is not None:
            storage.rewind_to(mark.seq if mark is not None else None,
                              mark.entry_time_ms if mark is not None else 0)
        if (mark is None or mark.seq is None) and alarm is not None:
            if mark is None or mark.alarm_ms is None:
                alarm.delete_now(reason="sb.rewind()")
            elif alarm.time_ms != mark.alarm_ms:
                alarm.set_now(mark.alarm_ms)
    world.event_log.emit("sandbox.rewind", f"rewound to {cp.label} "
                         f"({describe_ms(cp.time_ms)}): every object restarted")
    return cp
