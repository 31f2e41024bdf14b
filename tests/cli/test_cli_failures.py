"""CLI failures print one line naming the file and the fix, exit 1, and write nothing.

A wrangler config that is not UTF-8 or is a folder, an --out under a file or that is a folder,
class names that are not JavaScript identifiers, migration lists of the wrong shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def one_line_error(result: Any) -> str:
    """The single 'error: ...' line of a failed command (no traceback)."""
    assert result.code == 1
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    return str(lines[0])


@pytest.mark.parametrize("command", [["wrangler"], ["objects", "migrations"],
                                     ["objects", "info", "counter"]])
def test_a_config_that_is_not_utf8_names_the_file_and_the_fix(
    project: Any, cli: Any, command: list[str]
) -> None:
    """Latin-1 bytes in wrangler.toml: one line with the byte and 'Save it as UTF-8'."""
    config = project.root / "wrangler.toml"
    config.write_bytes(b'name = "caf\xe9"\n')
    line = one_line_error(cli(*command))
    assert str(config) in line and "is not UTF-8 text (byte 11 is 0xe9)" in line
    assert "Save it as UTF-8" in line
    assert config.read_bytes() == b'name = "caf\xe9"\n'


def test_a_config_that_is_a_folder_names_it(project: Any, cli: Any) -> None:
    """wrangler.toml as a folder: one line saying so, with the fix (it was IsADirectoryError)."""
    (project.root / "wrangler.toml").mkdir()
    line = one_line_error(cli("wrangler"))
    assert "wrangler.toml is a folder, not a config file" in line
    assert "pass --config FILE" in line
    assert list((project.root / "wrangler.toml").iterdir()) == []


def test_an_out_under_a_file_names_the_file_in_the_way(project: Any, cli: Any) -> None:
    """generate-types --out blocker/types.py: one line naming blocker (it was FileExistsError)."""
    (project.root / "blocker").write_text("x")
    line = one_line_error(cli("objects", "generate-types", "--out", "blocker/types.py"))
    assert "cannot write blocker/types.py: blocker is a file" in line
    assert "Write to another path" in line
    assert (project.root / "blocker").read_text() == "x"


def test_an_out_that_is_a_folder_says_to_pass_a_file(project: Any, cli: Any) -> None:
    """--out pointing at a folder: one line with an example file path."""
    (project.root / "types").mkdir()
    line = one_line_error(cli("objects", "generate-types", "--out", "types"))
    assert "types is a folder: pass --out with a file path" in line
    assert "types/_types.py" in line


def test_an_out_that_is_not_utf8_is_not_overwritten(project: Any, cli: Any) -> None:
    """A binary file at --out was not written by dosandbox: refused, left as it is."""
    target: Path = project.root / "blob.py"
    target.write_bytes(b"\xff\xfe\x00")
    line = one_line_error(cli("objects", "generate-types", "--out", "blob.py"))
    assert "blob.py is not UTF-8 text" in line and "another --out" in line
    assert target.read_bytes() == b"\xff\xfe\x00"


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ('[[durable_objects.bindings]]\nname = "C"\nclass_name = "my-class"\n',
         "binding C has class name 'my-class', which is not a JavaScript identifier"),
        ('[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Chat Room"]\n',
         "migration 'v1' new_sqlite_classes has class name 'Chat Room'"),
        ('[[migrations]]\ntag = "v1"\nnew_sqlite_classes = "Counter"\n',
         "write new_sqlite_classes = ['Counter']"),
        ('[[migrations]]\ntag = "v1"\nrenamed_classes = ["A"]\n',
         "renamed_classes must be a list of {from, to} tables"),
    ],
    ids=["binding", "migration class", "not a list", "renamed"],
)
def test_config_class_names_and_lists_of_the_wrong_shape_are_refused(
    project: Any, cli: Any, config: str, fragment: str
) -> None:
    """They were misread (a str iterated as letters) or written back; now one line and exit 1."""
    path = project.root / "wrangler.toml"
    path.write_text(config)
    line = one_line_error(cli("wrangler"))
    assert fragment in line and "nothing was changed" in line
    assert path.read_text() == config
