"""An RPC promise is sent once: a later await or a pipelined step shares its outcome."""

from __future__ import annotations

import pytest

from dosandbox import DurableObject, RpcTarget, Sandbox


class Counter(RpcTarget):
    def __init__(self, n: int) -> None:
        self._n = n

    def inc(self) -> int:
        self._n += 1
        return self._n


class Maker(DurableObject):
    made = 0

    def make_counter(self, n: int) -> Counter:
        Maker.made += 1
        return Counter(n)

    def boom(self) -> None:
        Maker.made += 1
        raise ValueError("no")


@pytest.fixture
def maker() -> object:
    Maker.made = 0
    sb = Sandbox()
    sb.register("maker", Maker)
    yield sb, sb.durable_objects.maker.get("m")
    sb.close()


def test_an_awaited_call_then_a_pipelined_step_sends_the_call_once(maker: object) -> None:
    """`c = s.make(); await c; await c.inc()` calls make once, as an RpcPromise does in workerd."""
    sb, stub = maker  # type: ignore[misc]

    async def main() -> tuple[int, int]:
        call = stub.make_counter(1)
        await call
        return await call.inc(), await call.inc()

    assert sb.run(main()) == (2, 3)
    assert Maker.made == 1


def test_awaiting_a_call_twice_gives_the_same_result_without_sending_again(maker: object) -> None:
    """A second await of one call returns its result again (the same stub)."""
    sb, stub = maker  # type: ignore[misc]

    async def main() -> bool:
        call = stub.make_counter(5)
        return (await call) is (await call)

    assert sb.run(main()) is True
    assert Maker.made == 1


def test_a_failed_call_awaited_again_raises_its_error_again(maker: object) -> None:
    """The error of the one send comes back on every await; the method ran once."""
    sb, stub = maker  # type: ignore[misc]

    async def main() -> None:
        call = stub.boom()
        for _ in range(2):
            with pytest.raises(ValueError, match="no"):
                await call

    sb.run(main())
    assert Maker.made == 1


def test_a_pipeline_step_awaited_then_followed_is_sent_once(maker: object) -> None:
    """A pipelined step awaited, then used again, runs its method once."""
    sb, stub = maker  # type: ignore[misc]

    async def main() -> tuple[int, int]:
        step = stub.make_counter(10).inc()
        first = await step
        return first, await step

    assert sb.run(main()) == (11, 11)
    assert Maker.made == 1
