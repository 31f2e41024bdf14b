"""Where an object's in-flight events wait: the line of user code each one is parked at.

An event in flight is a task suspended somewhere inside the object's code (a timer, a call to
another object, a future). Its coroutine chain (``cr_await`` links) says where: the user frames
on it are the method and whatever it called, the last frame is what it waits on. Events that
have not started because ``block_concurrency_while`` holds the input gate wait at the gate.
Reading the chain changes nothing; it only looks at suspended frames.
"""

from __future__ import annotations

import asyncio
import gc
import linecache
import os
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from .._core import record as _record

__all__ = ["InFlight", "in_flight_events"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ASYNCIO_DIR = os.path.dirname(os.path.abspath(asyncio.__file__))
_C_ITERATORS = ("FutureIter", "coroutine_wrapper")
_MAX_LINKS = 200  # a chain deeper than this is cut (never seen in practice)


@dataclass(frozen=True)
class InFlight:
    """One event in flight: ``where`` it waits (user code) and ``waits_on`` (what it awaits)."""

    method: str
    where: str
    waits_on: str
    chain: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        return f"{self.method}: waits at {self.where} on {self.waits_on}"


def _is_user_frame(frame: FrameType) -> bool:
    path = os.path.abspath(frame.f_code.co_filename)
    return not (path.startswith(_PACKAGE_DIR + os.sep) or path.startswith(_ASYNCIO_DIR + os.sep))


def _frames(task: asyncio.Task[Any]) -> tuple[list[FrameType], Any]:
    """The suspended frames of ``task``, outermost first, and the last thing awaited."""
    frames: list[FrameType] = []
    link: Any = task.get_coro()
    for _ in range(_MAX_LINKS):
        if isinstance(link, asyncio.Task):
            link = link.get_coro()  # block_concurrency_while runs its callback in a task
            continue
        frame = getattr(link, "cr_frame", None) or getattr(link, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        nxt = getattr(link, "cr_await", None)
        if nxt is None:
            nxt = getattr(link, "gi_yieldfrom", None)
        if nxt is None:
            break
        if type(nxt).__name__ in _C_ITERATORS:
            # C iterators hide what they iterate: ``await future`` suspends on the future's
            # iterator (the future: a task when block_concurrency_while runs the callback in
            # its own), ``yield from coro.__await__()`` on a wrapper of the coroutine.
            # (Which referent comes first differs between Python versions: pick by kind.)
            referents = gc.get_referents(nxt)
            nxt = next((r for r in referents if isinstance(r, asyncio.Future)
                        or hasattr(r, "cr_frame") or hasattr(r, "gi_frame")), nxt)
        link = nxt
    return frames, link


def _line(frame: FrameType) -> str:
    code = frame.f_code
    source = linecache.getline(code.co_filename, frame.f_lineno).strip()
    where = f"{code.co_name}()"
    return f"{where}: {source}" if source else f"{where} line {frame.f_lineno}"


def _waits_on(frames: list[FrameType], last: Any) -> str:
    for frame in reversed(frames):
        if frame.f_code.co_name == "sleep" and not _is_user_frame(frame):
            return "a timer (asyncio.sleep): it resumes when the clock reaches it"
        if _is_user_frame(frame):
            break
    if isinstance(last, asyncio.Future):
        return "a future nobody has resolved yet"
    return "something outside the object"


def _describe(task: asyncio.Task[Any]) -> InFlight | None:
    frames, last = _frames(task)
    user = [f for f in frames if _is_user_frame(f)]
    if not user:
        return None
    return InFlight(
        method=user[0].f_code.co_name,
        where=_line(user[-1]),
        waits_on=_waits_on(frames, last),
        chain=tuple(_line(f) for f in user),
    )


def in_flight_events(instance: Any) -> tuple[list[InFlight], int]:
    """The events of ``instance`` parked in its code, and how many wait at its input gate."""
    found = []
    for task, stack in list(_record._delivering.items()):
        if task.done() or instance not in stack:
            continue
        # Only the object's own events: an RPC into this object from another one counts here
        # too (it runs in the caller's task), its chain starting in the caller's method.
        described = _describe(task)
        if described is not None:
            found.append(described)
    return found, int(instance.gate.queued)
