"""An alarm moved while it is being delivered is cancelled, and runs at its new time.

workerd (conformance scenario alarm-moved-by-constructor; workerd logs "SQLite alarm handler
canceled with requestScheduledAlarm"): an evicted object woken by its alarm runs its
constructor first; a constructor that sets the alarm again moves it, and the handler does not
run for the old time. Cloudflare's docs (alarms, TTL example) warn about exactly this.
"""

from __future__ import annotations

import time
from typing import Any

from dosandbox import DurableObject, Sandbox

runs: list[int] = []


class Expiring(DurableObject):
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        move = ctx.storage.kv.get("move_ms")
        if move is not None:
            ctx.block_concurrency_while(lambda: self._move(move))

    async def _move(self, move_ms: int) -> None:
        await self.ctx.storage.set_alarm(time.time() * 1000 + move_ms)

    async def arm(self, in_ms: int, move_ms: int | None) -> None:
        if move_ms is not None:
            self.ctx.storage.kv.put("move_ms", move_ms)
        await self.ctx.storage.set_alarm(time.time() * 1000 + in_ms)

    async def alarm(self) -> None:
        self.ctx.storage.kv.delete("move_ms")
        runs.append(int(time.time() * 1000))


def start(sb: Sandbox, move_ms: int | None) -> Any:
    runs.clear()
    sb.register("expiring", Expiring)
    stub = sb.durable_objects.expiring.get_by_name("e")
    sb.run(stub.arm(1_000, move_ms))
    assert sb.inspect(stub).evict()
    return stub


def test_constructor_moves_the_alarm_it_was_woken_by() -> None:
    """The handler does not run at the old time; it runs once, at the new time."""
    with Sandbox() as sb:
        t0 = sb.clock.now_ms
        stub = start(sb, move_ms=5_000)
        sb.clock.advance(seconds=2)
        assert runs == []
        handle = sb.inspect(stub)
        assert handle.alarm is not None and handle.alarm["time_ms"] == t0 + 1_000 + 5_000
        messages = list(sb.events()["message"])
        assert any("alarm handler not run: the alarm was moved" in m for m in messages)
        sb.clock.advance(seconds=5)
        assert runs == [t0 + 6_000]
        assert handle.alarm is None


def test_an_untouched_alarm_still_runs_after_eviction() -> None:
    """Without a move the woken object runs its handler at the time set."""
    with Sandbox() as sb:
        t0 = sb.clock.now_ms
        start(sb, move_ms=None)
        sb.clock.advance(seconds=2)
        assert runs == [t0 + 1_000]


def test_a_constructor_that_deletes_the_alarm_cancels_the_run() -> None:
    """Deleting the alarm in the constructor of the woken object: nothing runs, none pending."""

    class Deleting(Expiring):
        def __init__(self, ctx: Any, env: Any) -> None:
            DurableObject.__init__(self, ctx, env)
            ctx.storage.delete_alarm()

    with Sandbox() as sb:
        runs.clear()
        sb.register("deleting", Deleting)
        stub = sb.durable_objects.deleting.get_by_name("d")
        sb.run(stub.arm(1_000, None))  # the constructor ran before arm() set it
        assert sb.inspect(stub).evict()
        sb.clock.advance(seconds=3)
        assert runs == []
        assert sb.inspect(stub).alarm is None
