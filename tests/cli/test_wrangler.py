"""``dosandbox wrangler`` and ``objects migrations``: bindings and append-only migrations.

Platform facts (developers.cloudflare.com/durable-objects/reference/durable-objects-migrations/,
reference doc §10): migrations are an ordered list of ``{tag, new_sqlite_classes?,
renamed_classes?: [{from, to}], deleted_classes?}`` applied once per tag, so earlier entries must
never change; bindings are ``durable_objects.bindings = [{name, class_name}]``; wrangler reads
wrangler.json, then wrangler.jsonc, then wrangler.toml.
"""

from __future__ import annotations

import json
import re
import tomllib

from dosandbox._project import jsonc as _jsonc

HAND_WRITTEN = """\
# My worker. Keep this comment.
name = "chat-app"
main = "src/entry.py"
compatibility_date = "2025-06-01"
compatibility_flags = ["python_workers"]

[vars]
GREETING = "hello" # used by the entry worker

# Bindings to objects of another Worker stay untouched.
[[durable_objects.bindings]]
name = "AUTH"
class_name = "AuthSession"
script_name = "auth-worker"

# Deployed history: never edit.
[[migrations]]
tag = "v1"
new_sqlite_classes = ["Counter"] # first deploy

[[migrations]]
tag = "v2"
new_sqlite_classes = ["Legacy"]
"""

ADD_GAME = """\
from dosandbox import define_durable_object
async def move(ctx, x: int) -> bool:
    return True
default = define_durable_object(methods={"move": move})
"""


def _toml(project):
    return tomllib.loads((project.root / "wrangler.toml").read_text())


def _check_cloudflare_shape(config: dict) -> None:
    """The keys and types Cloudflare documents for bindings and migrations, nothing else."""
    for b in config["durable_objects"]["bindings"]:
        assert set(b) <= {"name", "class_name", "script_name", "environment"}
        assert isinstance(b["name"], str) and isinstance(b["class_name"], str)
    tags = [m["tag"] for m in config["migrations"]]
    assert len(tags) == len(set(tags))
    allowed = {
        "tag",
        "new_classes",
        "new_sqlite_classes",
        "renamed_classes",
        "deleted_classes",
        "transferred_classes",
    }
    for m in config["migrations"]:
        assert set(m) <= allowed and len(m) >= 2
        for pair in m.get("renamed_classes", []):
            assert set(pair) == {"from", "to"}


