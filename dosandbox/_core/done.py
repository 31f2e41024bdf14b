"""An awaitable that has already finished: what storage writes return.

On the platform ``storage.put(...)`` starts its work when it is called and returns a promise;
code may drop the promise (``void storage.put(...)``) and the write still happens. A Python
coroutine does nothing until awaited, so writes do their work at call time and return a
:class:`Done`: awaiting it gives the result at once and never suspends (the input gate stays
closed, as when the write was a coroutine that never suspended). It has a coroutine's
methods too (``send``/``throw``/``close``), so ``asyncio.create_task(storage.put(...))`` and
``asyncio.gather`` take it as they took the coroutine it replaces.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Generic, TypeVar

__all__ = ["DONE", "Done"]

T = TypeVar("T")


class Done(Generic[T]):
    """The finished result of a call whose work is already done; ``await`` returns it."""

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value = value

    def __await__(self) -> Generator[Any, None, T]:
        return self._value
        yield  # a generator that returns at once: `await` never suspends

    # The coroutine protocol (collections.abc.Coroutine): one step that finishes at once.
    def send(self, value: object) -> Any:
        raise StopIteration(self._value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if val is None:
            val = typ if isinstance(typ, BaseException) else typ()
        raise val.with_traceback(tb) if tb is not None else val

    def close(self) -> None:
        """Nothing to clean up: the work is done."""

    def done(self) -> bool:
        """Always True (as ``asyncio.Future.done``): the work happened at call time."""
        return True

    def result(self) -> T:
        """The call's result, without awaiting."""
        return self._value

    def __repr__(self) -> str:
        return f"<Done {self._value!r}>"


DONE: Done[None] = Done(None)
