"""A WebSocket chat room per name, with the page served by the Worker (in the style of
Cloudflare's Python WebSocket server example: hibernatable sockets, attachments)."""

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from js import WebSocketPair
from workers import DurableObject, Response, WorkerEntrypoint

PAGE = (Path(__file__).parent / "page.html").read_text(encoding="utf-8")


class ChatRoom(DurableObject):
    async def fetch(self, request):
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return Response("Expected a WebSocket upgrade", status=426)
        query = parse_qs(urlparse(request.url).query)
        name = query.get("name", ["anonymous"])[0]
        client, server = WebSocketPair.new().object_values()
        self.ctx.acceptWebSocket(server)
        server.serializeAttachment({"name": name})
        self.broadcast({"type": "joined", "name": name})
        await self.ctx.storage.put("joined", (await self.ctx.storage.get("joined") or 0) + 1)
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws, message):
        name = ws.deserializeAttachment()["name"]
        self.broadcast({"type": "message", "name": name, "text": message})

    async def webSocketClose(self, ws, code, reason, wasClean):
        name = ws.deserializeAttachment()["name"]
        ws.close(code, "bye")
        self.broadcast({"type": "left", "name": name}, skip=ws)

    def broadcast(self, event, skip=None):
        text = json.dumps(event)
        for ws in self.ctx.getWebSockets():
            if ws is not skip:
                ws.send(text)

    async def joined(self):
        return await self.ctx.storage.get("joined") or 0


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = urlparse(request.url).path
        parts = path.strip("/").split("/")
        if parts[0] == "room" and len(parts) == 2:
            stub = self.env.ROOMS.getByName(parts[1])
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await stub.fetch(request)
            return Response(PAGE, headers={"content-type": "text/html; charset=utf-8"})
        if parts[0] == "stats" and len(parts) == 2:
            joined = await self.env.ROOMS.getByName(parts[1]).joined()
            return Response.json({"room": parts[1], "joined": joined})
        return Response.redirect(f"{urlparse(request.url)._replace(path='/room/lobby').geturl()}")
