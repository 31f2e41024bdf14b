"""Ids: derived like workerd's, validated, tied to their namespace."""

from __future__ import annotations

import re

import pytest

from dosandbox import DurableObject, Sandbox
from dosandbox.errors import InvalidIdError, ValidationError


class Thing(DurableObject):
    def ping(self) -> str:
        return "pong"


class Other(DurableObject):
    def ping(self) -> str:
        return "other"


@pytest.fixture
def sb() -> Sandbox:
    sb = Sandbox(seed=1)
    sb.register("thing", Thing)
    sb.register("other", Other)
    return sb


def test_id_from_name_is_deterministic_64_hex(sb: Sandbox) -> None:
    """The same name in the same namespace gives the same 64-lowercase-hex id every time."""
    a = sb.durable_objects.thing.id_from_name("alice")
    b = sb.durable_objects.thing.id_from_name("alice")
    assert a == b and hash(a) == hash(b)
    assert re.fullmatch(r"[0-9a-f]{64}", str(a))
    assert a.name == "alice"
    assert a != sb.durable_objects.thing.id_from_name("bob")


def test_id_matches_workerd_derivation(sb: Sandbox) -> None:
    """workerd: key=SHA256('<script>-<Class>'), id=HMAC(key,name)[:16]+HMAC(key,base)[:16]."""
    import hashlib
    import hmac

    key = hashlib.sha256(b"dosandbox-Thing").digest()
    base = hmac.new(key, b"alice", hashlib.sha256).digest()[:16]
    mac = hmac.new(key, base, hashlib.sha256).digest()[:16]
    assert str(sb.durable_objects.thing.id_from_name("alice")) == (base + mac).hex()


def test_same_name_differs_across_namespaces(sb: Sandbox) -> None:
    """Different namespaces give different ids for one name, as on the platform."""
    assert str(sb.durable_objects.thing.id_from_name("x")) != str(
        sb.durable_objects.other.id_from_name("x")
    )


def test_unique_ids_are_random_but_seedable() -> None:
    """new_unique_id differs each call and repeats across sandboxes with the same seed."""
    def ids(seed: int) -> list[str]:
        sb = Sandbox(seed=seed)
        sb.register("thing", Thing)
        return [str(sb.durable_objects.thing.new_unique_id()) for _ in range(3)]

    first = ids(7)
    assert len(set(first)) == 3
    assert first == ids(7)
    assert first != ids(8)


def test_unique_id_has_no_name_and_round_trips(sb: Sandbox) -> None:
    """A unique id has no name; id_from_string(str(id)) gives an equal id."""
    ns = sb.durable_objects.thing
    uid = ns.new_unique_id()
    assert uid.name is None
    assert ns.id_from_string(str(uid)) == uid
    assert sb.run(ns.get(uid).ping()) == "pong"


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "a" * 63, "a" * 65, 42])
def test_malformed_id_string_is_refused(sb: Sandbox, bad: object) -> None:
    """Not 64 hex digits → InvalidIdError (workerd: 'must be 64 hex digits')."""
    with pytest.raises(InvalidIdError, match="64 hex digits") as info:
        sb.durable_objects.thing.id_from_string(bad)  # type: ignore[arg-type]
    assert info.value.code == "INVALID_ID"
    assert sb.run(sb.durable_objects.thing.get("still").ping()) == "pong"


def test_id_string_from_another_namespace_is_refused(sb: Sandbox) -> None:
    """A well-formed id whose MAC is for another namespace is refused ('not valid')."""
    foreign = str(sb.durable_objects.other.id_from_name("x"))
    with pytest.raises(InvalidIdError, match="not valid for namespace 'thing'"):
        sb.durable_objects.thing.id_from_string(foreign)


def test_id_object_from_another_namespace_is_refused(sb: Sandbox) -> None:
    """get_by_id with another namespace's id names both namespaces and the fix."""
    foreign = sb.durable_objects.other.id_from_name("x")
    with pytest.raises(InvalidIdError, match="belongs to namespace 'other'"):
        sb.durable_objects.thing.get_by_id(foreign)
    assert sb.run(sb.durable_objects.thing.get("x").ping()) == "pong"


def test_get_accepts_name_or_id(sb: Sandbox) -> None:
    """get('name') and get(id) reach the same object; stubs expose id and name."""
    ns = sb.durable_objects.thing
    by_name = ns.get("alice")
    by_id = ns.get(ns.id_from_name("alice"))
    assert by_name.id == by_id.id
    assert by_name.name == "alice"
    assert ns.get_by_name("alice").id == by_name.id


def test_get_with_wrong_type_is_refused(sb: Sandbox) -> None:
    """get(42) is a typed error naming what get takes."""
    with pytest.raises(InvalidIdError, match="takes a name"):
        sb.durable_objects.thing.get(42)  # type: ignore[arg-type]


def test_jurisdiction_is_refused_like_workerd(sb: Sandbox) -> None:
    """workerd refuses every jurisdiction locally ('eu' too) with one message; so do we."""
    ns = sb.durable_objects.thing
    workerd = "Jurisdiction restrictions are not implemented in workerd."
    for refuse in (
        lambda: ns.jurisdiction("eu"),
        lambda: ns.new_unique_id(jurisdiction="eu"),
        lambda: ns.new_unique_id({"jurisdiction": "fedramp"}),
        lambda: ns.newUniqueId({"jurisdiction": "eu"}),
    ):
        with pytest.raises(ValidationError) as info:
            refuse()
        assert info.value.message.startswith(workerd)
        assert "only matters once deployed" in info.value.message
    assert len(str(ns.new_unique_id({"jurisdiction": None}))) == 64


def test_unknown_or_non_text_jurisdiction_names_the_known_ones(sb: Sandbox) -> None:
    """An unknown jurisdiction also lists 'eu' and 'fedramp'; a number says it takes text."""
    ns = sb.durable_objects.thing
    with pytest.raises(ValidationError, match="knows only 'eu', 'fedramp'"):
        ns.jurisdiction("xx")
    with pytest.raises(ValidationError, match="takes a string, not int"):
        ns.jurisdiction(5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="options dict"):
        ns.new_unique_id("eu")  # type: ignore[arg-type]
    assert sb.run(ns.get("still").ping()) == "pong"


def test_id_jurisdiction_is_none_as_in_workerd(sb: Sandbox) -> None:
    """id.jurisdiction exists and is None (workerd: undefined) for every local id."""
    ns = sb.durable_objects.thing
    assert ns.id_from_name("a").jurisdiction is None
    assert ns.new_unique_id().jurisdiction is None
    assert ns.id_from_string(str(ns.id_from_name("a"))).jurisdiction is None
