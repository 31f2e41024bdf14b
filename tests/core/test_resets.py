"""Resets as workerd does them: ctx.abort(), a failing block_concurrency_while or constructor.

Checked in workerd (Miniflare 4.20260426, compat 2026-04-26): the caller's error carries
``durableObjectReset`` (not ``remote``); every later call through the stub that reached the
reset instance fails with the same message, fetch included; a stub made before the reset but
not used yet, or a new stub, reaches a fresh instance (constructor again, storage kept).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from dosandbox import DurableObject, Request, Response, Sandbox, define_durable_object
from dosandbox.errors import (
    DurableObjectError,
    DurableObjectMethodError,
    DurableObjectResetError,
    ValidationError,
)

DEFAULT = "Application called abort() to reset Durable Object."


class Thing(DurableObject):
    built = 0

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        Thing.built += 1
        self.count = 0

    async def inc(self) -> dict[str, int]:
        self.count += 1
        stored = (await self.ctx.storage.get("n") or 0) + 1
        await self.ctx.storage.put("n", stored)
        return {"count": self.count, "stored": stored}

    def halt(self, reason: Any = None) -> str:
        try:
            if reason is None:
                self.ctx.abort()
            else:
                self.ctx.abort(reason)
        except Exception:  # abort() cannot be caught, as in JavaScript
            return "caught"
        return "returned"

    def halt_with(self, reason: Any) -> None:
        self.ctx.abort(reason)

    async def nap(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "slept"

    async def failing_block(self) -> None:
        async def boom() -> None:
            raise TypeError("typed boom")

        await self.ctx.block_concurrency_while(boom)

    def failing_block_not_awaited(self) -> str:
        async def boom() -> None:
            raise RuntimeError("later boom")

        self.ctx.block_concurrency_while(boom)
        return "returned"

    async def fetch(self, request: Request) -> Response:
        if request.url.endswith("/abort"):
            self.ctx.abort("fetch abort")
        return Response(f"count {self.count}")


@pytest.fixture
def sb() -> Any:
    sb = Sandbox(seed=0, clock_mode="autojump")
    sb.register("thing", Thing)
    yield sb
    sb.close()


def test_abort_without_reason_uses_workerds_message_and_flags(sb: Sandbox) -> None:
    """abort() gives the caller workerd's default message, durable_object_reset, not remote."""
    stub = sb.durable_objects.thing.get("a")
    sb.run(stub.inc())
    with pytest.raises(DurableObjectResetError) as info:
        sb.run(stub.halt())
    err = info.value
    assert err.message.startswith(DEFAULT)
    assert err.durable_object_reset and err.durableObjectReset
    assert not err.remote and not err.retryable and not err.overloaded
    assert err.code == "OBJECT_RESET" and err.object_name == "thing"
    assert "new stub" in str(err)


def test_the_stub_that_saw_the_reset_keeps_failing_fetch_too(sb: Sandbox) -> None:
    """Every later call and fetch through the old stub fails with the same reason, each time."""
    ns = sb.durable_objects.thing
    stub = ns.get("a")
    sb.run(stub.inc())
    with pytest.raises(DurableObjectResetError, match="my reason"):
        sb.run(stub.halt("my reason"))
    for call in (stub.inc, stub.inc, lambda: stub.fetch("http://do/")):
        with pytest.raises(DurableObjectResetError) as info:
            sb.run(call())
        assert info.value.message.startswith("my reason")
        assert info.value.durable_object_reset
    assert sb.run(ns.get("a").inc()) == {"count": 1, "stored": 2}  # fresh instance, storage kept
    with pytest.raises(DurableObjectResetError, match="my reason"):
        sb.run(stub.inc())  # still broken after a new stub reached the new instance


def test_abort_stops_the_code_and_a_new_stub_runs_the_constructor_again(sb: Sandbox) -> None:
    """Code after abort() never runs (except Exception cannot catch it); init runs again."""
    ns = sb.durable_objects.thing
    stub = ns.get("a")
    sb.run(stub.inc())
    built = Thing.built
    with pytest.raises(DurableObjectResetError):
        sb.run(stub.halt())
    fresh = ns.get_by_name("a")
    assert sb.run(fresh.inc())["count"] == 1
    assert Thing.built == built + 1
    assert sb.inspect(fresh).instance_number == 2


def test_only_stubs_that_reached_the_reset_instance_stay_broken(sb: Sandbox) -> None:
    """A stub used before the reset fails; one made before but never used reaches a new one."""
    ns = sb.durable_objects.thing
    first, used, unused = ns.get("a"), ns.get("a"), ns.get("a")
    sb.run(first.inc())
    sb.run(used.inc())
    with pytest.raises(DurableObjectResetError):
        sb.run(first.halt())
    with pytest.raises(DurableObjectResetError, match="Application called abort"):
        sb.run(used.inc())
    assert sb.run(unused.inc()) == {"count": 1, "stored": 3}


