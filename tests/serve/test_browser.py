"""A chat page served by an object's fetch, opened in two tabs of headless Chromium (marker
``browser``): a message sent from one tab shows in the other tab's page, and the object's
handle lists both tabs' sockets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from dosandbox import DurableObject, Response, Sandbox, WebSocket, WebSocketPair

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

PAGE = """<!doctype html>
<meta charset="utf-8"><title>chat</title>
<ul id="log"></ul>
<input id="text"><button id="send">Send</button>
<script>
  const name = new URLSearchParams(location.search).get("name") || "guest";
  const url = new URL("ws?name=" + encodeURIComponent(name), location.href);
  url.protocol = url.protocol.replace("http", "ws");
  const ws = new WebSocket(url);
  ws.onopen = () => document.body.dataset.open = "yes";
  ws.onmessage = (event) => {
    const { from, text } = JSON.parse(event.data);
    const li = document.createElement("li");
    li.textContent = from + ": " + text;
    document.getElementById("log").append(li);
  };
  document.getElementById("send").onclick = () => {
    ws.send(document.getElementById("text").value);
  };
</script>
"""


class Chat(DurableObject):
    """GET .../ serves the page; .../ws accepts a socket tagged with the user's name."""

    async def fetch(self, request: Any) -> Response:
        if request.parsed_url.path.endswith("/ws"):
            name = request.parsed_url.params.get("name", "guest")
            client, server = WebSocketPair()
            self.ctx.accept_web_socket(server, [name])
            return Response(None, status=101, web_socket=client)
        return Response(PAGE, headers={"content-type": "text/html; charset=utf-8"})

    async def web_socket_message(self, ws: WebSocket, message: str | bytes) -> None:
        sender = self.ctx.get_tags(ws)[0]
        for other in self.ctx.get_web_sockets():
            other.send(json.dumps({"from": sender, "text": message}))


def test_two_tabs_chat_through_the_object_and_its_handle_lists_both() -> None:
    """Ann's message reaches Bob's tab; the handle shows one socket per tab, tagged by name."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install "
                    "chromium); never `playwright install`.")
    from playwright.async_api import async_playwright, expect

    sb = Sandbox()
    sb.register("chat", Chat)
    handle = sb.inspect(sb.durable_objects.chat.get("lobby"))

    async def main() -> None:
        server = sb.serve(port=0)
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    ann = await browser.new_page()
                    bob = await browser.new_page()
                    await ann.goto(f"{server.url}/chat/lobby/?name=ann")
                    await bob.goto(f"{server.url}/chat/lobby/?name=bob")
                    for page in (ann, bob):
                        await expect(page.locator("body")).to_have_attribute("data-open", "yes")
                    frame = handle.sockets
                    assert sorted(t[0] for t in frame["tags"]) == ["ann", "bob"]
                    assert len(server.sockets) == 2
                    await ann.fill("#text", "hello from ann")
                    await ann.click("#send")
                    await expect(bob.locator("#log li")).to_have_text(["ann: hello from ann"])
                    await expect(ann.locator("#log li")).to_have_text(["ann: hello from ann"])
                    await bob.close()  # a closed tab: its socket leaves the object's list
                    for _ in range(200):
                        if len(handle.sockets) == 1:
                            break
                        await asyncio.sleep(0.02)
                    assert list(handle.sockets["tags"].map(list)) == [["ann"]]
                finally:
                    await browser.close()
        finally:
            server.stop()
            await server.wait_stopped()

    try:
        asyncio.run(main())
    finally:
        sb.close()
