"""transaction() holds other events' storage calls, so its rollback never eats their writes.

Platform (reference §3): transaction() runs under blockConcurrencyWhile, so no other event (nor
the continuation of one suspended on I/O) runs until it settles; a throw rolls back only the
transaction's own writes.
"""
import asyncio
import contextlib

from dosandbox import DurableObject
from dosandbox.errors import WaitingOnTimeError


class Obj(DurableObject):
    async def slow(self):
        await asyncio.sleep(1)
        await self.ctx.storage.put("slow", "written")
        return "ok"

    async def txn(self):
        async def fn(txn):
            await txn.put("t", 1)
            await asyncio.sleep(2)
            raise ValueError("roll back my own write")

        await self.ctx.storage.transaction(fn)

    async def read(self):
        return await self.ctx.storage.get(["slow", "t"])


def test_rollback_keeps_other_events_committed_write(do_sandbox):
    """A write acknowledged by another event survives a later transaction rollback."""
    stub = do_sandbox.register("obj", Obj).get("a")
    for call in (stub.slow(), stub.txn()):
        with contextlib.suppress(WaitingOnTimeError):
            do_sandbox.run(call)
    do_sandbox.clock.advance(seconds=3)
    # slow() returned "ok" at t=1 s (see the event log): its write must not vanish.
    assert any(e.message == "slow done" for e in do_sandbox.event_log.select(kind="rpc"))
    assert do_sandbox.run(stub.read()) == {"slow": "written"}
