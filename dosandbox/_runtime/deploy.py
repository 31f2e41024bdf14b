"""Registering a name again is a deploy: new code for every object of the namespace.

What the platform does after a deploy (Cloudflare's "Durable Objects code updates" and
"Lifecycle" pages, and the WebSocket Hibernation API page), and what the sandbox does at once:

* An object that is not running starts on the new code with its next event. An idle object
  (nothing in flight, no ``wait_until`` work, no standard-API socket) keeps its old code only
  until it hibernates (the default ``deferred`` code update strategy), then wakes on the new
  code: in-memory state is gone; storage, the alarm and hibernatable sockets stay. The sandbox
  does that hibernation now, so the next event runs the new ``init``.
* An object that cannot hibernate (an event in flight, ``wait_until`` work, a socket accepted
  with ``ws.accept()``) is reset when the update applies ("Durable Object reset because its
  code was updated."): its events in flight fail with that error, and every WebSocket it holds
  closes (the platform: "Code updates will disconnect all WebSockets"). The sandbox applies the
  update at once, as ``--durable-objects-code-update-mode immediate`` does.
* Stubs held across the deploy keep working: their next call reaches the new code (a new
  Worker request on the platform gets a new stub anyway; the sandbox keeps the notebook's).

The class name stays the namespace's: a different class under a taken name would be a rename,
which the platform only does through a migration (``renamed_classes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.errors import ConfigError
from .._core.record import DropReason, ObjectRecord
from .object import rpc_methods
from .parts import existing_sockets

if TYPE_CHECKING:
    from .namespace import Namespace
    from .object import DurableObject

__all__ = ["CODE_UPDATED_MESSAGE", "redeploy"]

CODE_UPDATED_MESSAGE = "Durable Object reset because its code was updated."


def redeploy(namespace: Namespace, cls: type[DurableObject]) -> tuple[int, int]:
    """Give ``namespace`` the new class ``cls``; returns (instances restarted, instances reset).

    Raises ConfigError, changing nothing, when ``cls`` has another class name.
    """
    from .namespace import rpc_properties

    if cls.__name__ != namespace.class_name:
        raise ConfigError(
            f"{namespace.name!r} is registered with class {namespace.class_name}; registering "
            f"class {cls.__name__} under it would rename the class, which the platform only "
            f"does through a migration (renamed_classes in wrangler). Keep the class name "
            f"{namespace.class_name} to deploy new code under {namespace.name!r}, or register "
            f"{cls.__name__} under a name of its own.",
            object_name=namespace.name,
        )
    namespace.cls = cls
    namespace.methods = rpc_methods(cls)
    namespace.properties = rpc_properties(cls)
    restarted = reset = 0
    for record in list(namespace.records.values()):
        outcome = _restart(record)
        if outcome == "restarted":
            restarted += 1
        elif outcome == "reset":
            reset += 1
    return restarted, reset


def _restart(record: ObjectRecord) -> str:
    """Drop the live instance of ``record`` for the new code: "restarted", "reset" or ""."""
    instance = record.instance
    if instance is None:
        return ""
    sockets = existing_sockets(record)
    standard = len(sockets.standard) if sockets is not None else 0
    hibernatable = len(sockets.sockets) if sockets is not None else 0
    background = sum(1 for task in instance.background if not task.done())
    busy = instance.in_flight or not instance.gate.is_open or background or standard
    number = instance.generation
    if not busy:
        record.drop_instance(DropReason.REDEPLOYED)
        kept = f", {hibernatable} hibernatable socket(s)" if hibernatable else ""
        record.emit(
            "redeployed",
            f"instance #{number} restarted on the new code: in-memory state dropped; storage, "
            f"alarm{kept} kept (the next event runs the new init)",
        )
        return "restarted"
    why = []
    if instance.in_flight:
        why.append(f"{instance.in_flight} event(s) in flight")
    if background:
        why.append(f"{background} wait_until task(s)")
    if standard:
        why.append(f"{standard} standard-API socket(s)")
    if not why:
        why.append("block_concurrency_while running")
    instance.replaced = True
    record.reset(instance, DropReason.CODE_UPDATED, CODE_UPDATED_MESSAGE)
    closed = standard + hibernatable
    lost = (["its events in flight failed"] if instance.in_flight else []) + (
        [f"{closed} WebSocket(s) closed (1006)"] if closed else [])
    record.emit(
        "redeployed",
        f"instance #{number} reset by the deploy ({', '.join(why)}: it could not hibernate "
        f"first): {CODE_UPDATED_MESSAGE} " + (_sentence(", ".join(lost)) + "; " if lost else "")
        + "storage and the alarm kept",
    )
    return "reset"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
