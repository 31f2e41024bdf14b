"""The seed's two alarm examples, as written (snake_case), firing exactly when the clock says.

Seed (000_efc217b3e3168211.txt), "Alarms": init schedules ``Date.now() + 60_000``; ``alarm``
processes pending work, counts, and re-arms a minute later. "Cleanup with Alarms": ``alarm``
deletes messages older than 24 hours with storage.list/delete and re-arms an hour later.
Inside object code ``time.time()`` reads the virtual clock, so ``Date.now()`` ports directly.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from dosandbox import Sandbox, define_durable_object

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
START_MS = int(START.timestamp() * 1000)


async def process_pending_tasks(ctx: Any) -> None:
    pending = await ctx.storage.list(prefix="task:")
    if pending:
        await ctx.storage.delete(list(pending))
        done = await ctx.storage.get("done") or 0
        await ctx.storage.put("done", done + len(pending))


async def init(ctx: Any) -> dict[str, int]:
    # Schedule first alarm
    await ctx.set_alarm(time.time() * 1000 + 60_000)  # 1 minute
    return {"processed_count": 0}


async def alarm(ctx: Any) -> None:
    # Process pending work
    await process_pending_tasks(ctx)
    ctx.set_state({"processed_count": ctx.state["processed_count"] + 1})
    # Schedule next alarm
    await ctx.set_alarm(time.time() * 1000 + 60_000)


async def add_task(ctx: Any, name: str) -> None:
    await ctx.storage.put(f"task:{name}", {"name": name})


async def stats(ctx: Any) -> dict[str, Any]:
    return {"processed_count": ctx.state["processed_count"],
            "done": await ctx.storage.get("done") or 0}


def test_periodic_processing_fires_every_minute(do_sandbox: Sandbox) -> None:
    """The first alarm fires 60 s after init, then every 60 s, each exactly on the minute."""
    do_sandbox.register("worker", define_durable_object(
        init=init, alarm=alarm, methods={"add_task": add_task, "stats": stats}))
    worker = do_sandbox.durable_objects.worker.get("w")
    do_sandbox.run(worker.add_task("a"))
    do_sandbox.run(worker.add_task("b"))
    assert do_sandbox.inspect(worker).alarm["time_ms"] == START_MS + 60_000

    assert do_sandbox.clock.advance(seconds=59).fired == []
    report = do_sandbox.clock.advance(seconds=1)
    assert [(e.kind, e.time_ms) for e in report.fired] == [
        ("alarm.fired", START_MS + 60_000), ("alarm.set", START_MS + 60_000)
    ]
    assert do_sandbox.run(worker.stats()) == {"processed_count": 1, "done": 2}

    do_sandbox.run(worker.add_task("c"))
    report = do_sandbox.clock.advance(minutes=10)
    fired_at = [e.time_ms - START_MS for e in report.fired if e.kind == "alarm.fired"]
    assert fired_at == [60_000 * m for m in range(2, 12)]
    assert do_sandbox.run(worker.stats()) == {"processed_count": 11, "done": 3}
    assert do_sandbox.inspect(worker).alarm["time_ms"] == START_MS + 12 * 60_000


async def cleanup_alarm(ctx: Any) -> None:
    # Clean up stale data
    messages = await ctx.storage.list(prefix="msg:")
    stale_threshold = time.time() * 1000 - 24 * 60 * 60 * 1000  # 24 hours
    stale_keys = []
    for key, msg in messages.items():
        if dt.datetime.fromisoformat(msg["timestamp"]).timestamp() * 1000 < stale_threshold:
            stale_keys.append(key)
    if len(stale_keys) > 0:
        await ctx.storage.delete(stale_keys)
    # Schedule next cleanup
    await ctx.set_alarm(time.time() * 1000 + 60 * 60 * 1000)  # 1 hour


async def post(ctx: Any, text: str) -> None:
    now = dt.datetime.now(dt.UTC)
    await ctx.storage.put(f"msg:{now.isoformat()}", {"text": text, "timestamp": now.isoformat()})
    if await ctx.get_alarm() is None:
        await ctx.set_alarm(time.time() * 1000 + 60 * 60 * 1000)


async def texts(ctx: Any) -> list[str]:
    return [m["text"] for m in (await ctx.storage.list(prefix="msg:")).values()]


def test_hourly_cleanup_deletes_messages_older_than_a_day(do_sandbox: Sandbox) -> None:
    """Hourly cleanup: a message goes at the first hourly run more than 24 h after it was posted."""
    do_sandbox.register("room", define_durable_object(
        alarm=cleanup_alarm, methods={"post": post, "texts": texts}))
    room = do_sandbox.durable_objects.room.get("r")
    do_sandbox.run(room.post("old"))  # 00:00
    do_sandbox.clock.advance(hours=12, minutes=30)
    do_sandbox.run(room.post("newer"))  # 12:30
    report = do_sandbox.clock.advance(hours=24)  # to day 2, 12:30
    runs = [e.time_ms for e in report.fired if e.kind == "alarm.fired"]
    assert [(t - START_MS) // 3_600_000 for t in runs] == list(range(13, 37))  # every hour
    # "old" was 24 h old at 24:00 but not *older*; the 25:00 run deleted it.
    assert do_sandbox.run(room.texts()) == ["newer"]
    deleted_at = next(e.time_ms for e in do_sandbox.event_log
                      if e.kind == "kv.delete" and "msg:" in e.message)
    assert deleted_at == START_MS + 25 * 3_600_000
    do_sandbox.clock.advance(hours=12)
    assert do_sandbox.run(room.texts()) == []
