"""Random sequences of KV operations agree with a plain Python model at every step.

The model is a dict plus a direct reading of the platform's list() rules (reference §4): keys in
code-point order (= UTF-8 byte order), start inclusive, start_after/end exclusive, prefix
filters, reverse flips, limit applies after ordering. Keys mix ASCII, NUL, characters on both
sides of the BMP boundary and U+10FFFF, where byte order and UTF-16 order disagree.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dosandbox import DurableObjectMethodError, Sandbox
from dosandbox.errors import ValidationError

from .conftest import Inside

ALPHABET = ["a", "b", "\x00", "é", "\uffff", "\U0001f600", "\U0010ffff"]
keys = st.text(alphabet=ALPHABET, max_size=3)
values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=2), st.integers(),
                                                         max_size=2),
)
maybe_key = st.none() | keys


class Boom(Exception):
    """Raised inside a transaction to roll it back."""


def model_list(model: dict[str, Any], o: dict[str, Any]) -> list[tuple[str, Any]]:
    chosen = [
        k for k in sorted(model)
        if (o["start"] is None or k >= o["start"])
        and (o["start_after"] is None or k > o["start_after"])
        and (o["end"] is None or k < o["end"])
        and (o["prefix"] is None or k.startswith(o["prefix"]))
    ]
    if o["reverse"]:
        chosen.reverse()
    if o["limit"] is not None:
        chosen = chosen[: o["limit"]]
    return [(k, model[k]) for k in chosen]


class KvMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sb = Sandbox(seed=0)
        self.inside = Inside(self.sb)
        self.model: dict[str, Any] = {}

    def teardown(self) -> None:
        self.sb.close()

    def run(self, fn: Any) -> Any:
        return self.inside(fn)

    @rule(key=keys, value=values)
    def put(self, key: str, value: Any) -> None:
        self.run(lambda ctx: ctx.storage.put(key, value))
        self.model[key] = value

    @rule(entries=st.dictionaries(keys, values, max_size=6))
    def put_batch(self, entries: dict[str, Any]) -> None:
        self.run(lambda ctx: ctx.storage.put(entries))
        self.model.update(entries)

    @rule(key=keys)
    def delete(self, key: str) -> None:
        assert self.run(lambda ctx: ctx.storage.delete(key)) == (key in self.model)
        self.model.pop(key, None)

    @rule(batch=st.lists(keys, max_size=6))
    def delete_batch(self, batch: list[str]) -> None:
        expected = len(set(batch) & set(self.model))
        assert self.run(lambda ctx: ctx.storage.delete(batch)) == expected
        for key in batch:
            self.model.pop(key, None)

    @rule(key=keys)
    def get(self, key: str) -> None:
        assert self.run(lambda ctx: ctx.storage.get(key)) == self.model.get(key)

    @rule(batch=st.lists(keys, max_size=6))
    def get_batch(self, batch: list[str]) -> None:
        got = self.run(lambda ctx: ctx.storage.get(batch))
        expected = [(k, self.model[k]) for k in sorted(set(batch)) if k in self.model]
        assert list(got.items()) == expected

    @rule(prefix=maybe_key, start=maybe_key, start_after=maybe_key, end=maybe_key,
          limit=st.none() | st.integers(-1, 5), reverse=st.booleans())
    def list(self, **options: Any) -> None:
        bad = (options["start"] is not None and options["start_after"] is not None) or (
            options["limit"] is not None and options["limit"] <= 0
        )
        if bad:
            try:
                self.run(lambda ctx: ctx.storage.list(**options))
            except DurableObjectMethodError as exc:
                assert isinstance(exc.__cause__, ValidationError)
            else:  # pragma: no cover - a failure report
                raise AssertionError(f"list({options}) should have failed")
            return
        got = self.run(lambda ctx: ctx.storage.list(**options))
        assert list(got.items()) == model_list(self.model, options)

    @rule(writes=st.lists(st.tuples(keys, st.none() | values), max_size=5),
          fail=st.booleans(), explicit_rollback=st.booleans())
    def transaction(self, writes: list[tuple[str, Any]], fail: bool,
                    explicit_rollback: bool) -> None:
        """Puts (value) and deletes (None) in one transaction, then commit or roll back."""

        async def body(ctx: Any) -> str:
            async def fn(txn: Any) -> None:
                for key, value in writes:
                    if value is None:
                        await txn.delete(key)
                    else:
                        await ctx.storage.put(key, value)
                if explicit_rollback:
                    txn.rollback()
                elif fail:
                    raise Boom()

            try:
                await ctx.storage.transaction(fn)
            except Boom:
                return "rolled back"
            return "rolled back" if explicit_rollback else "committed"

        outcome = self.run(body)
        if outcome == "committed":
            for key, value in writes:
                if value is None:
                    self.model.pop(key, None)
                else:
                    self.model[key] = value

    @rule()
    def delete_all(self) -> None:
        self.run(lambda ctx: ctx.storage.delete_all())
        self.model.clear()

    @invariant()
    def everything_matches(self) -> None:
        got = self.run(lambda ctx: ctx.storage.list())
        assert list(got.items()) == sorted(self.model.items(), key=lambda kv: kv[0])


KvMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestKvAgainstModel = KvMachine.TestCase
TestKvAgainstModel.__doc__ = "Random KV operation sequences agree with the Python model."