def test_in_flight_calls_fail_with_the_reset(sb: Sandbox) -> None:
    """A call sleeping on another stub fails with the reset error when the object aborts."""
    ns = sb.durable_objects.thing
    waiter, aborter = ns.get("a"), ns.get("a")
    sb.run(aborter.inc())

    async def both() -> list[Any]:
        return list(await asyncio.gather(waiter.nap(5), aborter.halt("mid"),
                                         return_exceptions=True))

    results = sb.run(both())
    assert all(isinstance(r, DurableObjectResetError) for r in results)
    assert all(r.message.startswith("mid") for r in results)
    assert sb.run(ns.get("a").inc())["count"] == 1


def test_abort_in_fetch_is_remote_for_that_caller(sb: Sandbox) -> None:
    """workerd marks the fetch caller's reset error remote too; later calls are not remote."""
    stub = sb.durable_objects.thing.get("f")
    with pytest.raises(DurableObjectResetError) as info:
        sb.run(stub.fetch("http://do/abort"))
    assert info.value.remote and info.value.durable_object_reset
    with pytest.raises(DurableObjectResetError) as again:
        sb.run(stub.inc())
    assert not again.value.remote and again.value.message.startswith("fetch abort")


def test_failing_block_concurrency_while_resets_with_the_callbacks_error(sb: Sandbox) -> None:
    """The caller sees the callback's error (type kept) as a reset; the stub stays broken."""
    ns = sb.durable_objects.thing
    stub = ns.get("b")
    sb.run(stub.inc())
    with pytest.raises(DurableObjectResetError) as info:
        sb.run(stub.failing_block())
    err = info.value
    assert isinstance(err, TypeError) and isinstance(err.__cause__, TypeError)
    assert "typed boom" in err.message and err.durable_object_reset and not err.remote
    with pytest.raises(DurableObjectResetError, match="typed boom"):
        sb.run(stub.inc())
    assert sb.run(ns.get("b").inc()) == {"count": 1, "stored": 2}


def test_a_block_that_fails_after_the_call_returned_breaks_later_calls(sb: Sandbox) -> None:
    """Not awaited: the call returns; the block then fails and resets (workerd does the same)."""
    stub = sb.durable_objects.thing.get("c")
    assert sb.run(stub.failing_block_not_awaited()) == "returned"
    with pytest.raises(DurableObjectResetError, match="later boom"):
        sb.run(stub.inc())


def test_a_constructor_that_raises_resets_and_breaks_that_stub() -> None:
    """workerd: the constructor's error, durable_object_reset, not remote; a new stub retries."""
    state = {"fail": True}

    class Fragile(DurableObject):
        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            if state["fail"]:
                raise TypeError("ctor boom")

        def ping(self) -> str:
            return "pong"

    with Sandbox(seed=0) as sb:
        ns = sb.register("fragile", Fragile)
        stub = ns.get("x")
        with pytest.raises(DurableObjectResetError) as info:
            sb.run(stub.ping())
        assert isinstance(info.value, TypeError) and "ctor boom" in info.value.message
        assert info.value.durable_object_reset and not info.value.remote
        state["fail"] = False
        with pytest.raises(DurableObjectResetError, match="ctor boom"):
            sb.run(stub.ping())
        assert sb.run(ns.get("x").ping()) == "pong"


def test_a_failing_init_resets_like_a_failing_block() -> None:
    """The cloudwerk API's init runs under block_concurrency_while: raising there resets."""
    calls: list[int] = []

    def init(ctx: Any) -> dict[str, int]:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("bad init")
        return {"n": 0}

    with Sandbox(seed=0) as sb:
        sb.register("counter", define_durable_object(init=init, methods={"get": lambda c: c.state}))
        stub = sb.durable_objects.counter.get("c")
        with pytest.raises(DurableObjectResetError, match="bad init"):
            sb.run(stub.get())
        assert sb.run(sb.durable_objects.counter.get("c").get()) == {"n": 0}


def test_abort_refuses_a_reason_that_is_not_text(sb: Sandbox) -> None:
    """abort(42) is a ValidationError inside the object; the object is not reset."""
    stub = sb.durable_objects.thing.get("v")
    sb.run(stub.inc())
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(stub.halt_with(42))
    assert isinstance(info.value.__cause__, ValidationError)
    assert "reason string" in str(info.value.__cause__)
    assert sb.run(stub.inc()) == {"count": 2, "stored": 2}


