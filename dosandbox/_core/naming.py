"""One object, three spellings: ``chat_room`` (the name), ``ChatRoom`` (the class the platform
exports) and ``CHAT_ROOM`` (the binding on ``env``). Every part of dosandbox asks here.
"""

from __future__ import annotations

import keyword
import re

__all__ = ["binding_name", "class_name_for", "is_object_name", "suggest_name"]

# Lowercase words joined by single underscores: chat_room, counter2. Not chat__room, not room_,
# which would give the same class name as another file (ChatRoom, Room).
_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def is_object_name(name: str) -> bool:
    """Is ``name`` a valid object name (``chat_room``: lowercase, a Python identifier)?"""
    return bool(_NAME_RE.match(name)) and not keyword.iskeyword(name)


def class_name_for(name: str) -> str:
    """``chat_room`` → ``ChatRoom`` (the exported class on the platform)."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Object"


def binding_name(name: str) -> str:
    """``chat_room`` → ``CHAT_ROOM`` (the binding on ``env``)."""
    return name.upper()


def suggest_name(stem: str) -> str:
    """A valid name near a bad file stem: ``ChatRoom`` or ``chat-room`` → ``chat_room``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", stem)
    snake = re.sub(r"[^0-9a-zA-Z]+", "_", snake).strip("_").lower()
    snake = re.sub(r"_+", "_", snake)
    if not snake or not snake[0].isalpha():
        snake = f"object_{snake}".rstrip("_")
    if keyword.iskeyword(snake):
        snake += "_object"
    return snake
