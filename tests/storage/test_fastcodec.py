"""The storage's fast value encoder writes exactly what _codec.dumps writes."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from hypothesis import given, settings

from dosandbox._core.codec import dumps, loads
from dosandbox._core.fastcodec import decode_value, encode_value

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(),
)
any_values = st.recursive(
    scalars | st.binary(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                               max_size=4),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(any_values)
def test_fast_path_is_byte_identical_or_declines(value: Any) -> None:
    """Fast encode declines or matches dumps byte for byte; fast decode always matches loads."""
    fast = encode_value(value)
    if fast is not None:
        assert fast == dumps(value)
    data = dumps(value)
    assert repr(decode_value(data)) == repr(loads(data))


def test_fast_path_takes_flat_records_and_declines_nested_ones() -> None:
    """Flat dicts/lists of scalars take the fast path; nested or non-str keys do not."""
    assert encode_value({"id": 1, "name": "ann", "ok": True, "x": None}) is not None
    assert encode_value([1, "a", 2.5]) is not None
    assert encode_value("text") == b'"text"'
    assert encode_value({"nested": {"a": 1}}) is None
    assert encode_value({1: "int key"}) is None
    assert encode_value(b"bytes") is None
