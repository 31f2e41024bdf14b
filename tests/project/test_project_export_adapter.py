"""dosandbox export without dosandbox: the cloudwerk adapter, rewritten imports, signatures."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from dosandbox import Sandbox
from dosandbox._core.errors import ProjectError
from dosandbox._project.export import _OLD_DEPENDENCY, rewrite_imports
from dosandbox.cli import main

from .test_project_export import COUNTER

NOTES = '''\
"""Notes per name: state, KV, SQL, an alarm, tagged sockets, a transaction, wait_until."""
import dosandbox
from dosandbox import Response, WebSocketPair, define_durable_object


async def init(ctx):
    ctx.sql.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
    return {"added": 0, "seen": await ctx.storage.get("seen") or []}


async def add(ctx, body, *, tag="misc", copies=1):
    for _ in range(copies):
        ctx.sql.exec("INSERT INTO notes (body) VALUES (?)", f"{tag}:{body}")
    ctx.set_state(added=ctx.get_state()["added"] + copies)
    await ctx.storage.put({"last": body, f"tag:{tag}": True})
    return ctx.state["added"]


def listing(ctx):
    rows = ctx.sql.exec("SELECT id, body FROM notes ORDER BY id").to_list()
    one = ctx.sql.exec("SELECT COUNT(*) AS n FROM notes").one()
    columns = ctx.sql.exec("SELECT body FROM notes").column_names
    return {"rows": [dict(r) for r in rows], "n": one["n"], "columns": list(columns)}


async def kv(ctx, prefix="tag:"):
    listed = await ctx.storage.list(prefix=prefix, limit=10)
    after = await ctx.storage.list(start_after="tag:a")
    removed = await ctx.storage.delete("last")
    return [dict(listed), sorted(after), removed, await ctx.storage.get("last")]


async def move(ctx, fail=False):
    async def work(txn):
        await txn.put("moved", 1)
        if fail:
            raise ValueError("roll back")
    try:
        await ctx.storage.transaction(work)
    except ValueError:
        pass
    return await ctx.storage.get("moved")


async def later(ctx, seconds):
    await ctx.set_alarm(int(ctx.env.NOW) + seconds * 1000)
    return await ctx.get_alarm()


async def alarm(ctx, info):
    seen = ctx.state["seen"] + [info.retry_count if info is not None else None]
    ctx.set_state({"seen": seen})
    await ctx.storage.put("seen", seen)


def seen(ctx):
    return ctx.state["seen"]


def background(ctx):
    async def job():
        await ctx.storage.put("job", "done")
    ctx.wait_until(job())
    return "started"


async def job(ctx):
    return await ctx.storage.get("job")


async def fetch(request, ctx):
    if request.headers.get("upgrade") == "websocket":
        client, server = WebSocketPair()
        ctx.accept_web_socket(server, tags=["room", request.url.rsplit("/", 1)[-1]])
        return dosandbox.Response(None, status=101, web_socket=client)
    return Response.json(listing(ctx))


def web_socket_message(ws, message, ctx):
    for other in ctx.get_web_sockets("room"):
        other.send(f"{len(ctx.get_web_sockets())}:{message}:{sorted(ctx.get_tags(other))}")


notes = define_durable_object(
    init=init, fetch=fetch, alarm=alarm, web_socket_message=web_socket_message,
    methods={"add": add, "listing": listing, "kv": kv, "move": move, "later": later,
             "seen": seen, "background": background, "job": job},
)
'''

START = 1_800_000_000
CONFIG_VARS = f'\t"vars": {{"NOW": "{START}"}},\n'  # the clock starts at START ms


def _notes_script(sb: Sandbox) -> list[object]:
    """The notes object's calls: RPC, state, KV, SQL, a transaction, an alarm, sockets."""
    notes = sb.durable_objects.notes.get("n1")
    out: list[object] = [
        sb.run(notes.add("a")),
        sb.run(notes.add("b", tag="work", copies=2)),
        sb.run(notes.listing()),
        sb.run(notes.kv()),
        sb.run(notes.move(fail=True)),
        sb.run(notes.move()),
        sb.run(notes.later(5)),
        sb.run(notes.background()),
    ]
    sb.clock.advance(seconds=6)
    out += [sb.run(notes.seen()), sb.run(notes.job())]
    first, second = sb.connect("/notes/n1/x"), sb.connect("/notes/n1/y")
    first.send("hello")
    out += [first.messages, second.messages]
    out.append(sb.run(sb.run(sb.fetch("/notes/n1")).json()))
    return out


@pytest.fixture
def exported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """objects/notes.py exported to worker/ (its wrangler.jsonc given the NOW variable)."""
    folder = tmp_path / "proj" / "objects"
    folder.mkdir(parents=True)
    (folder / "notes.py").write_text(NOTES)
    monkeypatch.chdir(folder.parent)
    assert main(["export", "--out", "worker"]) == 0
    config = folder.parent / "worker" / "wrangler.jsonc"
    text = config.read_text()
    config.write_text(text.replace('\t"durable_objects"', CONFIG_VARS + '\t"durable_objects"', 1))
    return folder


def test_export_round_trip_of_every_ctx_feature(exported):
    """State, KV, SQL, transaction, alarm, wait_until, tagged sockets: the same answers."""
    env = {"NOW": str(START)}
    with Sandbox.from_directory(exported, start=START, env=env) as original:
        expected = _notes_script(original)
    assert expected[:2] == [1, 3] and expected[2]["n"] == 3
    assert expected[2]["rows"][0] == {"id": 1, "body": "misc:a"}
    assert expected[3] == [{"tag:misc": True, "tag:work": True}, ["tag:misc", "tag:work"],
                           True, None]
    assert expected[4:7] == [None, 1, START + 5000]
    assert expected[8:10] == [[0], "done"]
    assert expected[10:12] == [["2:hello:['room', 'x']"], ["2:hello:['room', 'y']"]]
    with Sandbox.from_project(exported.parent / "worker", start=START) as again:
        assert _notes_script(again) == expected


