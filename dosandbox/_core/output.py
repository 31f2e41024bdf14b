"""What object code prints goes to whoever drives the sandbox now.

ipykernel sends a ``print`` to the cell (or widget callback) whose request is the *parent
header* held in a context variable of ``sys.stdout`` (``OutStream._parent_header``). asyncio
copies the context into every task and timer when it is made, so a task started by cell 1 (a
call left in flight, an alarm armed there) keeps cell 1's header: its prints would land two
screens up, under cell 1, when cell 5 moves the clock.

So for the length of each outermost drive, ``sys.stdout`` and ``sys.stderr`` are wrapped in a
:class:`RoutedStream` that writes with the *driver's* parent header (read when the drive
starts, in the caller's context), or into a sink a view set (the clock bar's output area).
Nothing changes outside drives, in plain scripts and under pytest (streams that are not
ipykernel's are left alone unless a sink is set), and nothing runs per event: only writes pay.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["OutputRouter", "RoutedStream", "Sink"]

# A view's sink: ``sink(stream_name, text)``, stream_name "stdout" or "stderr".
Sink = Callable[[str, str], None]


def _kernel_stream(stream: Any) -> bool:
    """Is ``stream`` ipykernel's OutStream (it routes by a parent header it can be given)?"""
    kind = type(stream)
    return hasattr(kind, "set_thread_parent") and hasattr(kind, "reset_thread_parent")


class RoutedStream:
    """``sys.stdout``/``sys.stderr`` during a drive: writes go where the driver is."""

    def __init__(self, inner: Any, name: str, header: Any, sink: Sink | None) -> None:
        self._inner = inner
        self._name = name
        self._header = header
        self._sink = sink

    def write(self, text: str) -> int:
        if self._sink is not None:
            self._sink(self._name, text)
            return len(text)
        inner = self._inner
        if self._header is None:
            return int(inner.write(text) or 0)
        # Set in the running task's own context and undone at once: only this write moves.
        token = inner.set_thread_parent(self._header)
        try:
            return int(inner.write(text) or 0)
        finally:
            inner.reset_thread_parent(token)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._sink is None:
            self._inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class OutputRouter:
    """Wraps the process's streams for the outermost drive of one sandbox."""

    def __init__(self) -> None:
        self.sink: Sink | None = None
        self._saved: tuple[Any, Any, RoutedStream, RoutedStream] | None = None

    @contextmanager
    def capture(self, sink: Sink) -> Iterator[None]:
        """While it runs, what object code prints in a drive goes to ``sink`` instead."""
        previous, self.sink = self.sink, sink
        try:
            yield
        finally:
            self.sink = previous

    def enter(self) -> None:
        """The outermost drive starts: route writes to its caller (or to the sink)."""
        out: Any = sys.stdout
        err: Any = sys.stderr
        sink = self.sink
        if sink is None and not _kernel_stream(out):
            return
        header = out.parent_header if sink is None else None
        routed_out = RoutedStream(out, "stdout", header, sink)
        routed_err = RoutedStream(
            err, "stderr", header if _kernel_stream(err) else None, sink
        )
        self._saved = (out, err, routed_out, routed_err)
        sys.stdout, sys.stderr = routed_out, routed_err  # type: ignore[assignment]

    def exit(self) -> None:
        """The drive ended: give the streams back (idempotent; leaves others' swaps alone)."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        out, err, routed_out, routed_err = saved
        if sys.stdout is routed_out:
            sys.stdout = out
        if sys.stderr is routed_err:
            sys.stderr = err
