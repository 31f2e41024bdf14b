"""Reminders per user in SQL, delivered by an alarm (the earliest due one re-arms it)."""

from urllib.parse import urlparse

from js import Date
from workers import DurableObject, Response, WorkerEntrypoint


class Reminders(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.ctx.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS reminders ("
            " id INTEGER PRIMARY KEY, text TEXT NOT NULL, due INTEGER NOT NULL,"
            " sent INTEGER NOT NULL DEFAULT 0)"
        )

    async def add(self, text, in_seconds):
        due = Date.now() + int(in_seconds * 1000)
        row = self.ctx.storage.sql.exec(
            "INSERT INTO reminders (text, due) VALUES (?, ?) RETURNING id", text, due
        ).one()
        await self.schedule()
        return row.id

    async def schedule(self):
        nxt = self.ctx.storage.sql.exec(
            "SELECT MIN(due) AS due FROM reminders WHERE sent = 0"
        ).one()
        if nxt.due is None:
            await self.ctx.storage.deleteAlarm()
        else:
            await self.ctx.storage.setAlarm(nxt.due)

    async def alarm(self):
        now = Date.now()
        self.ctx.storage.sql.exec("UPDATE reminders SET sent = 1 WHERE due <= ? AND sent = 0", now)
        await self.schedule()

    async def list(self):
        rows = self.ctx.storage.sql.exec(
            "SELECT id, text, due, sent FROM reminders ORDER BY due"
        ).toArray()
        return [{"id": r.id, "text": r.text, "sent": bool(r.sent)} for r in rows]


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        parts = urlparse(request.url).path.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "reminders":
            return Response("Use /reminders/<user>", status=404)
        stub = self.env.REMINDERS.getByName(parts[1])
        if request.method == "POST":
            body = await request.json()
            rid = await stub.add(body["text"], body.get("in_seconds", 60))
            return Response.json({"id": rid}, status=201)
        return Response.json(await stub.list())
