"""A small JSONC reader that remembers where every value sits, for editing ``wrangler.jsonc``.

``wrangler.jsonc`` allows ``//`` and ``/* */`` comments and trailing commas. To update it without
losing the user's comments we never re-serialize the whole file: we parse it into nodes that
know their text span, then splice new text in at those spans (``apply_edits``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .._core.errors import ConfigError

__all__ = [
    "JsoncNode",
    "append_item",
    "apply_edits",
    "dumps_at",
    "indent_unit",
    "insert_member",
    "parse",
]

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


@dataclass
class JsoncNode:
    """One value: its Python form and its text span ``[start, end)``."""

    start: int
    end: int
    value: Any
    members: dict[str, JsoncNode] = field(default_factory=dict)  # objects
    items: list[JsoncNode] = field(default_factory=list)  # arrays


class _Parser:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.pos = 0
        self.path = path

    def fail(self, message: str, pos: int | None = None) -> ConfigError:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return ConfigError(
            f"{self.path} is not valid JSONC at line {line}, column {col}: {message}. Fix the "
            "file (wrangler would refuse it too); nothing was changed.",
            line=line,
            column=col,
        )

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = end + 2
            else:
                return

    def value(self) -> JsoncNode:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("unexpected end of file")
        ch = self.text[self.pos]
        if ch == "{":
            return self.obj()
        if ch == "[":
            return self.arr()
        if ch == '"':
            start = self.pos
            text = self.string()
            return JsoncNode(start, self.pos, text)
        for word, val in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                start = self.pos
                self.pos += len(word)
                return JsoncNode(start, self.pos, val)
        m = _NUMBER.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            return JsoncNode(m.start(), m.end(), json.loads(m.group()))
        raise self.fail(f"unexpected character {ch!r}")

    def string(self) -> str:
        start = self.pos
        i = start + 1
        text = self.text
        while i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == '"':
                break
            if text[i] == "\n":
                raise self.fail("newline inside a string", i)
            i += 1
        else:
            raise self.fail("unterminated string", start)
        self.pos = i + 1
        try:
            return str(json.loads(text[start : i + 1]))
        except json.JSONDecodeError as exc:
            raise self.fail(f"bad string: {exc.msg}", start) from None

    def obj(self) -> JsoncNode:
        node = JsoncNode(self.pos, -1, {})
        self.pos += 1
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                node.end = self.pos
                return node
            if not self.text.startswith('"', self.pos):
                raise self.fail("expected a quoted key or '}'")
            key_pos = self.pos
            key = self.string()
            if key in node.members:
                raise self.fail(f"duplicate key {key!r}", key_pos)
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail(f"expected ':' after key {key!r}")
            self.pos += 1
            child = self.value()
            node.members[key] = child
            node.value[key] = child.value
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                raise self.fail("expected ',' or '}'")

    def arr(self) -> JsoncNode:
        node = JsoncNode(self.pos, -1, [])
        self.pos += 1
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                node.end = self.pos
                return node
            child = self.value()
            node.items.append(child)
            node.value.append(child.value)
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise self.fail("expected ',' or ']'")


def parse(text: str, path: str = "wrangler.jsonc") -> JsoncNode:
    """Parse JSONC (comments, trailing commas); raises ConfigError with line and column."""
    parser = _Parser(text, path)
    root = parser.value()
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("unexpected text after the end of the top-level value")
    if not isinstance(root.value, dict):
        raise parser.fail("the top level must be an object { ... }", root.start)
    return root


def indent_unit(text: str) -> str:
    """The file's indentation step (first indented line), default a tab as wrangler writes."""
    m = re.search(r"\n([ \t]+)\S", text)
    return m.group(1) if m else "\t"


def _compact(value: Any) -> bool:
    """Small values stay on one line, as Cloudflare's examples write bindings and class lists."""
    if isinstance(value, dict):
        return all(not isinstance(v, (dict, list)) for v in value.values())
    if isinstance(value, list):
        return all(not isinstance(v, (dict, list)) for v in value)
    return True


def dumps_at(value: Any, unit: str, depth: int) -> str:
    """JSON for ``value`` laid out to sit at nesting ``depth``."""
    if _compact(value):
        if isinstance(value, dict):
            inner = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            return f"{{ {inner} }}" if inner else "{}"
        return json.dumps(value)
    pad = unit * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: {dumps_at(v, unit, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + unit * depth + "}"
    items = [f"{pad}{dumps_at(v, unit, depth + 1)}" for v in value]
    return "[\n" + ",\n".join(items) + "\n" + unit * depth + "]"


def insert_member(
    text: str, obj: JsoncNode, key: str, value: Any, unit: str, depth: int
) -> tuple[int, int, str]:
    """An edit adding ``"key": value`` as the last member of ``obj`` (at nesting ``depth``)."""
    body = f"{json.dumps(key)}: {dumps_at(value, unit, depth)}"
    if obj.members:
        last = list(obj.members.values())[-1]
        return (last.end, last.end, f",\n{unit * depth}{body}")
    return (obj.start + 1, obj.start + 1, f"\n{unit * depth}{body}\n{unit * (depth - 1)}")


def append_item(
    text: str, arr: JsoncNode, value: Any, unit: str, depth: int
) -> tuple[int, int, str]:
    """An edit adding ``value`` as the last item of ``arr`` (items at nesting ``depth``)."""
    body = dumps_at(value, unit, depth)
    if arr.items:
        last = arr.items[-1]
        return (last.end, last.end, f",\n{unit * depth}{body}")
    return (arr.start + 1, arr.start + 1, f"\n{unit * depth}{body}\n{unit * (depth - 1)}")


def apply_edits(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Replace each ``[start, end)`` with its text; edits must not overlap."""
    # Right to left; at one position the later edit goes first so the earlier ends up before it.
    order = sorted(range(len(edits)), key=lambda i: (edits[i][0], i), reverse=True)
    for i in order:
        start, end, new = edits[i]
        text = text[:start] + new + text[end:]
    return text
