"""Number keys are stored as their JavaScript text, as the platform coerces keys.

workerd (conformance scenario kv-number-keys): ``put(1, v)`` stores ``"1"``, ``1.5`` →
``"1.5"``, ``1e21`` → ``"1e+21"``, ``-0`` → ``"0"``, ``NaN`` → ``"NaN"``; ``get(1)`` and
``delete(1)`` find ``"1"``.
"""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox._storage.keys import number_key
from dosandbox.errors import ValidationError


@pytest.mark.parametrize(
    ("number", "text"),
    [(1, "1"), (-3, "-3"), (1.5, "1.5"), (2.0, "2"), (1e21, "1e+21"), (1e16, "10000000000000000"),
     (-0.0, "0"), (float("nan"), "NaN"), (float("inf"), "Infinity"), (1e-7, "1e-7"),
     (0.000001, "0.000001"), (10**30, "1000000000000000000000000000000")],
)
def test_number_text_is_javascripts(number: float, text: str) -> None:
    """The text of a number key is what String(n) gives in JavaScript."""
    assert number_key(number) == text


def test_put_get_delete_with_numbers(inside: Any) -> None:
    """put(1), get(1), get([1, 2]), delete(1) and dict entries with number keys."""

    async def body(ctx: Any) -> Any:
        s = ctx.storage
        await s.put(1, "one")
        await s.put({2: "two", 2.5: "two and a half"})
        found = [await s.get(1), await s.get("1"), await s.get([1, 2])]
        listed = await s.list()
        return [*found, listed, await s.delete(1), await s.delete([2, 2.5])]

    assert inside(body) == [
        "one", "one", {"1": "one", "2": "two"},
        {"1": "one", "2": "two", "2.5": "two and a half"},
        True, 2,
    ]


def test_other_key_types_are_refused(inside: Any) -> None:
    """None, a bool, bytes or an object as a key is a typed error; nothing is written."""
    for key in (None, True, b"k", object()):
        err = inside.error(lambda ctx, key=key: ctx.storage.put(key, 1))
        assert isinstance(err, ValidationError), key
        assert "keys are strings" in str(err)
    assert inside(lambda ctx: ctx.storage.list()) == {}
