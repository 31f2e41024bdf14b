"""Child processes for the reliability tests: ``python children.py NAME ARGS...``.

Each prints one JSON line of measurements at the end (or ``ready`` and waits, for ``hold``),
so the parent checks numbers measured in a clean process with its own limits.

* ``hold FOLDER``: open a persisted sandbox, write once, print ``ready``, sleep until killed.
* ``fds FOLDER N``: under RLIMIT_NOFILE=256, write to N persisted objects, read all back,
  reopen the folder (register restores their alarms); peak descriptors and timings.
* ``memory CALLS FAILS EVICTS``: RSS growth over EVICTS in-memory objects written once and
  evicted, CALLS RPC calls and FAILS failing calls (each holding a 64 KB local), in that order:
  failing last, as the event log dropping its entries would free memory the others reuse.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from dosandbox import DurableObject, DurableObjectMethodError, Sandbox

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class Box(DurableObject):
    async def write(self, value: int) -> None:
        await self.ctx.storage.put("value", value)
        self.ctx.sql.exec("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
        self.ctx.sql.exec("INSERT INTO t VALUES (?)", value)
        if value % 10 == 0:
            await self.ctx.storage.set_alarm(START_MS + 3_600_000 + value)

    async def read(self) -> Any:
        rows = self.ctx.sql.exec("SELECT v FROM t").to_list()
        return [await self.ctx.storage.get("value"), [r["v"] for r in rows]]

    def echo(self, value: Any) -> Any:
        return value

    async def relay(self, calls: int) -> int:
        other = self.env.BOX.get("echo")
        for i in range(calls):
            await other.echo(i)
        return calls

    def fail(self) -> None:
        big = bytearray(64 * 1024)  # a frame local that a kept traceback would keep alive
        raise ValueError(f"failing on purpose ({len(big)} bytes held)")

    async def alarm(self, info: Any = None) -> None:
        pass


def _fds() -> int:
    return len(os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"))


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def hold(folder: str) -> None:
    sb = Sandbox(start=START_MS, seed=0, persist=folder)
    sb.register("box", Box)
    sb.run(sb.durable_objects.box.get("held").write(1))
    print("ready", flush=True)
    time.sleep(600)


def fds(folder: str, count: str) -> None:
    import resource

    n = int(count)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    base = _fds()
    peak = 0
    sb = Sandbox(start=START_MS, seed=0, persist=folder)
    sb.register("box", Box)
    ns = sb.durable_objects.box
    started = time.perf_counter()
    for i in range(n):
        sb.run(ns.get(f"b{i}").write(i))
        peak = max(peak, _fds() - base)
    wrote = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(n):
        assert sb.run(ns.get(f"b{i}").read()) == [i, [i]], i
        peak = max(peak, _fds() - base)
    read = time.perf_counter() - started
    sb.close()
    again = Sandbox(start=START_MS, seed=0, persist=folder)
    started = time.perf_counter()
    again.register("box", Box)
    register = time.perf_counter() - started
    after_register = _fds() - base
    alarms = again.pending_alarm_count()
    again.close()
    print(json.dumps({"objects": n, "peak_fds": peak, "fds_after_register": after_register,
                      "alarms": alarms, "write_s": round(wrote, 2), "read_s": round(read, 2),
                      "register_s": round(register, 3)}))


def memory(calls: str, fails: str, evicts: str) -> None:
    sb = Sandbox(start=START_MS, seed=0)
    sb.register("box", Box)
    ns = sb.durable_objects.box
    stub = ns.get("caller")

    def fail(times: int) -> None:
        for _ in range(times):
            with contextlib.suppress(DurableObjectMethodError):
                sb.run(stub.fail())

    # Warm up: the event log (10,000 entries) fills and every code path has run once.
    sb.run(stub.relay(20_000))
    fail(200)
    for i in range(200):
        sb.run(ns.get(f"warm{i}").write(i))
        sb.inspect(ns.get(f"warm{i}")).evict()
    gc.collect()
    results: dict[str, float] = {}
    before = _rss_mib()
    for i in range(int(evicts)):
        target = ns.get(f"e{i}")
        sb.run(target.write(i))
        sb.inspect(target).evict()
    gc.collect()
    results["evicted_mib"] = _rss_mib() - before
    before = _rss_mib()
    done = 0
    while done < int(calls):
        done += sb.run(stub.relay(min(100_000, int(calls) - done)))
    gc.collect()
    results["rpc_mib"] = _rss_mib() - before
    before = _rss_mib()
    fail(int(fails))
    gc.collect()
    results["failing_mib"] = _rss_mib() - before
    results["evicted_kib_each"] = results["evicted_mib"] * 1024 / max(1, int(evicts))
    sb.close()
    print(json.dumps({k: round(v, 1) for k, v in results.items()}))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    {"hold": hold, "fds": fds, "memory": memory}[sys.argv[1]](*sys.argv[2:])
