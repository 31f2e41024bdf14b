"""The World: what every part of one sandbox shares, handed down instead of the Sandbox.

A :class:`~dosandbox.Sandbox` builds one World and gives it to its namespaces, which give it to
their records; storage, alarms, sockets and simulated clients read the loop, the clock, the log
and the limits from it. Nothing below the Sandbox holds the Sandbox.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

from .clock import VirtualClock
from .errors import ConfigError, DurableObjectError, sandbox_closed
from .events import EventLog
from .limits import Limits
from .loop import Driver, SandboxLoop

__all__ = ["World", "make_folder"]


def make_folder(
    path: Path, what: str, error: type[DurableObjectError] = ConfigError, fix: str = ""
) -> None:
    """Create ``path`` (and its parents) as a folder this process can write, or raise ``error``
    naming what is in the way and the fix (``fix``, or one for a path the user passed)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        where = "is a file" if blocker == path else f"cannot be made: {blocker} is a file"
        raise error(
            f"{what}: {path} {where}, not a folder. "
            + (fix or "Pass the path of a folder (it is created if missing), or move the file "
               "away.")
        ) from None
    except PermissionError:
        raise error(
            f"{what}: no permission to create {path}. "
            + (fix or "Pick a folder you can write (e.g. one under your home or the notebook's "
               "folder), or fix its permissions.")
        ) from None
    except OSError as exc:
        raise error(
            f"{what}: {path} cannot be created ({exc.strerror or exc}). "
            + (fix or "Pick another folder.")
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise error(
            f"{what}: {path} is not writable, so the objects' databases could not be kept "
            "there. " + (fix or "Pick a folder you can write, or fix its permissions "
                         "(chmod u+w).")
        )


class World:
    """One sandbox's loop, driver, clock, event log, limits, random source and persist root."""

    __slots__ = (
        "__weakref__",
        "clock",
        "closed",
        "driver",
        "env",
        "event_log",
        "limits",
        "loop",
        "persist",
        "rng",
        "script_name",
        "view_subject",
    )

    def __init__(
        self,
        *,
        clock: VirtualClock,
        event_log: EventLog,
        limits: Limits,
        rng: random.Random,
        persist: Path | None,
        script_name: str,
        env: Any,
    ) -> None:
        self.clock = clock
        self.loop = SandboxLoop(clock)
        self.driver = Driver(self.loop, clock)
        self.event_log = event_log
        self.limits = limits
        self.rng = rng
        self.persist = persist
        self.script_name = script_name
        # ``ctx.env`` of every object (variables plus one binding per namespace).
        self.env = env
        self.closed = False
        # What views of this world show (the Sandbox): read by notebook views only, never by
        # the runtime, which gets everything it needs from the World itself.
        self.view_subject: Any = None

    def check_open(self, what: str) -> None:
        """Raise DriverError naming ``what`` when the sandbox is closed."""
        if self.closed:
            raise sandbox_closed(what)

    def __repr__(self) -> str:
        return f"<World {self.clock!r} {'closed' if self.closed else 'open'}>"
