"""The three committed examples, loaded as they are and exercised through the Worker."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .conftest import EXAMPLES


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
    }


def test_lists_example_routes_per_name(example, load):
    """python-lists: /<name>/add/<msg> and /<name>/show, one List object per name."""
    root = example("python-lists")
    before = _digest(root)
    sb = load(root)
    assert sb.run(sb.run(sb.fetch("/alice/add/hello")).text()) == "Message sent (1 in alice)"
    sb.run(sb.fetch("/alice/add/good%20day"))
    sb.run(sb.fetch("/bob/add/other"))
    assert sb.run(sb.run(sb.fetch("/alice/show")).text()) == "hello\ngood day"
    assert sb.run(sb.run(sb.fetch("/carol/show")).text()) == "No messages"
    assert sb.run(sb.fetch("/")).status == 400
    assert sb.run(sb.fetch("/alice/nothing")).status == 404
    assert sorted(sb.objects()["name"]) == ["alice", "bob", "carol"]
    assert json.loads(sb.inspect(sb.durable_objects.lists.get("alice")).kv.loc[0, "value"]) == [
        "hello", "good day"]
    assert _digest(root) == before


def test_lists_example_kinds_in_event_log(example, load):
    """Each request is a worker.fetch and a worker.response event, around the object's rpc."""
    sb = load(example("python-lists"))
    sb.run(sb.fetch("/alice/add/x"))
    kinds = list(sb.events()["kind"])
    start = kinds.index("worker.fetch")
    assert kinds[start:][:1] == ["worker.fetch"] and "worker.response" in kinds[start:]
    assert kinds.index("rpc", start) < kinds.index("worker.response", start)


def test_chat_example_through_the_worker(example, load):
    """python-chat: sockets opened through the Worker's router, broadcast, leave."""
    sb = load(example("python-chat"))
    alice = sb.connect("/room/lobby?name=alice")
    bob = sb.connect("/room/lobby?name=bob")
    other = sb.connect("/room/elsewhere?name=eve")
    alice.send("hi bob")
    assert json.loads(bob.messages[-1]) == {"type": "message", "name": "alice", "text": "hi bob"}
    assert all("hi bob" not in m for m in other.messages)
    bob.close(1000, "done")
    assert json.loads(alice.messages[-1]) == {"type": "left", "name": "bob"}
    stats = sb.run(sb.run(sb.fetch("/stats/lobby")).json())
    assert stats == {"room": "lobby", "joined": 2}
    assert len(sb.inspect(sb.durable_objects.rooms.get("lobby")).sockets) >= 1


def test_chat_example_serves_its_page(example, load):
    """The Worker serves the HTML page read from a file next to entry.py; / redirects."""
    sb = load(example("python-chat"))
    page = sb.run(sb.fetch("/room/lobby"))
    assert page.headers["content-type"].startswith("text/html")
    assert "new WebSocket" in sb.run(page.text())
    home = sb.run(sb.fetch("/"))
    assert home.status == 302 and home.headers["location"].endswith("/room/lobby")


def test_reminders_example_sql_and_alarm(example, load):
    """python-reminders: rows in SQL, the alarm marks them sent when the clock passes due."""
    sb = load(example("python-reminders"))
    made = sb.run(sb.fetch("/reminders/bob", method="POST",
                           body=json.dumps({"text": "tea", "in_seconds": 30})))
    assert made.status == 201 and sb.run(made.json()) == {"id": 1}
    listed = sb.run(sb.run(sb.fetch("/reminders/bob")).json())
    assert listed == [{"id": 1, "text": "tea", "sent": False}]
    assert len(sb.alarms()) == 1
    sb.clock.advance(seconds=31)
    listed = sb.run(sb.run(sb.fetch("/reminders/bob")).json())
    assert listed == [{"id": 1, "text": "tea", "sent": True}]
    assert len(sb.alarms()) == 0
    assert list(sb.inspect(sb.durable_objects.reminders.get("bob")).tables) == ["reminders"]


def test_examples_are_committed_unchanged():
    """Each example has its wrangler config, src/entry.py and pyproject.toml."""
    for name in ("python-lists", "python-chat", "python-reminders"):
        root = EXAMPLES / name
        assert (root / "src" / "entry.py").is_file() and (root / "pyproject.toml").is_file()
        assert any((root / f).is_file() for f in ("wrangler.jsonc", "wrangler.json",
                                                  "wrangler.toml"))
