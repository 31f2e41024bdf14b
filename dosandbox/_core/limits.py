"""The platform's limits, in one object so tests (and curious users) can change them.

Sources: developers.cloudflare.com/durable-objects/platform/limits/ and the cloudwerk API.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ValidationError

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
    # Not a platform limit: persisted databases kept open at once (3 file descriptors each);
    # idle ones beyond it are closed and reopened on their next use.
    max_open_databases: int = 64
    max_sql_statement_bytes: int = 100_000
    max_sql_bindings: int = 100
    max_sql_columns: int = 100
    max_sql_result_bytes: int = 64 * 1024 * 1024  # held by one to_list()/to_df(); iterate for more
    max_rpc_bytes: int = 32 * 1024 * 1024
    max_sockets: int = 32_768
    max_tags: int = 10
    max_tag_chars: int = 256
    max_attachment_bytes: int = 16_384
    max_message_bytes: int = 32 * 1024 * 1024
    max_auto_response_bytes: int = 2_048
    block_concurrency_timeout_ms: int = 30_000  # then the object is reset
    # CPU time one event may use without yielding; then the object is reset, as the platform
    # does after 30 s (its `limits.cpu_ms`, up to 300,000). None turns the limit off.
    max_cpu_ms_per_event: int | None = 30_000
    alarm_max_retries: int = 6
    alarm_first_retry_ms: int = 2_000
    # Not a platform limit: the point-in-time recovery history one object keeps (its change
    # log and images, bytes). The 30-day window bounds it too; the oldest entries go first.
    # 0 keeps no history (the bookmark API then refuses with the fix).
    max_history_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        cpu = self.max_cpu_ms_per_event
        if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, int) or cpu <= 0):
            raise ValidationError(
                f"Limits(max_cpu_ms_per_event=...) takes a positive number of milliseconds or "
                f"None (no limit), not {cpu!r}; e.g. Limits(max_cpu_ms_per_event=30_000), "
                "the platform's default."
            )
