"""Batch writes are all-or-nothing: every key is checked before any row is written."""

from __future__ import annotations

from typing import Any

import pytest

from dosandbox import Limits, Sandbox
from dosandbox.errors import StorageLimitError, ValidationError

BAD = "b\ud800"  # a lone surrogate: no UTF-8 form, so SQLite cannot take it


async def put_batch(ctx: Any) -> None:
    await ctx.storage.put({"a": 1, BAD: 2, "c": 3})


def test_put_dict_with_a_bad_key_in_the_middle_writes_nothing(inside: Any) -> None:
    """put({...}) with a lone surrogate in its second key: ValidationError, no key written."""
    err = inside.error(put_batch)
    assert isinstance(err, ValidationError)
    assert "lone surrogate" in str(err) and "put()" in str(err)
    assert inside(lambda ctx: ctx.storage.list()) == {}
    assert inside.handle().tables == {}  # not even _cf_KV was made


def test_delete_list_with_a_bad_key_in_the_middle_deletes_nothing(inside: Any) -> None:
    """delete([...]) with a bad key between good ones: ValidationError, every key kept."""
    inside(lambda ctx: ctx.storage.put({"a": 1, "c": 3, "z": 26}))

    async def delete(ctx: Any) -> Any:
        return await ctx.storage.delete(["a", "c\ud800", "z"])  # sorts between a and z

    err = inside.error(delete)
    assert isinstance(err, ValidationError) and "lone surrogate" in str(err)
    assert inside(lambda ctx: ctx.storage.list()) == {"a": 1, "c": 3, "z": 26}


def test_get_list_with_a_bad_key_is_a_validation_error(inside: Any) -> None:
    """get([...]) with a lone surrogate raises ValidationError, not a bare UnicodeEncodeError."""
    inside(lambda ctx: ctx.storage.put("a", 1))

    async def get(ctx: Any) -> Any:
        return await ctx.storage.get(["a", BAD])

    assert isinstance(inside.error(get), ValidationError)


def test_seed_kv_with_a_bad_key_in_the_middle_writes_nothing(inside: Any) -> None:
    """handle.seed_kv({...}) with one bad key: ValidationError, no key written, object fine."""
    handle = inside.handle()
    with pytest.raises(ValidationError, match="seed_kv"):
        handle.seed_kv({"a": 1, BAD: 2, "c": 3})
    assert handle.kv_count() == 0
    assert handle.seed_kv({"a": 1, "c": 3}) == 2  # the sandbox keeps working
    assert inside(lambda ctx: ctx.storage.list()) == {"a": 1, "c": 3}


def test_a_row_sqlite_refuses_undoes_the_rows_before_it(inside_for: Any) -> None:
    """A value past SQLite's 2 MB row limit (Limits allows it) fails the whole put({...})."""
    sb = Sandbox(seed=0, limits=Limits(max_value_bytes=10_000_000))
    try:
        inside = inside_for(sb)
        inside(lambda ctx: ctx.storage.put("kept", 0))

        async def put_big(ctx: Any) -> None:
            await ctx.storage.put({"a": 1, "big": b"x" * 3_000_000, "c": 3})

        err = inside.error(put_big)
        assert isinstance(err, StorageLimitError) and "SQLITE_TOOBIG" in str(err)
        assert inside(lambda ctx: ctx.storage.list()) == {"kept": 0}
        inside(lambda ctx: ctx.storage.put({"a": 1, "c": 3}))
        assert inside(lambda ctx: ctx.storage.list()) == {"a": 1, "c": 3, "kept": 0}
    finally:
        sb.close()


def test_single_non_ascii_keys_still_work(inside: Any) -> None:
    """Keys beyond ASCII (accents, emoji) pass the new check and round-trip."""
    keys = {"café": 1, "🙂": 2, "日本": 3}
    inside(lambda ctx: ctx.storage.put(keys))
    assert inside(lambda ctx: ctx.storage.get(list(keys))) == keys
    assert inside(lambda ctx: ctx.storage.delete(["café", "🙂"])) == 2
