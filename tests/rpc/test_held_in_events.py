"""Stubs an object receives over RPC inside an alarm or a socket handler go when that event
ends, as the platform disposes them with the event; nothing keeps a closed sandbox alive."""

from __future__ import annotations

from dosandbox import DurableObject, RpcTarget, Sandbox
from dosandbox._runtime import rpc


class Token(RpcTarget):
    disposed = 0

    def ping(self) -> str:
        return "pong"

    def __dispose__(self) -> None:
        Token.disposed += 1


class Maker(DurableObject):
    def make(self) -> Token:
        return Token()


class Caller(DurableObject):
    async def arm(self) -> None:
        await self.ctx.storage.set_alarm(1_000)

    async def alarm(self) -> None:
        token = await self.env.MAKER.get("m").make()
        assert await token.ping() == "pong"


def test_a_stub_received_in_an_alarm_is_disposed_when_the_alarm_ends() -> None:
    """The target's dispose hook runs once the alarm that held its stub is done."""
    Token.disposed = 0
    with Sandbox() as sb:
        sb.register("maker", Maker)
        sb.register("caller", Caller)
        sb.run(sb.durable_objects.caller.get("a").arm())
        sb.clock.advance(seconds=2)
        assert Token.disposed == 1
        assert not rpc.held_in_events


def test_a_closed_sandbox_is_not_kept_alive_by_held_stubs() -> None:
    """After close, no held-stub entry keeps the sandbox's world reachable."""
    sb = Sandbox()
    sb.register("maker", Maker)
    sb.register("caller", Caller)
    sb.run(sb.durable_objects.caller.get("a").arm())
    sb.clock.advance(seconds=2)
    sb.close()
    assert not rpc.held_in_events
