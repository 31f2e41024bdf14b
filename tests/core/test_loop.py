"""The sandbox loop's lean call_soon/call_at/create_task keep asyncio's behaviour."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from dosandbox import Sandbox
from dosandbox._core.clock import ms_for_loop_time

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")


def _drive(sb: Sandbox, fn: Any) -> Any:
    """Run ``fn(loop)`` inside a drive (the loop is the running loop there)."""

    async def inside() -> Any:
        return fn(asyncio.get_running_loop())

    return sb.run(inside())


def test_callbacks_run_in_order_with_their_context() -> None:
    """call_soon/call_at run in asyncio's order, each in the context it was given (or a copy)."""
    sb = Sandbox()
    seen: list[tuple[str, str]] = []

    def schedule(loop: asyncio.AbstractEventLoop) -> None:
        ctx = contextvars.copy_context()
        ctx.run(var.set, "given")
        var.set("current")
        loop.call_later(0.5, lambda: seen.append(("later", var.get())))
        loop.call_soon(lambda: seen.append(("soon-1", var.get())))
        loop.call_soon(lambda: seen.append(("soon-2", var.get())), context=ctx)

    _drive(sb, schedule)
    sb.clock.advance(seconds=1)
    assert seen == [("soon-1", "current"), ("soon-2", "given"), ("later", "current")]
    sb.close()


def test_cancelled_timer_never_runs_and_tasks_are_real_tasks() -> None:
    """A cancelled call_at never runs; create_task gives an asyncio.Task that current_task sees."""
    sb = Sandbox()
    ran: list[str] = []

    async def body() -> bool:
        loop = asyncio.get_running_loop()
        timer = loop.call_later(1, ran.append, "timer")
        timer.cancel()
        task = loop.create_task(asyncio.sleep(0, "done"))
        inner = loop.create_task(_current_is_self())
        return isinstance(task, asyncio.Task) and await task == "done" and await inner

    assert sb.run(body()) is True
    sb.clock.advance(seconds=2)
    assert ran == []
    sb.close()


async def _current_is_self() -> bool:
    task = asyncio.current_task()
    return task is not None and not task.done()


def test_a_failing_callback_reaches_the_exception_handler_and_the_loop_goes_on() -> None:
    """A callback that raises is reported as asyncio reports it; later callbacks still run."""
    sb = Sandbox()
    ran: list[str] = []

    def boom() -> None:
        raise ValueError("boom")

    _drive(sb, lambda loop: (loop.call_soon(boom), loop.call_soon(ran.append, "after")))
    errors = [e for e in sb.event_log if e.kind == "error"]
    assert ran == ["after"]
    assert "Exception in callback" in errors[-1].message
    assert "ValueError: boom" in errors[-1].message
    sb.close()


def test_debug_mode_uses_asyncios_own_handles() -> None:
    """With loop debug on, handles carry asyncio's source tracebacks (its own code path)."""
    sb = Sandbox()
    sb.loop.set_debug(True)
    handles = _drive(sb, lambda loop: (loop.call_soon(lambda: None), loop.call_later(1, print)))
    assert all(h._source_traceback for h in handles)
    handles[1].cancel()
    sb.loop.set_debug(False)
    sb.close()


def test_named_tasks_keep_their_name() -> None:
    """create_task(name=...) goes through asyncio's own create_task and keeps the name."""
    sb = Sandbox()

    async def body() -> str:
        task = asyncio.get_running_loop().create_task(asyncio.sleep(0), name="worker")
        await task
        return task.get_name()

    assert sb.run(body()) == "worker"
    sb.close()


@pytest.mark.parametrize(
    ("when", "expected"),
    [(0.0, 0), (1.0, 1000), (0.0015, 2), (0.1 + 0.2, 300), (1.0000004e-3, 1), (2.5e-3, 3)],
)
def test_ms_for_loop_time_is_the_first_whole_ms_at_or_after(when: float, expected: int) -> None:
    """Loop seconds → the first whole ms at or after, ignoring float dust (0.1 + 0.2 → 300)."""
    assert ms_for_loop_time(0, when) == expected


def test_eager_task_runs_its_first_step_before_returning_and_as_itself() -> None:
    """create_eager_task runs the first step at once, as the task; inside a task it queues."""
    sb = Sandbox()
    steps: list[str] = []

    async def body(tag: str) -> None:
        steps.append(f"{tag} first, own task: {asyncio.current_task() is not None}")
        await asyncio.sleep(0)
        steps.append(f"{tag} second")

    def from_callback(loop: Any) -> None:
        task = loop.create_eager_task(body("eager"))
        steps.append(f"returned, done={task.done()}")

    async def from_task() -> None:
        loop: Any = asyncio.get_running_loop()
        loop.create_eager_task(body("queued"))
        steps.append("returned inside a task")

    sb.loop.call_soon(from_callback, sb.loop)
    sb.run(asyncio.sleep(0))
    sb.run(from_task())
    sb.run(asyncio.sleep(0))
    assert steps == [
        "eager first, own task: True",
        "returned, done=False",
        "eager second",
        "returned inside a task",
        "queued first, own task: True",
        "queued second",
    ]
    sb.close()
