"""How fast the inspector opens on a big object, and how many refreshes a burst costs.

1. An object with 1,000,000 KV keys and a 100,000-row SQL table: time to open the inspector
   with its first page rendered (State, then KV, then SQL tab). Target ≤ 0.5 s each. Printed
   against a baseline measured in the same run: opening it on an empty object.
2. A burst of 10,000 events into an open inspector, as a notebook cell makes them (each call
   its own drive, the kernel's asyncio loop running): target ≤ 20 refreshes. Also the same
   burst inside a single drive, and with no view open (no work at all).

Run: python benchmarks/widgets.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

from dosandbox import Sandbox, define_durable_object
from dosandbox.widgets import Inspector
from dosandbox.widgets._live import hub_for

KEYS = 1_000_000
ROWS = 100_000
BURST = 10_000


async def _fill(ctx: Any, start: int, n: int) -> None:
    ctx.sql.exec("CREATE TABLE IF NOT EXISTS readings (id INTEGER PRIMARY KEY, sensor TEXT, "
                 "value REAL)")
    for i in range(start, start + n):
        ctx.sql.exec("INSERT INTO readings (sensor, value) VALUES (?, ?)", f"s{i % 97}", i / 7)


async def _touch(ctx: Any) -> int:
    return 1


def _sandbox() -> Sandbox:
    sb = Sandbox(start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), seed=0)
    sb.register("big", define_durable_object(methods={"fill": _fill, "touch": _touch}))
    return sb


def _open(sb: Sandbox, stub: Any) -> dict[str, float]:
    times = {}
    t0 = time.perf_counter()
    w = Inspector(sb.inspect(stub))
    times["open (State tab)"] = time.perf_counter() - t0
    for tab in ("KV", "SQL"):
        t0 = time.perf_counter()
        w.select_tab(tab)
        times[f"{tab} tab first page"] = time.perf_counter() - t0
    assert w.last_error is None, w.last_error
    w.close()
    return times


def main() -> None:
    sb = _sandbox()
    empty = sb.durable_objects.big.get("empty")
    sb.run(empty.touch())
    _open(sb, empty)  # warm-up: the first open pays for importing pandas and ipywidgets
    baseline = _open(sb, empty)

    stub = sb.durable_objects.big.get("big")
    handle = sb.inspect(stub)
    t0 = time.perf_counter()
    for start in range(0, KEYS, 100_000):
        handle.seed_kv({f"key:{i:07d}": {"n": i, "label": f"item {i}"}
                        for i in range(start, start + 100_000)})
    for start in range(0, ROWS, 10_000):
        sb.run(stub.fill(start, 10_000))
    print(f"setup: {KEYS:,} keys and {ROWS:,} rows in {time.perf_counter() - t0:.1f} s")
    assert handle.kv_count() == KEYS

    big = _open(sb, stub)
    print("\nopening the inspector (target ≤ 0.5 s each; baseline: an empty object)")
    for name, seconds in big.items():
        ratio = seconds / baseline[name] if baseline[name] else float("inf")
        ok = "ok" if seconds <= 0.5 else "SLOW"
        print(f"  {name:<22} {seconds * 1000:8.1f} ms   empty {baseline[name] * 1000:7.1f} ms"
              f"   ×{ratio:5.2f}  {ok}")

    # --- a burst of events ----------------------------------------------------------------
    counter = sb.durable_objects.big.get("counter")
    sb.run(counter.touch())
    w = Inspector(sb.inspect(counter))
    hub = hub_for(sb)

    async def cell() -> None:  # a notebook cell: the kernel's loop is running
        for _ in range(BURST):  # each call logs its event: one drive per call
            await counter.touch()
        await asyncio.sleep(0)

    first, before = sb.event_log.last_seq, w.refresh_count
    t0 = time.perf_counter()
    asyncio.run(cell())
    elapsed = time.perf_counter() - t0
    events = sb.event_log.last_seq - first
    print(f"\nburst of {events:,} events from {BURST:,} calls in one cell: "
          f"{w.refresh_count - before} refresh(es) (target ≤ 20), {elapsed:.2f} s")

    async def many() -> None:
        await asyncio.gather(*(counter.touch() for _ in range(BURST)))

    first, before = sb.event_log.last_seq, w.refresh_count
    sb.run(many())
    print(f"burst of {sb.event_log.last_seq - first:,} events in one drive: "
          f"{w.refresh_count - before} refresh(es)")

    w.close()
    t0 = time.perf_counter()
    asyncio.run(cell())
    closed = time.perf_counter() - t0
    print(f"same cell with no view open: {closed:.2f} s (with the inspector open: "
          f"{elapsed:.2f} s, ×{elapsed / closed:.2f}); subscribed: {hub.subscribed}")
    sb.close()


if __name__ == "__main__":
    main()
