"""The 32 MiB limit on one RPC message holds for capability calls too (workerd, checked
2026-12-03: a callback's or a target method's argument of 32 MiB + 1 fails with "Serialized RPC
arguments or return values are limited to 32MiB", not remote; a too-big target result fails
remote); 32 MiB - 1 KiB passes, and the stub keeps working after a refusal."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import DataCloneError, DurableObject, RpcTarget, Sandbox

MIB32 = 32 * 1024 * 1024


class Sink(RpcTarget):
    def take(self, text: str) -> int:
        return len(text)

    def give(self, n: int) -> str:
        return "x" * n


class Caller(DurableObject):
    async def call_back(self, cb: Any, n: int) -> Any:
        try:
            return await cb("y" * n)
        except DataCloneError as exc:
            return f"refused, remote={exc.remote}: {exc}"

    def sink(self) -> Sink:
        return Sink()


@pytest.fixture
def sb() -> Any:
    with Sandbox() as box:
        box.register("caller", Caller)
        yield box


def test_a_callback_argument_over_32_mib_is_refused_where_it_is_sent(sb: Sandbox) -> None:
    """An object calling a notebook callback with 32 MiB + 1 gets the platform's error, not
    remote; just under the limit passes."""
    caller = sb.durable_objects.caller.get("c")
    assert sb.run(caller.call_back(len, MIB32 - 1024)) == MIB32 - 1024
    answer = sb.run(caller.call_back(len, MIB32 + 1))
    assert answer.startswith("refused, remote=False:")
    assert "Serialized RPC arguments or return values are limited to 32MiB" in answer
    assert sb.run(caller.call_back(len, 3)) == 3


def test_a_target_method_argument_over_32_mib_is_refused_at_the_call(sb: Sandbox) -> None:
    """Calling a target's method with 32 MiB + 1 raises DataCloneError naming the method."""
    sink = sb.run(sb.durable_objects.caller.get("c").sink())
    with pytest.raises(DataCloneError, match=r"limited to 32MiB.*take\(\)") as info:
        sink.take("z" * (MIB32 + 1))
    assert not info.value.remote
    assert sb.run(sink.take("z" * 10)) == 10


def test_a_target_result_over_32_mib_fails_remote(sb: Sandbox) -> None:
    """A target method whose result passes the limit fails with remote=True, as in workerd."""
    sink = sb.run(sb.durable_objects.caller.get("c").sink())
    with pytest.raises(DataCloneError, match="limited to 32MiB") as info:
        sb.run(sink.give(MIB32 + 1))
    assert info.value.remote
    assert sb.run(sink.give(4)) == "xxxx"
