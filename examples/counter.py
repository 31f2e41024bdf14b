"""Cloudwerk's counter, ported to Python as written (run: python examples/counter.py)."""

from __future__ import annotations

import datetime as dt

from dosandbox import Sandbox, define_durable_object


async def init(ctx):
    stored = await ctx.storage.get("state")
    return stored if stored is not None else {"count": 0, "last_updated": dt.datetime.now()}


async def increment(ctx, amount: int = 1) -> int:
    ctx.state["count"] += amount
    ctx.state["last_updated"] = dt.datetime.now()
    await ctx.storage.put("state", ctx.state)
    return ctx.state["count"]


async def decrement(ctx, amount: int = 1) -> int:
    ctx.state["count"] -= amount
    ctx.state["last_updated"] = dt.datetime.now()
    await ctx.storage.put("state", ctx.state)
    return ctx.state["count"]


async def get_count(ctx) -> int:
    return ctx.state["count"]


async def reset(ctx) -> int:
    ctx.state["count"] = 0
    ctx.state["last_updated"] = dt.datetime.now()
    await ctx.storage.put("state", ctx.state)
    return 0


counter = define_durable_object(
    init=init,
    methods={
        "increment": increment,
        "decrement": decrement,
        "get_count": get_count,
        "reset": reset,
    },
)


def main() -> None:
    sb = Sandbox()
    sb.register("counter", counter)
    stub = sb.durable_objects.counter.get("user-123")
    print("increment(5) ->", sb.run(stub.increment(5)))
    print("get_count() ->", sb.run(stub.get_count()))
    print("decrement(2) ->", sb.run(stub.decrement(2)))
    print("reset() ->", sb.run(stub.reset()))


if __name__ == "__main__":
    main()
