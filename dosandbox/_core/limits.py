"""The platform's limits, in one object so tests (and curious users) can change them.

Sources: developers.cloudflare.com/durable-objects/platform/limits/ and the cloudwerk API.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits"]


@dataclass(frozen=True)
class Limits:
    """Every limit the sandbox enforces. ``Sandbox(limits=Limits(max_value_bytes=64))``."""

    max_key_bytes: int = 2_048
    max_value_bytes: int = 131_072
    max_batch_keys: int = 128
    # The cloudwerk API documents "1,000 KV operations per request"; the platform has no such
    # limit (workerd runs 10,000 awaited puts in one request), so it is off unless asked for:
    # Limits(max_kv_ops_per_event=1_000).
    max_kv_ops_per_event: int | None = None
    max_storage_bytes: int = 10 * 1000**3  # 10 GB per SQLite-backed object
    max_sql_statement_bytes: int = 100_000
    max_sql_bindings: int = 100
    max_sql_columns: int = 100
    max_rpc_bytes: int = 32 * 1024 * 1024
    max_sockets: int = 32_768
    max_tags: int = 10
    max_tag_chars: int = 256
    max_attachment_bytes: int = 16_384
    max_message_bytes: int = 32 * 1024 * 1024
    max_auto_response_bytes: int = 2_048
    block_concurrency_timeout_ms: int = 30_000  # then the object is reset
    alarm_max_retries: int = 6
    alarm_first_retry_ms: int = 2_000
