"""``dosandbox objects list / info``: true methods and handlers, text and JSON, and bad input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import dosandbox
from dosandbox.cli import main


def test_list_text_shows_classes_bindings_storage_methods_and_handlers(project, cli):
    """objects list prints one row per object with its real methods and handlers."""
    result = cli("objects", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0].split() == ["NAME", "CLASS", "BINDING", "STORAGE", "METHODS", "HANDLERS"]
    assert lines[1].split() == [
        "chat_room",
        "ChatRoom",
        "CHAT_ROOM",
        "sqlite",
        "post,",
        "history",
        "fetch,",
        "web_socket_message",
    ]
    assert lines[2].split() == [
        "counter",
        "Counter",
        "COUNTER",
        "sqlite",
        "increment,",
        "get_count,",
        "since",
        "alarm",
    ]
    assert result.err == ""


def test_list_json_has_signatures_docs_and_handlers(project, cli):
    """objects list --json carries signatures, docs, async-ness and the file of each object."""
    result = cli("objects", "list", "--json")
    assert result.code == 0
    data = result.json()
    assert data["problems"] == []
    counter = next(o for o in data["objects"] if o["name"] == "counter")
    assert counter["class_name"] == "Counter" and counter["binding"] == "COUNTER"
    assert counter["storage"] == "sqlite" and counter["style"] == "definition"
    assert counter["handlers"] == ["alarm"]
    assert counter["file"] == str(project.objects / "counter.py")
    assert counter["methods"][0] == {
        "name": "increment",
        "signature": "(amount: int = 1) -> int",
        "doc": "Add amount (clamped at zero) and return the new count.",
        "async": True,
    }
    assert [m["name"] for m in counter["methods"]] == ["increment", "get_count", "since"]


def test_list_with_a_broken_module_shows_the_rest_and_exits_1(project, cli):
    """A syntax error in one module is reported on stderr; the others are listed; exit 1."""
    project.write("objects/broken.py", "def oops(:\n    pass\n")
    result = cli("objects", "list")
    assert result.code == 1
    assert "broken.py:1: SyntaxError" in result.err and "fix:" in result.err
    assert "counter" in result.out and "chat_room" in result.out
    data = cli("objects", "list", "--json").json()
    assert [p["kind"] for p in data["problems"]] == ["syntax_error"]
    assert data["problems"][0]["file"].endswith("broken.py")
    assert len(data["objects"]) == 2


def test_info_text_shows_signatures_docs_wrangler_snippet_and_usage(project, cli):
    """objects info NAME prints handlers, methods with signatures, the wrangler snippet, usage."""
    result = cli("objects", "info", "counter")
    assert result.code == 0, result.err
    out = result.out
    assert out.startswith("counter: class Counter, binding env.COUNTER, storage sqlite")
    assert "A counter per name, the seed's first example." in out
    assert "Handlers: alarm" in out
    assert "  async increment(amount: int = 1) -> int\n" in out
    assert "      Add amount (clamped at zero) and return the new count.\n" in out
    assert "More text" not in out  # only the first docstring line
    assert "  get_count() -> int\n" in out
    assert '  name = "COUNTER"\n  class_name = "Counter"' in out
    assert '  [[migrations]]\n  tag = "v1"\n  new_sqlite_classes = ["Counter"]' in out
    assert 'sb = dosandbox.Sandbox.from_directory("objects")' in out
    assert "await stub.since(when)" in out


def test_info_accepts_class_and_binding_and_json(project, cli):
    """info finds an object by class or binding; --json has the wrangler binding and migration."""
    by_class = cli("objects", "info", "ChatRoom", "--json").json()
    by_binding = cli("objects", "info", "CHAT_ROOM", "--json").json()
    assert by_class == by_binding
    assert by_class["handlers"] == ["fetch", "web_socket_message"]
    assert (
        by_class["methods"][0]["signature"] == "(message: Message, /, notify: bool = True) -> int"
    )
    assert by_class["wrangler"]["binding"] == {"name": "CHAT_ROOM", "class_name": "ChatRoom"}
    assert by_class["wrangler"]["migration"] == {"tag": "v1", "new_sqlite_classes": ["ChatRoom"]}
    assert 'response = await stub.fetch("https://example.com/")' in by_class["usage"]


def test_info_after_wrangler_names_the_migration_that_created_the_class(project, cli):
    """Once wrangler.toml has the class, info points at its migration instead of a new one."""
    assert cli("wrangler").code == 0
    data = cli("objects", "info", "counter", "--json").json()
    assert data["wrangler"]["migration"] is None
    assert data["wrangler"]["migration_note"] == "already created by migration v1 in wrangler.toml"


def test_info_of_an_unknown_name_lists_the_known_ones(project, cli):
    """info of a name that is not there exits 1 with a did-you-mean and the available names."""
    result = cli("objects", "info", "countr")
    assert result.code == 1
    assert result.out == ""
    assert "No object 'countr'" in result.err
    assert "did you mean 'counter'? Available: chat_room, counter" in result.err


def test_a_missing_objects_folder_is_a_clear_error(tmp_path, monkeypatch, cli):
    """Every command on a folder that does not exist exits 1 and writes nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for argv in (
        ["objects", "list"],
        ["objects", "info", "x"],
        ["objects", "generate-types"],
        ["objects", "migrations"],
        ["wrangler"],
    ):
        result = cli(*argv)
        assert result.code == 1, argv
        assert "The objects folder objects does not exist" in result.err
        assert "create it, or point at yours with --dir" in result.err
    assert list(tmp_path.iterdir()) == []


def test_dir_option_points_at_another_folder(project, cli):
    """--dir reads objects from another folder."""
    (project.root / "objects").rename(project.root / "durable")
    assert cli("objects", "list").code == 1
    result = cli("objects", "list", "--dir", "durable", "--json")
    assert result.code == 0
    assert [o["name"] for o in result.json()["objects"]] == ["chat_room", "counter"]


def test_bad_arguments_exit_2_with_usage(project, cli, capsys):
    """argparse errors (unknown subcommand) exit with status 2, as usual for CLIs."""
    with pytest.raises(SystemExit) as info:
        main(["objects", "frobnicate"])
    assert info.value.code == 2
    assert "invalid choice: 'frobnicate'" in capsys.readouterr().err


def test_runs_as_a_real_subprocess(project):
    """`python -m dosandbox objects list --json` works in a fresh interpreter."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(dosandbox.__file__).parent.parent)
    proc = subprocess.run(
        [sys.executable, "-m", "dosandbox", "objects", "list", "--json"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"name": "counter"' in proc.stdout and '"web_socket_message"' in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "dosandbox", "objects", "info", "nope"],
        cwd=project.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "No object 'nope'" in proc.stderr
