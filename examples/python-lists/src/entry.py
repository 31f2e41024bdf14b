"""A list of messages per name, behind a router (in the style of Cloudflare's
python-workers-examples/07-durable-objects)."""

import json
from urllib.parse import unquote, urlparse

from workers import DurableObject, Response, WorkerEntrypoint


class List(DurableObject):
    async def get_messages(self):
        messages = await self.ctx.storage.get("messages")
        return json.loads(messages) if messages else []

    async def add_message(self, message):
        messages = await self.get_messages()
        limit = int(self.env.MAX_MESSAGES)
        messages = [*messages, message][-limit:]
        await self.ctx.storage.put("messages", json.dumps(messages))
        return len(messages)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        url = urlparse(request.url)
        parts = url.path.split("/")
        list_id = parts[1] if len(parts) > 1 else ""
        if list_id == "":
            return Response("List ID not specified", status=400)

        stub = self.env.LISTS.get(self.env.LISTS.idFromName(list_id))
        if len(parts) > 3 and parts[2] == "add":
            count = await stub.add_message(unquote(parts[3]))
            return Response(f"Message sent ({count} in {list_id})")
        if len(parts) > 2 and parts[2] == "show":
            messages = await stub.get_messages()
            if not messages:
                return Response("No messages")
            return Response("\n".join(messages))
        return Response("Not Found", status=404)
