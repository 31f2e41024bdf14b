"""The Worker in front holds its ctx.wait_until work until it ends and cancels it on close; a
cancelled request is no Worker error; a failing close hook does not stop the sandbox closing."""

from __future__ import annotations

import asyncio
import gc

import pytest

from dosandbox import Response, Sandbox


def test_wait_until_work_is_kept_until_done_and_cancelled_when_the_sandbox_closes() -> None:
    """The loop keeps only weak references to tasks: the Front keeps the work, close ends it."""
    finished: list[str] = []

    async def fetch(request, env, ctx):  # type: ignore[no-untyped-def]
        async def slow() -> None:
            try:
                await asyncio.sleep(3600)
            finally:
                finished.append("unwound")

        ctx.wait_until(slow())
        return Response("ok")

    sb = Sandbox(worker=fetch)
    assert sb.run(sb.fetch("/")).status == 200
    gc.collect()
    (task,) = sb._front.waiting  # still held, not collected
    sb.close()
    assert task.cancelled() and finished == ["unwound"]


def test_a_cancelled_request_is_not_logged_as_a_worker_error() -> None:
    """Cancelling a request (a client that left) leaves no worker.error event."""
    async def fetch(request, env, ctx):  # type: ignore[no-untyped-def]
        raise asyncio.CancelledError

    with Sandbox(worker=fetch) as sb:
        with pytest.raises(asyncio.CancelledError):
            sb.run(sb.fetch("/"))
        assert not [e for e in sb.event_log if e.kind == "worker.error"]


def test_a_failing_close_hook_still_closes_storage_and_the_other_hooks() -> None:
    """A close hook that raises is logged; the rest of close() runs."""
    ran: list[str] = []
    sb = Sandbox()
    sb._on_close.append(lambda: ran.append("first"))
    sb._on_close.append(lambda: 1 / 0)
    sb.close()
    assert ran == ["first"] and sb.closed and sb.loop.is_closed()
