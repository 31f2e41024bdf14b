"""sb.serve() answers real HTTP clients (httpx over loopback): status, headers, bodies,
streaming, concurrency, the realtime clock, and bad input that leaves it serving."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import pytest

from dosandbox import Sandbox
from dosandbox.errors import ServeError


def test_status_headers_and_body_reach_both_ways(kit: Any) -> None:
    """A POST's method, headers and body reach the object; its status and headers come back."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient() as client:
            r = await client.post(f"{server.url}/api/a/echo?q=1", content=b"\x00hello",
                                  headers={"x-mine": "yes"})
            assert r.status_code == 201 and r.reason_phrase == "Created"
            assert r.content == b"\x00hello"
            assert r.headers["x-method"] == "POST" and r.headers["x-seen"] == "yes"
            assert r.headers["x-url"] == f"http://127.0.0.1:{server.port}/api/a/echo?q=1"
            r = await client.get(f"{server.url}/api/a/cookies")
            assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]

    kit.serve(scenario)


def test_storage_written_over_http_shows_in_the_handle(kit: Any) -> None:
    """Each request is one fetch event; the handle reads what they stored."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient() as client:
            for i in range(1, 4):
                r = await client.get(f"{server.url}/api/alice/count")
                assert r.json() == {"n": i}
        handle = sb.inspect(sb.durable_objects.api.get("alice"))
        assert handle.kv.set_index("key").loc["n", "value"] == 3
        assert server.requests == 3

    kit.serve(scenario)


def test_streaming_download_and_chunked_upload(kit: Any) -> None:
    """A 2 MiB body streams to the client in chunks; a chunked upload arrives whole."""
    async def chunks() -> Any:
        for i in range(64):
            yield bytes([i]) * 4096

    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient() as client:
            got = bytearray()
            pieces = 0
            async with client.stream("GET", f"{server.url}/api/a/big") as r:
                assert r.status_code == 200
                async for piece in r.aiter_bytes(65536):
                    got += piece
                    pieces += 1
            assert bytes(got) == bytes(range(256)) * 8192 and pieces > 1
            r = await client.post(f"{server.url}/api/a/echo", content=chunks())
            assert r.content == b"".join(bytes([i]) * 4096 for i in range(64))

    kit.serve(scenario)


def test_concurrent_clients_meet_one_object_one_event_at_a_time(kit: Any) -> None:
    """50 concurrent requests to one object each count once (the input gate holds)."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50)) as client:
            replies = await asyncio.gather(
                *(client.get(f"{server.url}/api/shared/count") for _ in range(50))
            )
        assert sorted(r.json()["n"] for r in replies) == list(range(1, 51))

    kit.serve(scenario)


def test_a_request_waiting_on_time_does_not_block_others(kit: Any) -> None:
    """A fetch sleeping 0.3 s (realtime clock) answers, and another object answers meanwhile."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient() as client:
            slow = asyncio.ensure_future(client.get(f"{server.url}/api/sleeper/sleep"))
            await asyncio.sleep(0.05)
            fast = await client.get(f"{server.url}/api/other/count")
            assert fast.json() == {"n": 1} and not slow.done()
            assert (await slow).text == "slept"

    kit.serve(scenario)


def test_serving_switches_the_clock_to_realtime_and_alarms_fire_on_wall_time(
    kit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """While serving the clock is realtime (an alarm 200 ms out fires); stop() restores manual."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        assert sb.clock.mode == "realtime" and sb.clock.following_wall_clock
        async with httpx.AsyncClient() as client:
            started = time.monotonic()
            assert (await client.get(f"{server.url}/api/a/alarm")).text == "set"
            for _ in range(100):  # on wall time: at least 0.2 s from now (slow machines: more)
                await asyncio.sleep(0.05)
                if (await client.get(f"{server.url}/api/a/fired")).json() == {"fired": True}:
                    break
            else:
                raise AssertionError("the alarm never fired on wall time")
            assert time.monotonic() - started >= 0.2  # not before its time

    sb = kit.serve(scenario)
    assert sb.clock.mode == "manual"
    said = capsys.readouterr().out
    assert "Serving on http://127.0.0.1:" in said and "realtime" in said
    assert any(e.kind == "serve" for e in sb.event_log.select())


def test_no_route_and_unknown_object_are_404s_naming_what_is_served(kit: Any) -> None:
    """/ and /nope/x/ answer 404 with the objects that exist; the server keeps serving."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"{server.url}/")
            assert r.status_code == 404 and "/api/<name>/" in r.text and "/room/<name>/" in r.text
            r = await client.get(f"{server.url}/nope/x/")
            assert r.status_code == 404 and "'nope'" in r.text and "api" in r.text
            assert (await client.get(f"{server.url}/api/a/count")).status_code == 200

    kit.serve(scenario)


def test_an_exception_in_fetch_is_a_500_and_the_server_keeps_serving(kit: Any) -> None:
    """A fetch that raises answers 500 with the error; the next request is answered."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient() as client:
            r = await client.get(f"{server.url}/api/a/bug")
            assert r.status_code == 500 and "RuntimeError: handler bug" in r.text
            assert (await client.get(f"{server.url}/api/a/count")).json() == {"n": 1}

    kit.serve(scenario)


