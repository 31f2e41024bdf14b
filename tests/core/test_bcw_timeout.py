"""block_concurrency_while() times out after 30 s and resets the object.

Platform (reference §3, workerd io-context blockConcurrencyWhileImpl): "A call to
blockConcurrencyWhile() in a Durable Object waited for too long. The call was canceled and the
Durable Object was reset."
"""
import asyncio
import datetime as dt

import pytest

from dosandbox import DurableObject, Sandbox
from dosandbox.errors import DurableObjectError


class Slow(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)

        async def load():
            await asyncio.sleep(45)  # longer than the platform's 30 s limit

        ctx.block_concurrency_while(load)

    async def ping(self):
        return "pong"


def test_block_concurrency_while_over_30s_resets_object():
    """A callback still running after 30 s resets the object; the queued call fails."""
    sb = Sandbox(start=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), seed=0,
                 clock_mode="autojump")
    try:
        stub = sb.register("slow", Slow).get("a")
        with pytest.raises(DurableObjectError):
            sb.run(stub.ping())
    finally:
        sb.close()
