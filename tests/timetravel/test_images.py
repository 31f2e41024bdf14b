"""Images of the database in the change log: packed with LZ4, with a persisted log's older zlib
images still read, and a database past LZ4's block limit kept with zlib."""

from __future__ import annotations

import zlib
from pathlib import Path

import apsw
import pytest

from dosandbox import DurableObjectResetError, Sandbox
from dosandbox._storage import history
from dosandbox._storage.history import HISTORY_NAME, image_of, raw_size, unpack_image

from .conftest import START, Shop


def _database() -> apsw.Connection:
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    with conn:
        conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, f"name {i}") for i in range(500)])
    return conn


def test_an_image_is_lz4_and_unpacks_to_the_database_byte_for_byte() -> None:
    """image_of packs the database file with LZ4; unpack_image and raw_size read it back."""
    conn = _database()
    data = conn.serialize("main")
    image = image_of(conn)
    assert image.startswith(history._LZ4)
    assert len(image) < len(data)
    assert unpack_image(image) == data
    assert raw_size(image) == len(data)


def test_a_database_past_lz4s_block_limit_keeps_a_zlib_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past LZ4's largest block (~2 GiB, lowered here) the image is zlib, and still unpacks."""
    conn = _database()
    monkeypatch.setattr(history, "_LZ4_MAX", 1000)
    image = image_of(conn)
    assert not image.startswith(history._LZ4)
    assert unpack_image(image) == conn.serialize("main")


def test_a_persisted_log_holding_zlib_images_still_restores(tmp_path: Path) -> None:
    """A history file written before images were LZ4 (zlib images) restores its bookmarks."""
    with Sandbox(start=START, seed=0, persist=tmp_path) as sb:
        sb.register("shop", Shop)
        shop = sb.durable_objects.shop.get("a")
        sb.run(shop.add("apple", 1))
        sb.clock.advance(seconds=1)
        mark = sb.run(shop.bookmark())
        sb.run(shop.add("pear", 2))
    # Rewrite every stored image as the older format had it: zlib at level 1.
    conn = apsw.Connection(str(tmp_path / HISTORY_NAME))
    images = conn.execute(
        "SELECT object, seq, image FROM entries WHERE length(image) > 0").fetchall()
    assert images
    with conn:
        for obj, seq, image in images:
            conn.execute("UPDATE entries SET image = ? WHERE object = ? AND seq = ?",
                         (zlib.compress(unpack_image(image), 1), obj, seq))
    conn.close()
    with Sandbox(start=START, seed=0, persist=tmp_path) as sb:
        sb.register("shop", Shop)
        shop = sb.durable_objects.shop.get("a")
        sb.clock.advance(seconds=1)
        with pytest.raises(DurableObjectResetError):
            sb.run(shop.restore(mark))
        items = sb.run(sb.durable_objects.shop.get("a").state())["items"]
        assert [i["name"] for i in items] == ["apple"]