def _imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


def test_exported_project_imports_nothing_from_dosandbox(exported):
    """No module of the export imports dosandbox (AST walk); pyproject lists no dosandbox."""
    (exported / "plain.py").write_text(
        "import dosandbox as d\n\n\nclass Plain(d.DurableObject):\n"
        "    def hi(self):\n        return d.Response('hi')\n")
    assert main(["export", "--out", "worker"]) == 0
    root = exported.parent / "worker"
    modules = sorted(root.rglob("*.py"))
    assert {p.name for p in modules} >= {"entry.py", "cloudwerk.py", "notes.py", "plain.py"}
    for path in modules:
        names = _imports(ast.parse(path.read_text(), filename=str(path)))
        assert not [n for n in names if n.split(".")[0] == "dosandbox"], path
    adapter = _imports(ast.parse((root / "src" / "cloudwerk.py").read_text()))
    platform_and_stdlib = {"workers", "js", "pyodide", "dataclasses", "functools", "inspect"}
    assert {n.split(".")[0] for n in adapter} <= platform_and_stdlib
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert pyproject["project"]["dependencies"] == []
    assert "dosandbox" not in str(pyproject["dependency-groups"])
    assert "import cloudwerk as d\n" in (root / "src" / "objects" / "plain.py").read_text()
    assert "import cloudwerk as dosandbox\n" in (
        root / "src" / "objects" / "notes.py").read_text()


def test_export_refuses_sandbox_only_imports(exported, capsys):
    """from dosandbox import Sandbox in an object: exit 1, the line and the fix, nothing new."""
    root = exported.parent / "worker"
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    (exported / "notes.py").write_text("from dosandbox import Sandbox\n" + NOTES)
    capsys.readouterr()
    assert main(["export", "--out", "worker"]) == 1
    err = capsys.readouterr().err
    assert "notes.py:1" in err and "Sandbox" in err and "define_durable_object" in err
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("line, what", [
    ("from dosandbox.testing import assert_events", "dosandbox.testing"),
    ("import dosandbox.errors", "dosandbox.errors"),
    ("import dosandbox\nx = dosandbox.Sandbox", "dosandbox.Sandbox"),
])
def test_rewrite_imports_refuses_the_rest_of_dosandbox(line, what, tmp_path):
    """Submodules and sandbox-only names of dosandbox are refused with the file and line."""
    with pytest.raises(ProjectError, match=what.replace(".", r"\.")) as info:
        rewrite_imports(line + "\n", tmp_path / "m.py")
    assert "m.py:" in str(info.value) and "test_*.py" in str(info.value)


def test_rewrite_imports_changes_only_the_module_name(tmp_path):
    """Parenthesised imports keep their lines; aliases are kept; other text is untouched."""
    text = "from dosandbox import (\n    Response,\n    define_durable_object as d,\n)\n"
    assert rewrite_imports(text, tmp_path / "m.py") == text.replace("dosandbox", "cloudwerk")
    assert rewrite_imports("import dosandbox as ds\n", tmp_path / "m.py") == (
        "import cloudwerk as ds\n")
    kept = "# dosandbox is where this was written\nx = 'dosandbox'\n"
    assert rewrite_imports(kept, tmp_path / "m.py") == kept


def test_exported_methods_keep_parameter_names(exported, capsys):
    """objects info on the exported project shows the user's parameters, not *args."""
    capsys.readouterr()
    assert main(["objects", "info", "notes", "--project", "worker"]) == 0
    text = capsys.readouterr().out
    assert "add(body, *, tag='misc', copies=1)" in text and "*args" not in text
    assert "kv(prefix='tag:')" in text and "later(seconds)" in text


def test_exported_signature_reuses_non_literal_defaults(tmp_path, monkeypatch):
    """A mutable default is read from your function, so the exported method passes that one."""
    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / "bag.py").write_text(
        "from dosandbox import define_durable_object\n\n"
        "def put(ctx, item, into=[], /, *rest, **more):\n"
        "    into.append(item)\n    return [len(into), list(rest), sorted(more)]\n\n"
        "bag = define_durable_object(methods={'put': put})\n")
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--out", "worker"]) == 0
    entry = (tmp_path / "worker" / "src" / "entry.py").read_text()
    assert "async def put(self, item, into=default_of(_bag.methods['put'], 'into'), /, *rest" in (
        entry)
    with Sandbox.from_project(tmp_path / "worker") as sb:
        stub = sb.durable_objects.bag.get("b")
        assert sb.run(stub.put(1, [], 2, k=3)) == [1, [2], ["k"]]
        assert [sb.run(stub.put(i)) for i in "ab"] == [[1, [], []], [2, [], []]]


def test_export_replaces_the_old_dosandbox_dependency(tmp_path, monkeypatch):
    """A pyproject.toml from an earlier export loses its dosandbox dependency, nothing else."""
    folder = tmp_path / "objects"
    folder.mkdir()
    (folder / "counter.py").write_text(COUNTER)
    root = tmp_path / "worker"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "mine"\n' + _OLD_DEPENDENCY)
    monkeypatch.chdir(tmp_path)
    assert main(["export", "--out", "worker"]) == 0
    data = tomllib.loads((root / "pyproject.toml").read_text())
    assert data["project"] == {"name": "mine", "dependencies": []}
