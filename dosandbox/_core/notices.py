"""The sandbox's own short notices: a :class:`SandboxWarning` reads as one line, no file path.

A Python warning normally prints as ``/path/to/dosandbox/_runtime/alarms.py:594: RuntimeWarning``
followed by the source line that raised it: in a notebook, a block that looks like a crash and
names the package's insides. The sandbox's warnings are notices for the user, so they print as
``dosandbox notice [ALARM_DROPPED]: counter 1a2b3c4d5e6f…: alarm dropped after …``.

They stay ordinary warnings (``warnings.filterwarnings``, ``pytest.warns`` and
``catch_warnings(record=True)`` see them as always): only their formatting changes, through
``warnings.formatwarning``, wrapped once and only for this category (every other warning is
formatted by whatever formatted it before). Written to ``sys.stderr`` as every warning is, so
during a drive they land where the user acted (see ``output.py``).
"""

from __future__ import annotations

import warnings
from typing import Any

from .errors import SandboxWarning

__all__ = ["PREFIX", "format_notice", "install", "notify"]

PREFIX = "dosandbox notice"

_previous: Any = None


def format_notice(notice: SandboxWarning) -> str:
    """``dosandbox notice [CODE]: message`` and a newline."""
    return f"{PREFIX} [{notice.code}]: {notice.message}\n"


def _formatwarning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    line: str | None = None,
) -> str:
    if isinstance(message, SandboxWarning):
        return format_notice(message)
    previous = _previous if _previous is not None else warnings._formatwarning_orig  # type: ignore[attr-defined]
    return str(previous(message, category, filename, lineno, line))


def install() -> None:
    """Format SandboxWarnings as notices from now on (idempotent; other warnings unchanged)."""
    global _previous
    current = warnings.formatwarning
    if current is _formatwarning:
        return
    _previous = current
    warnings.formatwarning = _formatwarning  # type: ignore[assignment]


def notify(
    message: str,
    *,
    code: str,
    object_name: str | None = None,
    object_id: str | None = None,
    stacklevel: int = 2,
) -> SandboxWarning:
    """Issue a notice (a SandboxWarning with ``code``); returns it."""
    install()
    notice = SandboxWarning(message, code=code, object_name=object_name, object_id=object_id)
    warnings.warn(notice, stacklevel=stacklevel + 1)
    return notice
