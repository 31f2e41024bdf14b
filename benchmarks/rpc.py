"""RPC round trips, as ratios against awaiting the same plain coroutine on a bare loop.

Run: python benchmarks/rpc.py. Targets (issue 2): notebook side ≥ 40,000 calls/s,
object-to-object ≥ 80,000 calls/s. Capabilities (issue 16): a callback round trip (the object
calls a function it was passed) and a pipelined call (``make_counter(1).inc()``: a target
returned and called in one await), each as a ratio against a plain RPC measured in this run.
"""

from __future__ import annotations

import asyncio
import time

from dosandbox import DurableObject, RpcTarget, Sandbox

N = 50_000


class Counter(DurableObject):
    def __init__(self, ctx, env) -> None:  # type: ignore[no-untyped-def]
        super().__init__(ctx, env)
        self.n = 0

    async def increment(self) -> int:
        self.n += 1
        return self.n


class Tally(RpcTarget):
    def __init__(self, n: int) -> None:
        self._n = n

    def inc(self) -> int:
        self._n += 1
        return self._n


class Hub(DurableObject):
    async def call_back(self, cb) -> int:  # type: ignore[no-untyped-def]
        return await cb()

    def make_tally(self, n: int) -> Tally:
        return Tally(n)


class Caller(DurableObject):
    async def hammer(self, n: int) -> float:
        target = self.env.COUNTER.get("c")
        start = time.perf_counter()
        for _ in range(n):
            await target.increment()
        return time.perf_counter() - start

    async def hammer_callback(self, n: int) -> float:
        hub = self.env.HUB.get("h")

        def one() -> int:
            return 1
        start = time.perf_counter()
        for _ in range(n):
            await hub.call_back(one)
        return time.perf_counter() - start

    async def hammer_pipelined(self, n: int) -> float:
        hub = self.env.HUB.get("h")
        start = time.perf_counter()
        for _ in range(n):
            await hub.make_tally(0).inc()
        return time.perf_counter() - start


async def plain() -> int:
    return 1


def baseline(n: int) -> float:
    """Awaiting a plain coroutine n times on a bare event loop."""
    async def loop_body() -> float:
        start = time.perf_counter()
        for _ in range(n):
            await plain()
        return time.perf_counter() - start

    return asyncio.run(loop_body())


def baseline_run_each(n: int) -> float:
    """A fresh task per call, run to completion on a bare loop (what a driver must do)."""
    loop = asyncio.new_event_loop()
    start = time.perf_counter()
    for _ in range(n):
        loop.run_until_complete(plain())
    elapsed = time.perf_counter() - start
    loop.close()
    return elapsed


def notebook_side(n: int) -> float:
    sb = Sandbox()
    sb.register("counter", Counter)
    stub = sb.durable_objects.counter.get("c")
    sb.run(stub.increment())
    start = time.perf_counter()
    for _ in range(n):
        sb.run(stub.increment())
    return time.perf_counter() - start


def notebook_await(n: int) -> float:
    """`await stub.increment()` from a coroutine on another running loop, as in a Jupyter cell."""
    sb = Sandbox()
    sb.register("counter", Counter)
    stub = sb.durable_objects.counter.get("c")

    async def cell() -> float:
        await stub.increment()
        start = time.perf_counter()
        for _ in range(n):
            await stub.increment()
        return time.perf_counter() - start

    return asyncio.run(cell())


def object_to_object(n: int) -> float:
    sb = Sandbox()
    sb.register("counter", Counter)
    sb.register("caller", Caller)
    return sb.run(sb.durable_objects.caller.get("x").hammer(n))


def _capability_sandbox() -> Sandbox:
    sb = Sandbox()
    sb.register("counter", Counter)
    sb.register("caller", Caller)
    sb.register("hub", Hub)
    return sb


def notebook_callback(n: int) -> float:
    """The object calls back a notebook function it was passed: one RPC plus one callback."""
    sb = _capability_sandbox()
    hub = sb.durable_objects.hub.get("h")
    sb.run(hub.call_back(lambda: 1))
    start = time.perf_counter()
    for _ in range(n):
        sb.run(hub.call_back(lambda: 1))
    return time.perf_counter() - start


def notebook_pipelined(n: int) -> float:
    """``sb.run(hub.make_tally(0).inc())``: a target returned and called in one drive."""
    sb = _capability_sandbox()
    hub = sb.durable_objects.hub.get("h")
    start = time.perf_counter()
    for _ in range(n):
        sb.run(hub.make_tally(0).inc())
    return time.perf_counter() - start


def object_callback(n: int) -> float:
    sb = _capability_sandbox()
    return sb.run(sb.durable_objects.caller.get("x").hammer_callback(n))


def object_pipelined(n: int) -> float:
    sb = _capability_sandbox()
    return sb.run(sb.durable_objects.caller.get("x").hammer_pipelined(n))


def best(fn, n: int, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    return min(fn(n) for _ in range(repeats))


def main() -> None:
    base = best(baseline, N)
    base_run = best(baseline_run_each, N // 5)
    nb = best(notebook_side, N // 5)
    nb_await = best(notebook_await, N // 5)
    o2o = best(object_to_object, N)
    rate = lambda seconds, n: n / seconds  # noqa: E731
    print(f"baseline await plain coroutine     : {rate(base, N):>12,.0f} /s")
    print(f"baseline loop.run_until_complete   : {rate(base_run, N // 5):>12,.0f} /s")
    print(
        f"notebook-side RPC (sb.run)         : {rate(nb, N // 5):>12,.0f} /s  "
        f"ratio vs await {rate(nb, N // 5) / rate(base, N):.3f}, "
        f"vs run_until_complete {rate(nb, N // 5) / rate(base_run, N // 5):.2f}  "
        "(target ≥ 40,000/s)"
    )
    print(
        f"notebook-side RPC (await in a loop): {rate(nb_await, N // 5):>12,.0f} /s  "
        f"ratio vs await {rate(nb_await, N // 5) / rate(base, N):.3f}  (target ≥ 40,000/s)"
    )
    print(
        f"object-to-object RPC (await stub)  : {rate(o2o, N):>12,.0f} /s  "
        f"ratio vs await {rate(o2o, N) / rate(base, N):.3f}  (target ≥ 80,000/s)"
    )
    m = N // 5
    for label, fn, plain_rate in (
        ("notebook-side callback round trip ", notebook_callback, rate(nb, m)),
        ("notebook-side pipelined call      ", notebook_pipelined, rate(nb, m)),
        ("object-to-object callback trip    ", object_callback, rate(o2o, N)),
        ("object-to-object pipelined call   ", object_pipelined, rate(o2o, N)),
    ):
        r = rate(best(fn, m), m)
        print(f"{label}: {r:>12,.0f} /s  ratio vs plain RPC {r / plain_rate:.2f}")


if __name__ == "__main__":
    main()