def test_abort_from_outside_object_code_is_refused(sb: Sandbox) -> None:
    """ctx.abort() from the notebook says how to reset from inside; nothing is dropped."""
    stub = sb.durable_objects.thing.get("o")
    sb.run(stub.inc())
    ctx = sb.inspect(stub).instance.ctx
    with pytest.raises(ValidationError, match="inside its own code"):
        ctx.abort()
    assert sb.run(stub.inc()) == {"count": 2, "stored": 2}


def test_block_concurrency_timeout_is_overloaded_and_reset() -> None:
    """Past 30 s workerd's exact message, with overloaded and durable_object_reset set."""
    class Slow(DurableObject):
        async def slow(self) -> str:
            await self.ctx.block_concurrency_while(lambda: asyncio.sleep(45))
            return "done"

        def ping(self) -> str:
            return "pong"

    with Sandbox(seed=0, clock_mode="autojump") as sb:
        ns = sb.register("slow", Slow)
        stub = ns.get("s")
        with pytest.raises(DurableObjectResetError) as info:
            sb.run(stub.slow())
        err = info.value
        assert err.message.startswith(
            "A call to blockConcurrencyWhile() in a Durable Object waited for too long. "
            "The call was canceled and the Durable Object was reset."
        )
        assert err.overloaded and err.durable_object_reset
        with pytest.raises(DurableObjectResetError):
            sb.run(stub.ping())
        assert sb.run(ns.get("s").ping()) == "pong"


def test_user_error_flags_cross_as_workerd_keeps_own_properties(sb: Sandbox) -> None:
    """A user error arrives remote; its own retryable/overloaded flags are kept (workerd)."""
    class Flaky(DurableObject):
        def flaky(self) -> None:
            err = RuntimeError("try again")
            err.retryable = True  # type: ignore[attr-defined]
            raise err

        def plain(self) -> None:
            raise ValueError("no")

    sb.register("flaky", Flaky)
    stub = sb.durable_objects.flaky.get("f")
    with pytest.raises(DurableObjectMethodError) as info:
        sb.run(stub.flaky())
    assert info.value.remote and info.value.retryable and not info.value.overloaded
    with pytest.raises(DurableObjectMethodError) as plain:
        sb.run(stub.plain())
    err = plain.value
    assert err.remote and not err.retryable and not err.durable_object_reset
    assert (err.methodName, err.objectName, err.objectId) == ("plain", "flaky", str(stub.id))
    assert err.cause is err.__cause__ and isinstance(err.cause, ValueError)


# --- the docs' retry pattern, ported -----------------------------------------------------------


class Front(DurableObject):
    """The Worker of the docs' error-handling example: a new stub per attempt, retry only
    errors marked retryable (never overloaded ones), exponential backoff with jitter."""

    attempts = 0

    async def call_with_retries(self, name: str, method: str) -> Any:
        max_attempts, base_backoff_ms, max_backoff_ms = 3, 100, 20_000
        attempt = 0
        while True:
            Front.attempts += 1
            try:
                # A stub per attempt: some errors (a reset) break the stub that saw them.
                stub = self.env.BACK.get(name)
                return await getattr(stub, method)()
            except DurableObjectError as err:
                if not err.retryable or err.overloaded:
                    return f"gave up: {err.message.split(' (')[0]}"
            backoff_ms = min(max_backoff_ms, base_backoff_ms * random.random() * 2**attempt)
            attempt += 1
            if attempt >= max_attempts:
                return "gave up: too many attempts"
            await asyncio.sleep(backoff_ms / 1000)


class Back(DurableObject):
    failures_left = 2

    def transient(self) -> str:
        if Back.failures_left:
            Back.failures_left -= 1
            err = ConnectionError("network connection lost")
            err.retryable = True  # type: ignore[attr-defined]
            raise err
        return "ok"

    def broken(self) -> None:
        raise ValueError("example error")

    def halt(self) -> None:
        self.ctx.abort()

    async def swamped(self) -> None:
        await self.ctx.block_concurrency_while(lambda: asyncio.sleep(60))


@pytest.fixture
def retry_sb() -> Any:
    sb = Sandbox(seed=0, clock_mode="autojump")
    sb.register("front", Front)
    sb.register("back", Back)
    Front.attempts, Back.failures_left = 0, 2
    yield sb
    sb.close()


def test_retry_pattern_retries_retryable_errors_with_backoff(retry_sb: Sandbox) -> None:
    """Two retryable failures, then success: three attempts, the clock moved by the backoff."""
    start = retry_sb.clock.now_ms
    front = retry_sb.durable_objects.front.get("w")
    assert retry_sb.run(front.call_with_retries("b", "transient")) == "ok"
    assert Front.attempts == 3
    assert retry_sb.clock.now_ms > start


