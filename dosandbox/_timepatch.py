"""Virtual ``time.time()`` and ``datetime.now()`` while object code runs.

Code ported from Workers reads the clock with ``Date.now() + 60_000``; in Python that is
``time.time()`` or ``datetime.now()``. While the sandbox drives its loop, those read the virtual
clock; outside a drive they read the real one.

time-machine's public ``travel().start()/stop()`` costs about 16 µs a call (it resets uuid
state every time), which is most of an RPC round trip. We use its lower layer instead: the C
patch (0.2 µs) plus one reusable ``Traveller`` pushed on its stack for the drive. Should a
future time-machine change those internals, we fall back to the public API.
"""

from __future__ import annotations

from typing import Any

try:  # pragma: no branch
    import _time_machine  # type: ignore[import-not-found]
    import time_machine

    _FAST = hasattr(time_machine, "traveller_stack") and hasattr(time_machine, "Traveller")
except ImportError:  # pragma: no cover - time-machine is a dependency
    time_machine = None  # type: ignore[assignment]
    _FAST = False


class VirtualWallClock:
    """Makes the wall-clock functions read ``now_ms`` between :meth:`enter` and :meth:`exit`."""

    def __init__(self, now_ms: int) -> None:
        self._now_ns = now_ms * 1_000_000
        self._traveller: Any = None
        self._public: Any = None
        self.active = False

    def set_ms(self, now_ms: int) -> None:
        self._now_ns = now_ms * 1_000_000
        if self._traveller is not None:
            if _FAST:
                self._traveller._destination_timestamp_ns = self._now_ns
            else:  # pragma: no cover
                self._traveller.move_to(self._now_ns / 1e9)

    def enter(self) -> None:
        if self.active or time_machine is None:
            return
        if _FAST:
            if self._traveller is None:
                self._traveller = time_machine.Traveller(self._now_ns, None, False)
            self._traveller._destination_timestamp_ns = self._now_ns
            if not time_machine.traveller_stack:
                _time_machine.patch()
            time_machine.traveller_stack.append(self._traveller)
        else:  # pragma: no cover
            self._public = time_machine.travel(self._now_ns / 1e9, tick=False)
            self._traveller = self._public.start()
        self.active = True

    def exit(self) -> None:
        if not self.active:
            return
        self.active = False
        if _FAST:
            stack = time_machine.traveller_stack
            if stack and stack[-1] is self._traveller:
                stack.pop()
            if not stack:
                _time_machine.unpatch()
        else:  # pragma: no cover
            self._public.stop()
            self._traveller = None