async def _raw(server: Any, data: bytes, *, close_after: bool = True) -> bytes:
    """Send raw bytes over TCP and read what comes back until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(data)
    await writer.drain()
    if close_after:
        writer.close()
        return b""
    try:
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()


def test_a_malformed_request_is_a_400_and_the_server_keeps_serving(kit: Any) -> None:
    """Garbage instead of HTTP gets 400 from the server library; the object never sees it."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        answer = await _raw(server, b"NOT HTTP AT ALL\r\n\r\n", close_after=False)
        assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
        answer = await _raw(server, b"GET /api/a/count HTTP/1.1\r\nHost: bad host\r\n\r\n",
                            close_after=False)
        assert b" 400 " in answer.split(b"\r\n")[0]
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{server.url}/api/a/count")).json() == {"n": 1}

    kit.serve(scenario)


def test_a_forbidden_method_is_a_400_naming_the_fetch_rule(kit: Any) -> None:
    """TRACE cannot reach an object (the Fetch API forbids it): 400 says so."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient() as client:
            r = await client.request("TRACE", f"{server.url}/api/a/count")
            assert r.status_code == 400 and "forbidden HTTP method" in r.text

    kit.serve(scenario)


def test_a_client_that_disconnects_mid_body_loses_nothing(kit: Any) -> None:
    """A POST cut off mid-body never reaches the object; earlier and later requests count."""
    async def scenario(sb: Sandbox, server: Any) -> None:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{server.url}/api/a/count")).json() == {"n": 1}
            await _raw(server, b"POST /api/a/count HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: 100\r\n\r\n0123456789")
            await asyncio.sleep(0.1)
            assert (await client.get(f"{server.url}/api/a/count")).json() == {"n": 2}

    kit.serve(scenario)


def test_a_port_in_use_is_a_serve_error_naming_the_port() -> None:
    """Another program's port: ServeError (an OSError) naming the port and the fix."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    sb = Sandbox()
    try:
        with pytest.raises(ServeError) as caught:
            sb.serve(port=port)
        assert caught.value.port == port and f"Port {port}" in caught.value.message
        assert "another port" in caught.value.message and isinstance(caught.value, OSError)
        assert sb.clock.mode == "manual"
    finally:
        holder.close()
        sb.close()


@pytest.mark.parametrize("port", [-1, 70000, "8787", True, 1.5])
def test_a_bad_port_is_a_serve_error(port: Any) -> None:
    """A port that is not an int in 0-65535 is refused before anything binds."""
    with Sandbox() as sb, pytest.raises(ServeError, match="TCP port number"):
        sb.serve(port=port)


def test_a_bad_host_is_a_serve_error() -> None:
    """A host that is no address of this machine is refused with the usual choices."""
    with Sandbox() as sb, pytest.raises(ServeError, match=r"127\.0\.0\.1"):
        sb.serve(port=0, host="no-such-host.invalid")


def test_serving_the_same_port_again_takes_it_over(capsys: pytest.CaptureFixture[str]) -> None:
    """A re-run cell's sb.serve(port) stops this process's older server on it and serves."""
    async def main() -> None:
        old_sb, new_sb = Sandbox(), Sandbox()
        old = old_sb.serve(port=0)
        new = new_sb.serve(port=old.port)
        assert old.stopped and not new.stopped and new.port == old.port
        new.stop()
        await new.wait_stopped()
        old_sb.close()
        new_sb.close()

    asyncio.run(main())


def test_closing_the_sandbox_stops_its_server_and_frees_the_port() -> None:
    """sb.close() stops the server: the port can be bound again at once."""
    async def main() -> int:
        sb = Sandbox()
        server = sb.serve(port=0)
        await asyncio.sleep(0.05)
        sb.close()
        assert server.stopped
        await server.wait_stopped()
        return int(server.port)

    port = asyncio.run(main())
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


def test_a_plain_script_serves_with_serve_forever() -> None:
    """Without a running loop, serve_forever() answers until a request's handler stops it."""
    sb = Sandbox()
    from dosandbox import DurableObject, Response

    class Stopper(DurableObject):
        async def fetch(self, request: Any) -> Response:
            return Response("bye")

    sb.register("stopper", Stopper)
    server = sb.serve(port=0)
    answers: list[str] = []

    def client() -> None:
        answers.append(httpx.get(f"{server.url}/stopper/x/", timeout=5).text)
        server._loop.call_soon_threadsafe(server.stop)

    import threading

    thread = threading.Thread(target=client)
    thread.start()
    server.serve_forever()
    thread.join(5)
    assert answers == ["bye"] and server.stopped
    sb.close()


def test_serving_a_closed_sandbox_or_from_object_code_is_refused() -> None:
    """sb.serve() on a closed sandbox, or inside an object's code, says why and what to do."""
    from dosandbox import DurableObject
    from dosandbox.errors import DriverError

    sb = Sandbox()
    sb.close()
    with pytest.raises(DriverError, match="closed"):
        sb.serve(port=0)

    class Inner(DurableObject):
        def serve_me(self) -> None:
            box.serve(port=0)

    with Sandbox() as box:
        box.register("inner", Inner)
        with pytest.raises(Exception, match="inside object code") as caught:
            box.run(box.durable_objects.inner.get("x").serve_me())
        assert "await" in str(caught.value)


def test_the_server_shows_its_link_and_state() -> None:
    """repr and the notebook display name the URL, requests and sockets."""
    async def main() -> None:
        with Sandbox() as sb:
            server = sb.serve(port=0)
            assert repr(server) == f"<Server {server.url} serving requests=0 sockets=0>"
            assert f'href="{server.url}/"' in server._repr_html_()
            server.stop()
            await server.wait_stopped()
            assert "stopped" in repr(server)

    asyncio.run(main())