def test_first_run_creates_wrangler_toml_with_bindings_and_v1(project, cli):
    """With no config, wrangler.toml gets one binding per object and migration v1."""
    result = cli("wrangler")
    assert result.code == 0, result.err
    assert "created" in result.out and "+ new_sqlite_classes Counter" in result.out
    config = _toml(project)
    _check_cloudflare_shape(config)
    assert config["name"] == "proj"
    assert config["compatibility_flags"] == ["python_workers"]
    assert config["durable_objects"]["bindings"] == [
        {"name": "CHAT_ROOM", "class_name": "ChatRoom"},
        {"name": "COUNTER", "class_name": "Counter"},
    ]
    assert config["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["ChatRoom", "Counter"]}]
    text = (project.root / "wrangler.toml").read_text()
    assert "[[durable_objects.bindings]]" in text and "[[migrations]]" in text


def test_second_run_changes_nothing(project, cli):
    """Running wrangler twice leaves the file byte for byte the same."""
    assert cli("wrangler").code == 0
    path = project.root / "wrangler.toml"
    first = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    again = cli("wrangler")
    assert again.code == 0 and "up to date" in again.out
    assert path.read_bytes() == first and path.stat().st_mtime_ns == mtime
    assert "Up to date" in cli("objects", "migrations").out


def test_adding_an_object_adds_one_migration(project, cli):
    """A new object module adds binding GAME and one new tag with only that class."""
    assert cli("wrangler").code == 0
    project.write("objects/game.py", ADD_GAME)
    result = cli("wrangler")
    assert result.code == 0
    config = _toml(project)
    _check_cloudflare_shape(config)
    assert config["migrations"][-1] == {"tag": "v2", "new_sqlite_classes": ["Game"]}
    assert len(config["migrations"]) == 2
    assert {"name": "GAME", "class_name": "Game"} in config["durable_objects"]["bindings"]


def test_renaming_a_class_produces_renamed_classes(project, cli):
    """Same file, same binding, new class name: renamed_classes keeps the objects' data."""
    assert cli("wrangler").code == 0
    source = (project.objects / "chat_room.py").read_text()
    project.write("objects/chat_room.py", source.replace("class ChatRoom(", "class Room("))
    preview = cli("objects", "migrations", "--json").json()
    assert preview["next"] == {"tag": "v2", "renamed_classes": [{"from": "ChatRoom", "to": "Room"}]}
    result = cli("wrangler")
    assert "renamed_classes ChatRoom -> Room (its objects and data are kept)" in result.out
    config = _toml(project)
    _check_cloudflare_shape(config)
    assert config["migrations"][-1] == {
        "tag": "v2",
        "renamed_classes": [{"from": "ChatRoom", "to": "Room"}],
    }
    assert {"name": "CHAT_ROOM", "class_name": "Room"} in config["durable_objects"]["bindings"]


def test_removing_an_object_produces_deleted_classes_with_a_warning(project, cli):
    """Deleting a module removes its binding and adds deleted_classes, with a data-loss warning."""
    assert cli("wrangler").code == 0
    (project.objects / "chat_room.py").unlink()
    result = cli("wrangler")
    assert "WARNING: deploying this deletes every ChatRoom object" in result.out
    config = _toml(project)
    _check_cloudflare_shape(config)
    assert config["migrations"][-1] == {"tag": "v2", "deleted_classes": ["ChatRoom"]}
    assert config["durable_objects"]["bindings"] == [{"name": "COUNTER", "class_name": "Counter"}]


def test_moving_a_class_to_another_file_needs_no_migration(project, cli):
    """A class-style object moved to lobby.py keeps its class: only the binding changes."""
    assert cli("wrangler").code == 0
    (project.objects / "chat_room.py").rename(project.objects / "lobby.py")
    result = cli("wrangler")
    assert "add migration" not in result.out
    config = _toml(project)
    assert len(config["migrations"]) == 1
    assert {"name": "LOBBY", "class_name": "ChatRoom"} in config["durable_objects"]["bindings"]


def test_existing_config_keeps_comments_history_and_other_workers_bindings(project, cli):
    """A hand-written config keeps its comments, vars, foreign bindings and every migration."""
    path = project.root / "wrangler.toml"
    path.write_text(HAND_WRITTEN)
    result = cli("wrangler")
    assert result.code == 0, result.err
    text = path.read_text()
    # Everything that was there is still there, in order, byte for byte.
    position = 0
    for line in HAND_WRITTEN.splitlines():
        found = text.find(line + "\n", position)
        assert found >= 0, f"lost or moved: {line!r}\n{text}"
        position = found + len(line)
    config = tomllib.loads(text)
    _check_cloudflare_shape(config)
    assert config["vars"] == {"GREETING": "hello"}
    assert config["durable_objects"]["bindings"] == [
        {"name": "AUTH", "class_name": "AuthSession", "script_name": "auth-worker"},
        {"name": "CHAT_ROOM", "class_name": "ChatRoom"},
        {"name": "COUNTER", "class_name": "Counter"},
    ]
    # Counter is already deployed (v1); ChatRoom is new; Legacy (v2) has no module any more.
    assert config["migrations"][:2] == [
        {"tag": "v1", "new_sqlite_classes": ["Counter"]},
        {"tag": "v2", "new_sqlite_classes": ["Legacy"]},
    ]
    assert config["migrations"][2] == {
        "tag": "v3",
        "new_sqlite_classes": ["ChatRoom"],
        "deleted_classes": ["Legacy"],
    }
    # The new migration comes after the history, not between comment and table.
    assert text.index('tag = "v3"') > text.index('new_sqlite_classes = ["Legacy"]')
    assert cli("wrangler").out.endswith("up to date: nothing to change.\n")


def test_tags_continue_the_existing_sequence(project, cli):
    """After tags v1 and v7 (or tags without numbers) the next is the next free vN."""
    path = project.root / "wrangler.toml"
    path.write_text(
        '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Counter"]\n\n'
        '[[migrations]]\ntag = "v7"\nnew_sqlite_classes = ["ChatRoom"]\n'
        '\n[[migrations]]\ntag = "later"\nnew_sqlite_classes = ["Old"]\n'
    )
    cli("wrangler")
    assert _toml(project)["migrations"][-1] == {"tag": "v8", "deleted_classes": ["Old"]}


def test_dry_run_shows_a_diff_and_writes_nothing(project, cli):
    """--dry-run prints a unified diff of the change and leaves the disk alone."""
    result = cli("wrangler", "--dry-run")
    assert result.code == 0
    assert result.out.startswith("--- /dev/null\n+++ b/wrangler.toml\n")
    assert '+class_name = "Counter"' in result.out
    assert not (project.root / "wrangler.toml").exists()
    assert cli("wrangler").code == 0
    project.write("objects/game.py", ADD_GAME)
    before = (project.root / "wrangler.toml").read_text()
    diff = cli("wrangler", "--dry-run").out
    assert "--- a/wrangler.toml\n+++ b/wrangler.toml\n" in diff
    assert '+tag = "v2"' in diff and '+new_sqlite_classes = ["Game"]' in diff
    assert (project.root / "wrangler.toml").read_text() == before


def test_json_output_describes_the_plan(project, cli):
    """wrangler --json reports the migration, the bindings and whether it wrote."""
    data = cli("wrangler", "--json", "--dry-run").json()
    assert data["migration"] == {"tag": "v1", "new_sqlite_classes": ["ChatRoom", "Counter"]}
    assert data["written"] is False and data["dry_run"] is True
    assert json.loads(cli("wrangler", "--json").out)["written"] is True


def test_migrations_command_shows_history_and_next(project, cli):
    """objects migrations lists every tag and what the next wrangler run would add."""
    (project.root / "wrangler.toml").write_text(HAND_WRITTEN)
    result = cli("objects", "migrations")
    assert result.code == 0
    assert re.search(r"v1\s+new_sqlite_classes=Counter", result.out)
    assert re.search(r"v2\s+new_sqlite_classes=Legacy", result.out)
    assert "add migration v3:" in result.out and "+ new_sqlite_classes ChatRoom" in result.out
    data = cli("objects", "migrations", "--json").json()
    assert data["deployed_classes"] == {"Counter": "sqlite", "Legacy": "sqlite"}
    assert data["next"]["tag"] == "v3"


def test_kv_backed_classes_get_a_warning(project, cli):
    """A class created with new_classes (KV) is noted: the sandbox runs it SQLite-backed."""
    (project.root / "wrangler.toml").write_text(
        '[[migrations]]\ntag = "v1"\nnew_classes = ["Counter"]\n'
    )
    result = cli("objects", "migrations")
    assert "Counter was created with new_classes (KV-backed storage)" in result.err


def test_invalid_toml_is_refused_and_left_alone(project, cli):
    """A wrangler.toml that does not parse: exit 1, line and column, file untouched."""
    path = project.root / "wrangler.toml"
    path.write_text('name = "x"\n[[migrations]\ntag = "v1"\n')
    for argv in (["wrangler"], ["objects", "migrations"], ["objects", "info", "counter"]):
        result = cli(*argv)
        assert result.code == 1, argv
        assert "wrangler.toml is not valid TOML (line 2" in result.err
        assert "nothing was changed" in result.err
    assert path.read_text() == 'name = "x"\n[[migrations]\ntag = "v1"\n'


def test_a_wrongly_shaped_config_is_refused(project, cli):
    """migrations that are not tables with tags, or bindings without names, are named."""
    path = project.root / "wrangler.toml"
    path.write_text('migrations = ["v1"]\n')
    result = cli("wrangler")
    assert result.code == 1 and "'migrations' must be a list of tables" in result.err
    path.write_text('[[migrations]]\nnew_sqlite_classes = ["A"]\n')
    assert "migration #1 has no string 'tag'" in cli("wrangler").err
    assert path.read_text() == '[[migrations]]\nnew_sqlite_classes = ["A"]\n'


def test_a_broken_module_blocks_wrangler_so_it_is_not_deleted(project, cli):
    """A module that fails to import would look deleted: wrangler refuses and writes nothing."""
    assert cli("wrangler").code == 0
    path = project.root / "wrangler.toml"
    before = path.read_text()
    project.write("objects/chat_room.py", "class ChatRoom(:\n")
    result = cli("wrangler")
    assert result.code == 1
    assert "chat_room.py:1: SyntaxError" in result.err
    assert "would otherwise look like a deleted class" in result.err
    assert path.read_text() == before


def test_a_binding_name_taken_by_another_worker_is_an_error(project, cli):
    """An object whose binding is already bound to another Worker's class is a conflict."""
    path = project.root / "wrangler.toml"
    text = '[[durable_objects.bindings]]\nname = "COUNTER"\nclass_name = "X"\nscript_name = "o"\n'
    path.write_text(text)
    result = cli("wrangler")
    assert result.code == 1 and "points at another Worker" in result.err
    assert path.read_text() == text


def test_inline_bindings_array_is_updated_in_place(project, cli):
    """The seed's `[durable_objects] bindings = [ {...} ]` style is kept and extended."""
    path = project.root / "wrangler.toml"
    path.write_text(
        '[durable_objects]\nbindings = [ { name = "COUNTER", class_name = "Counter" } ]\n\n'
        '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Counter"]\n'
    )
    assert cli("wrangler").code == 0
    text = path.read_text()
    assert "[durable_objects]\nbindings = [" in text and "[[durable_objects.bindings]]" not in text
    config = tomllib.loads(text)
    assert config["durable_objects"]["bindings"] == [
        {"name": "COUNTER", "class_name": "Counter"},
        {"name": "CHAT_ROOM", "class_name": "ChatRoom"},
    ]
    assert config["migrations"][-1] == {"tag": "v2", "new_sqlite_classes": ["ChatRoom"]}


# --- JSONC ------------------------------------------------------------------------------------

JSONC = """\
{
\t"$schema": "./node_modules/wrangler/config-schema.json",
\t// My worker: keep this comment.
\t"name": "chat-app",
\t"main": "src/entry.py", /* the entry */
\t"compatibility_flags": ["python_workers"],
\t"migrations": [
\t\t// first deploy
\t\t{ "tag": "v1", "new_sqlite_classes": ["Counter"] },
\t],
}
"""


def test_jsonc_is_updated_in_place_keeping_comments(project, cli):
    """With wrangler.jsonc present it is the file updated; comments and history survive."""
    path = project.root / "wrangler.jsonc"
    path.write_text(JSONC)
    result = cli("wrangler")
    assert result.code == 0, result.err
    assert not (project.root / "wrangler.toml").exists()
    text = path.read_text()
    for line in (
        "// My worker: keep this comment.",
        "/* the entry */",
        "// first deploy",
        '{ "tag": "v1", "new_sqlite_classes": ["Counter"] },',
    ):
        assert line in text
    data = _jsonc.parse(text).value
    _check_cloudflare_shape(data)
    assert data["migrations"] == [
        {"tag": "v1", "new_sqlite_classes": ["Counter"]},
        {"tag": "v2", "new_sqlite_classes": ["ChatRoom"]},
    ]
    assert data["durable_objects"]["bindings"] == [
        {"name": "CHAT_ROOM", "class_name": "ChatRoom"},
        {"name": "COUNTER", "class_name": "Counter"},
    ]
    assert '\t\t\t{ "name": "COUNTER", "class_name": "Counter" }' in text  # file's tab indent
    # Plain JSON once comments are stripped: what wrangler's own parser accepts.
    stripped = re.sub(r"//[^\n]*|/\*.*?\*/", "", text, flags=re.S)
    assert json.loads(re.sub(r",(\s*[}\]])", r"\1", stripped)) == data
    before = path.read_text()
    assert "up to date" in cli("wrangler").out
    assert path.read_text() == before


def test_jsonc_rename_and_delete(project, cli):
    """A rename and a removal in a JSONC project append one migration and fix the bindings."""
    path = project.root / "wrangler.jsonc"
    path.write_text(JSONC)
    assert cli("wrangler").code == 0
    source = (project.objects / "chat_room.py").read_text()
    project.write("objects/chat_room.py", source.replace("class ChatRoom(", "class Room("))
    (project.objects / "counter.py").unlink()
    assert cli("wrangler").code == 0
    data = _jsonc.parse(path.read_text()).value
    assert data["migrations"][-1] == {
        "tag": "v3",
        "renamed_classes": [{"from": "ChatRoom", "to": "Room"}],
        "deleted_classes": ["Counter"],
    }
    assert data["durable_objects"]["bindings"] == [{"name": "CHAT_ROOM", "class_name": "Room"}]


def test_invalid_jsonc_is_refused_with_line_and_column(project, cli):
    """A wrangler.jsonc that does not parse: exit 1, where, nothing written."""
    path = project.root / "wrangler.jsonc"
    path.write_text('{\n  "name": "x"\n  "main": "y"\n}\n')
    result = cli("wrangler")
    assert result.code == 1
    assert (
        "wrangler.jsonc is not valid JSONC at line 3, column 3: expected ',' or '}'" in result.err
    )
    assert path.read_text() == '{\n  "name": "x"\n  "main": "y"\n}\n'


def test_wrangler_reads_json_before_jsonc_before_toml(project, cli):
    """With several configs present, the one wrangler itself reads first is updated."""
    (project.root / "wrangler.toml").write_text('name = "t"\n')
    (project.root / "wrangler.jsonc").write_text('{ "name": "c" }\n')
    (project.root / "wrangler.json").write_text('{ "name": "j" }\n')
    assert cli("wrangler").code == 0
    assert "durable_objects" in (project.root / "wrangler.json").read_text()
    assert (project.root / "wrangler.jsonc").read_text() == '{ "name": "c" }\n'
    assert (project.root / "wrangler.toml").read_text() == 'name = "t"\n'
    data = json.loads((project.root / "wrangler.json").read_text())
    assert data["migrations"] == [{"tag": "v1", "new_sqlite_classes": ["ChatRoom", "Counter"]}]


def test_no_objects_and_no_config_writes_nothing(project, cli):
    """An empty objects/ folder does not create an empty wrangler.toml."""
    for path in project.objects.iterdir():
        path.unlink()
    result = cli("wrangler")
    assert result.code == 0 and "No objects in objects/" in result.out
    assert not (project.root / "wrangler.toml").exists()
    assert "No objects in objects/" in cli("objects", "list").out