def test_retry_pattern_does_not_retry_user_errors_resets_or_overload(retry_sb: Sandbox) -> None:
    """A remote user error, a reset and an overloaded object each end after one attempt."""
    front = retry_sb.durable_objects.front.get("w")
    expected = {
        "broken": "gave up: back.broken() raised ValueError: example error",
        "halt": f"gave up: {DEFAULT}",
        "swamped": "gave up: A call to blockConcurrencyWhile() in a Durable Object waited for "
                   "too long. The call was canceled and the Durable Object was reset.",
    }
    for method, message in expected.items():
        Front.attempts = 0
        assert retry_sb.run(front.call_with_retries(method, method)) == message
        assert Front.attempts == 1


class Slow(DurableObject):
    """The callee: its method sleeps, then writes; a reset of its caller must not cut it."""

    async def work(self) -> str:
        await asyncio.sleep(1)
        await self.ctx.storage.put("done", True)
        return "finished"


class Caller(DurableObject):
    async def call_slow(self) -> str:
        result = await self.env.SLOW.get("s").work()
        await self.ctx.storage.put("after", result)  # never runs: this object was reset
        return result

    async def abort_me(self) -> None:
        await asyncio.sleep(0.5)
        self.ctx.abort("reset while the call waits")


def test_a_reset_does_not_cut_the_code_of_the_object_it_was_calling() -> None:
    """Aborting A while A awaits B: B's method finishes (and writes); A's caller sees the
    reset and A's code after the call never runs, as on the platform."""
    with Sandbox(clock_mode="autojump") as sb:
        sb.register("slow", Slow)
        sb.register("caller", Caller)
        a = sb.durable_objects.caller.get("a")

        async def both() -> list[Any]:
            return await asyncio.gather(a.call_slow(), a.abort_me(), return_exceptions=True)

        waiting, aborting = sb.run(both())
        assert isinstance(waiting, DurableObjectResetError)
        assert isinstance(aborting, DurableObjectResetError)
        slow = sb.inspect(sb.durable_objects.slow.get("s"))
        assert list(slow.kv["key"]) == ["done"]
        assert list(sb.inspect(a).kv["key"]) == []
        fresh = sb.durable_objects.caller.get("a")
        assert sb.run(fresh.call_slow()) == "finished"  # and everything still works


def test_an_evicted_instance_is_freed_while_stubs_remain() -> None:
    """Evicting drops the object's state even though a stub still refers to its instance."""
    import gc
    import weakref

    class Big(DurableObject):
        def __init__(self, ctx: Any, env: Any) -> None:
            super().__init__(ctx, env)
            self.blob = bytearray(1024)

        async def ping(self) -> int:
            return len(self.blob)

    with Sandbox() as sb:
        sb.register("big", Big)
        stub = sb.durable_objects.big.get("b")
        assert sb.run(stub.ping()) == 1024
        handle = sb.inspect(stub)
        alive = weakref.ref(handle.instance)
        assert handle.evict()
        gc.collect()
        assert alive() is None
        assert sb.run(stub.ping()) == 1024  # the stub reaches a new instance


class AlarmThenAbort(DurableObject):
    async def set_then_put_then_abort(self) -> None:
        await self.ctx.storage.put("warm", 1)  # storage open, committed in its own turn
        await asyncio.sleep(0)
        self.ctx.storage.set_alarm(4102444800000)
        self.ctx.storage.put("k", 1)
        self.ctx.abort()

    async def put_then_set_then_abort(self) -> None:
        await self.ctx.storage.put("warm", 1)
        await asyncio.sleep(0)
        self.ctx.storage.put("k", 1)
        self.ctx.storage.set_alarm(4102444800000)
        self.ctx.abort()

    async def alarm(self) -> None:
        pass


@pytest.mark.parametrize("method", ["set_then_put_then_abort", "put_then_set_then_abort"])
def test_a_reset_undoes_the_alarm_set_by_the_event_in_either_order(method: str) -> None:
    """abort() discards the event's uncommitted writes and its alarm, whatever the order."""
    with Sandbox(clock_mode="autojump") as sb:
        sb.register("alarm_then_abort", AlarmThenAbort)
        stub = sb.durable_objects.alarm_then_abort.get("x")
        with pytest.raises(DurableObjectResetError):
            sb.run(getattr(stub, method)())
        handle = sb.inspect(sb.durable_objects.alarm_then_abort.get("x"))
        assert handle.alarm is None
        assert list(handle.kv["key"]) == ["warm"]
