"""Durable Object ids, derived exactly as workerd derives them.

An id is 32 bytes shown as 64 lowercase hex digits: 16 bytes of identity followed by a 16-byte
MAC of those bytes keyed by the namespace. The namespace key is SHA-256 of
``"<script name>-<ClassName>"`` (Miniflare's unique key), so with the same script and class
names ``id_from_name`` gives the same hex here as in workerd (source: cloudflare/workerd,
src/workerd/server/actor-id-impl.c++).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re

from .errors import InvalidIdError

__all__ = ["DurableObjectId", "IdFactory"]

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


class DurableObjectId:
    """The id of one object in one namespace. ``str(id)`` is its 64-hex form."""

    __slots__ = ("_hex", "name", "namespace")

    def __init__(self, hex_id: str, namespace: str, name: str | None = None) -> None:
        self._hex = hex_id
        self.namespace = namespace
        self.name = name

    @property
    def jurisdiction(self) -> str | None:
        """The jurisdiction the id was made in: always None, as in workerd, which refuses
        jurisdictions locally (on the platform, ids from ``ns.jurisdiction("eu")`` say "eu")."""
        return None

    def __str__(self) -> str:
        return self._hex

    def to_string(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        named = f" name={self.name!r}" if self.name is not None else ""
        return f"<DurableObjectId {self.namespace}:{self._hex[:12]}…{named}>"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DurableObjectId):
            return self._hex == other._hex and self.namespace == other.namespace
        return NotImplemented

    def equals(self, other: DurableObjectId) -> bool:
        return self == other

    def __hash__(self) -> int:
        return hash(self._hex)


class IdFactory:
    """Makes and validates ids for one namespace."""

    def __init__(self, unique_key: str, namespace: str, rng: random.Random) -> None:
        self._key = hashlib.sha256(unique_key.encode()).digest()
        self._namespace = namespace
        self._rng = rng

    def _mac(self, base: bytes) -> bytes:
        return hmac.new(self._key, base, hashlib.sha256).digest()[:16]

    def from_name(self, name: str) -> DurableObjectId:
        if not isinstance(name, str):
            raise InvalidIdError(
                f"id_from_name() takes a str name, not {type(name).__name__} {name!r}.",
                object_name=self._namespace,
            )
        base = hmac.new(self._key, name.encode(), hashlib.sha256).digest()[:16]
        return DurableObjectId((base + self._mac(base)).hex(), self._namespace, name)

    def new_unique(self) -> DurableObjectId:
        base = self._rng.getrandbits(128).to_bytes(16, "big")
        return DurableObjectId((base + self._mac(base)).hex(), self._namespace)

    def from_string(self, text: str) -> DurableObjectId:
        if not isinstance(text, str) or not _HEX64.fullmatch(text):
            shown = text if isinstance(text, str) else type(text).__name__
            raise InvalidIdError(
                f"Invalid Durable Object ID {shown!r}: must be 64 hex digits (as printed by "
                "str(id)). Use id_from_name() to make an id from a name.",
                object_name=self._namespace,
            )
        raw = bytes.fromhex(text)
        if not hmac.compare_digest(self._mac(raw[:16]), raw[16:]):
            raise InvalidIdError(
                f"Durable Object ID {text[:12]}… is not valid for namespace "
                f"{self._namespace!r}: ids carry a MAC tied to their namespace, so an id from "
                "another namespace (or a mistyped one) is refused. Use an id made by this "
                "namespace (its id_from_name(), new_unique_id() or str(stub.id)).",
                object_name=self._namespace,
            )
        return DurableObjectId(text.lower(), self._namespace)
