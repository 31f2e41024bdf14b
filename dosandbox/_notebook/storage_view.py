"""What a handle shows of an object's storage: KV pages, SQL tables, ad-hoc SQL, seeding.

Handles never exist on the platform; they are how we teach. Reads here send the object no
event, count no KV operation, and never create a database for an object that has none. pandas
is imported only here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._core.errors import ValidationError
from .._core.fastcodec import decode_value
from .._runtime.parts import existing_storage, storage_for
from .._storage.database import tag

if TYPE_CHECKING:
    from .._core.record import ObjectRecord
    from .._storage.storage import Storage

__all__ = ["kv_count", "kv_frame", "run_sql", "seed_kv", "storage_size", "tables"]

KV_COLUMNS = ["key", "value", "type", "size"]
TABLE_ROWS = 1_000


def _check_page(offset: Any, limit: Any, prefix: Any) -> None:
    for name, value, low in (("offset", offset, 0), ("limit", limit, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValidationError(f"kv_page({name}=...) takes an int ≥ {low}, not {value!r}.")
    if prefix is not None and not isinstance(prefix, str):
        raise ValidationError(f"kv_page(prefix=...) takes a str, not {type(prefix).__name__}.")


def kv_frame(record: ObjectRecord, offset: int, limit: int, prefix: str | None) -> Any:
    import pandas as pd

    _check_page(offset, limit, prefix)
    storage = existing_storage(record)
    rows = [] if storage is None else storage._kv_rows(offset, limit, prefix)
    out = []
    for key, data in rows:
        value = decode_value(data)
        out.append({"key": key, "value": value, "type": type(value).__name__, "size": len(data)})
    return pd.DataFrame(out, columns=KV_COLUMNS)


def kv_count(record: ObjectRecord, prefix: str | None) -> int:
    if prefix is not None and not isinstance(prefix, str):
        raise ValidationError(f"kv_count(prefix=...) takes a str, not {type(prefix).__name__}.")
    storage = existing_storage(record)
    return 0 if storage is None else storage._kv_count(prefix)


def table_names(record: ObjectRecord) -> list[str]:
    storage = existing_storage(record)
    if storage is None:
        return []
    rows: Any = storage._conn.execute(
        tag(
            # GLOB: the platform's _cf_ rule is case-sensitive (_CF_mine is the user's table).
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT GLOB '_cf_*' "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ).fetchall()
    return [name for (name,) in rows]


def tables(record: ObjectRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in table_names(record):
        quoted = name.replace('"', '""')
        out[name] = run_sql(record, f'SELECT * FROM "{quoted}" LIMIT {TABLE_ROWS}', ())
    return out


def run_sql(
    record: ObjectRecord, query: str, bindings: Sequence[Any], *, write: bool = False
) -> Any:
    import pandas as pd

    storage: Storage | None
    if write:
        storage = storage_for(record)
    else:
        storage = existing_storage(record)
        if storage is None:  # nothing stored yet: answer from an empty database
            storage = storage_for(record) if record.world.persist is None else None
    if storage is None:
        return pd.DataFrame()
    cursor = storage.sql._run(query, bindings, read_only=not write, outside=True)
    return cursor.to_df()


def seed_kv(record: ObjectRecord, entries: Any) -> int:
    if not isinstance(entries, Mapping):
        raise ValidationError(
            f"seed_kv() takes a dict of key → value, not {type(entries).__name__}."
        )
    return storage_for(record)._seed(entries)


def storage_size(record: ObjectRecord) -> int:
    storage = existing_storage(record)
    return 0 if storage is None else storage._db.size_bytes()
