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

# time-machine is imported on the first drive, not with dosandbox: it imports pytest (for its
# plugin), which would add ~150 ms to `import dosandbox`.
time_machine: Any = None
_time_machine: Any = None
_FAST = False


def _load() -> bool:
    global time_machine, _time_machine, _FAST
    if time_machine is None:
        try:
            import _time_machine as c_ext  # type: ignore[import-not-found]
            import time_machine as tm
        except ImportError:  # pragma: no cover - time-machine is a dependency
            return False
        time_machine, _time_machine = tm, c_ext
        _FAST = hasattr(tm, "traveller_stack") and hasattr(tm, "Traveller")
    return True


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
        if self.active or (time_machine is None and not _load()):
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
