"""set_alarm()/delete_alarm() inside a rolled-back transaction are undone with it.

On SQLite-backed objects the alarm lives in the database metadata, and every storage call
inside transaction() is part of it (reference §4, §6).
"""
import contextlib
import datetime as dt

from dosandbox import DurableObject, Sandbox

START_MS = 1767225600000  # 2026-01-01T00:00Z


class Obj(DurableObject):
    fired = 0

    async def go(self):
        async def fn(txn):
            await txn.put("k", 1)
            await txn.set_alarm(START_MS + 60_000)
            raise ValueError("roll back")

        with contextlib.suppress(ValueError):
            await self.ctx.storage.transaction(fn)
        return await self.ctx.storage.get("k"), await self.ctx.storage.get_alarm()

    async def alarm(self, info=None):
        type(self).fired += 1


def test_rolled_back_set_alarm_is_not_scheduled(do_sandbox):
    """After the rollback neither the put nor the alarm exists, and nothing fires."""
    Obj.fired = 0
    stub = do_sandbox.register("obj", Obj).get("a")
    assert do_sandbox.run(stub.go()) == (None, None)
    do_sandbox.clock.advance(minutes=2)
    assert Obj.fired == 0


def test_rolled_back_set_alarm_memory_matches_disk(tmp_path):
    """With persist=, what get_alarm() reports agrees with what a reopened sandbox finds."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    sb = Sandbox(start=start, seed=0, persist=tmp_path)
    stub = sb.register("obj", Obj).get("a")
    _, in_memory = sb.run(stub.go())
    sb.close()
    sb2 = Sandbox(start=start, seed=0, persist=tmp_path)
    sb2.register("obj", Obj)
    handle = sb2.inspect(sb2.durable_objects.obj.get("a"))
    on_disk = None if handle.alarm is None else handle.alarm["time_ms"]
    sb2.close()
    assert in_memory == on_disk
