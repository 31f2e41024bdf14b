"""The server's own life: two servers of one sandbox share the wall clock, a failed or stopped
plain-script server leaves no event loop open, a shutdown stops waiting for silent clients."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings

import pytest

from dosandbox import Sandbox
from dosandbox.errors import ServeError


def test_the_clock_follows_the_wall_until_the_last_server_of_a_sandbox_stops() -> None:
    """Stopping one of two servers keeps realtime; the last one puts manual back."""
    async def main() -> None:
        with Sandbox() as sb:
            first, second = sb.serve(port=0), sb.serve(port=0)
            first.stop()
            assert sb.clock.mode == "realtime"
            second.stop()
            assert sb.clock.mode == "manual"
            await first.wait_stopped()
            await second.wait_stopped()

    asyncio.run(main())


def _unclosed_loop_warnings(make: object) -> list[warnings.WarningMessage]:
    gc.collect()  # garbage of earlier tests (a sandbox never closed) warns now, not below
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        make()  # type: ignore[operator]
        gc.collect()
    return [w for w in seen if "unclosed event loop" in str(w.message)]


def test_a_plain_script_server_that_cannot_bind_leaves_no_loop_open() -> None:
    """A port in use raises ServeError before the server makes an event loop of its own."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]

    def fail() -> None:
        with Sandbox() as sb, pytest.raises(ServeError):
            sb.serve(port=port)

    try:
        assert _unclosed_loop_warnings(fail) == []
    finally:
        holder.close()


def test_a_plain_script_server_stopped_without_serving_closes_its_loop() -> None:
    """stop() without serve_forever() closes the loop the server made."""
    def serve_and_stop() -> None:
        with Sandbox() as sb:
            server = sb.serve(port=0)
            server.stop()
            assert server._loop.is_closed()

    assert _unclosed_loop_warnings(serve_and_stop) == []


def test_a_shutdown_stops_waiting_for_a_client_that_never_finishes() -> None:
    """Waits left at the shutdown timeout are cancelled, not left pending on the loop."""
    async def main() -> None:
        with Sandbox() as sb:
            server = sb.serve(port=0)
            await asyncio.sleep(0)

            class Silent:  # a connection whose Close never completes
                def going_away(self) -> None: ...

                def close_wire(self) -> None: ...

                async def finished(self) -> None:
                    await asyncio.Event().wait()  # never set

            server._sockets[Silent()] = None  # type: ignore[index]
            import dosandbox._notebook.server as server_module

            old, server_module.SHUTDOWN_TIMEOUT = server_module.SHUTDOWN_TIMEOUT, 0.05
            try:
                server.stop()
                await asyncio.wait_for(server.wait_stopped(), 5)
            finally:
                server_module.SHUTDOWN_TIMEOUT = old
            await asyncio.sleep(0)
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()
                    and "finished" in repr(t)]
            assert left == []

    asyncio.run(main())
