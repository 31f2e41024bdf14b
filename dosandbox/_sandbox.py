"""``Sandbox``: one clock, one loop, the registered namespaces, the event log.

The sandbox is the notebook's handle on a little world of objects: register definitions,
get stubs through ``sb.durable_objects.<name>``, drive calls with ``await`` or ``sb.run``, move
the clock, and look inside with ``sb.inspect(stub)``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import signal
import threading
import time
from collections.abc import Awaitable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._core.aliases import AliasMixin
from ._core.clock import VirtualClock, to_epoch_ms
from ._core.errors import (
    ConfigError,
    DriverError,
    DurableObjectNotFoundError,
    ValidationError,
    did_you_mean,
)
from ._core.events import EventLog, events_frame
from ._core.limits import Limits
from ._core.loop import Driver, SandboxLoop
from ._core.steps import StepReport
from ._runtime.definition import DurableObjectDefinition
from ._runtime.namespace import Namespace, Stub
from ._runtime.object import DurableObject, validate_class

if TYPE_CHECKING:
    from ._notebook.handle import Handle

T = TypeVar("T")

__all__ = ["Sandbox", "active_sandbox"]

_active: Sandbox | None = None


def active_sandbox() -> Sandbox:
    """The sandbox ``dosandbox.bindings`` talks to: the newest one, or the last activated."""
    if _active is None:
        raise DurableObjectNotFoundError(
            "No sandbox is active: create one with dosandbox.Sandbox() (or call sb.activate())."
        )
    return _active


class Env(AliasMixin):
    """``ctx.env``: your variables plus one binding per registered namespace (``env.COUNTER``)."""

    def __init__(self, values: dict[str, Any]) -> None:
        # Shared with the sandbox, which adds a binding on every register().
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"env has no {name!r}; it has {', '.join(sorted(self._values)) or 'nothing'}. "
                "Pass variables with Sandbox(env={...}); namespaces appear as their binding "
                "(COUNTER for 'counter')."
            ) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __dir__(self) -> list[str]:
        return sorted(self._values)

    def __repr__(self) -> str:
        return f"<Env {', '.join(sorted(self._values))}>"


class DurableObjects:
    """``sb.durable_objects``: namespaces by name, as attributes or items."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox

    def __getattr__(self, name: str) -> Namespace:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._sandbox.get_durable_object(name)

    def __getitem__(self, name: str) -> Namespace:
        return self._sandbox.get_durable_object(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._sandbox.has_durable_object(name)

    def __dir__(self) -> list[str]:
        return sorted(self._sandbox.namespaces)

    def __repr__(self) -> str:
        return f"<durable_objects: {', '.join(sorted(self._sandbox.namespaces)) or 'none'}>"


class Sandbox(AliasMixin):
    """A deterministic little Durable Objects platform inside this process.

    ``start``: the virtual clock's start (default: now, to the second). ``clock_mode``:
    ``manual`` (default), ``autojump`` or ``realtime``. ``seed`` makes ``new_unique_id``
    repeatable. ``env``: variables for ``ctx.env``. ``persist``: a folder to keep each object's
    SQLite database in (in memory by default). ``limits``: a :class:`Limits` to change the
    platform's limits (tests use small ones). ``virtual_time``: make ``time.time()`` and
    ``datetime.now()`` read the virtual clock inside object code.
    """

    def __init__(
        self,
        *,
        start: dt.datetime | float | None = None,
        clock_mode: str = "manual",
        seed: int | None = None,
        env: Mapping[str, Any] | None = None,
        persist: str | Path | None = None,
        limits: Limits | None = None,
        script_name: str = "dosandbox",
        virtual_time: bool = True,
        event_log_size: int = 10_000,
    ) -> None:
        if start is None:
            start_ms = int(time.time()) * 1000
        else:
            start_ms = to_epoch_ms(start, now_ms=0, what="Sandbox(start=...)")
            if start_ms <= 0:
                raise ValidationError("Sandbox(start=...) must be after 1970-01-01.")
        if env is not None and not isinstance(env, Mapping):
            raise ValidationError(f"Sandbox(env=...) takes a dict, not {type(env).__name__}.")
        self.clock = VirtualClock(start_ms, clock_mode)
        self.clock._sandbox = self
        if not virtual_time:
            self.clock._wall.enter = lambda: None  # type: ignore[method-assign]
        self.loop = SandboxLoop(self.clock)
        self.loop.set_exception_handler(self._on_loop_exception)
        self.driver = Driver(self.loop, self.clock)
        self.rng = random.Random(seed)
        self.script_name = script_name
        self.limits = limits or Limits()
        self.persist = Path(persist) if persist is not None else None
        if self.persist is not None:
            self.persist.mkdir(parents=True, exist_ok=True)
        self.event_log = EventLog(self.clock, maxlen=event_log_size)
        self.namespaces: dict[str, Namespace] = {}
        self._user_env = dict(env or {})
        self._env = Env(self._user_env)
        self.durable_objects = DurableObjects(self)
        self._realtime_task: Any = None
        self.closed = False
        self.activate()
        if clock_mode == "realtime":
            self.clock._start_realtime()

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.namespaces)) or "no objects"
        return f"<Sandbox {self.clock.format_ms(self.clock.now_ms)} [{self.clock.mode}] {names}>"

    def activate(self) -> Sandbox:
        """Make this the sandbox ``dosandbox.bindings.durable_objects`` talks to."""
        global _active
        _active = self
        return self

    @classmethod
    def from_directory(
        cls, path: str | Path = "objects", *, strict: bool = True, **kwargs: Any
    ) -> Sandbox:
        """A sandbox with every object of a project folder registered (one module an object).

        ``objects/chat_room.py`` becomes ``sb.durable_objects.chat_room`` (class ``ChatRoom``,
        binding ``CHAT_ROOM``). Problems in any file are raised together as one ConfigError;
        with ``strict=False`` they are warned about and the other objects load. Other keyword
        arguments go to ``Sandbox(...)``.
        """
        from ._project.discovery import load_directory

        return load_directory(cls, path, strict=strict, **kwargs)

    # --- registering -------------------------------------------------------------------------

    def register(
        self,
        name: str,
        definition: DurableObjectDefinition | type[DurableObject],
        *,
        class_name: str | None = None,
    ) -> Namespace:
        """Add a namespace ``name`` for a definition or a ``DurableObject`` subclass."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(
                f"Object names are Python identifiers (they become sb.durable_objects.<name>), "
                f"got {name!r}. Use lowercase with underscores, like 'chat_room'.",
            )
        if name in self.namespaces:
            raise ConfigError(
                f"An object named {name!r} is already registered "
                f"({self.namespaces[name].class_name}). Pick another name, or make a new "
                "Sandbox() to start over.",
                object_name=name,
            )
        if isinstance(definition, DurableObjectDefinition):
            definition.validate(name)
            cls = definition.build_class(class_name or _class_name_for(name))
        else:
            validate_class(definition, name)
            cls = definition  # type: ignore[assignment]
        namespace = Namespace(self, name, cls)
        self.namespaces[name] = namespace
        self._user_env.setdefault(namespace.binding, namespace)
        self.event_log.emit("register", f"registered {name} ({cls.__name__})", object_name=name)
        if self.persist is not None:
            from ._runtime.alarms import restore_alarms

            # Alarms persisted with the objects come back (overdue ones fire at the next step).
            restore_alarms(namespace)
        return namespace

    def get_durable_object(self, name: str) -> Namespace:
        namespace = self.namespaces.get(name)
        if namespace is None:
            raise DurableObjectNotFoundError(
                f"No Durable Object named {name!r} is registered; "
                f"{did_you_mean(name, self.namespaces)}. Register it with "
                f"sb.register({name!r}, definition).",
                object_name=name,
            )
        return namespace

    def has_durable_object(self, name: str) -> bool:
        return name in self.namespaces

    def env_for(self, namespace: Namespace) -> Env:
        return self._env

    @property
    def env(self) -> Env:
        return self._env

    # --- driving -----------------------------------------------------------------------------

    def run(self, awaitable: Awaitable[T]) -> T:
        """Drive the sandbox until ``awaitable`` is done and return its result."""
        return self.driver.drive(awaitable, "sb.run()")

    @contextlib.contextmanager
    def _stepping(self, what: str) -> Iterator[list[Any]]:
        """Drive for a clock step; collects the events it produced; Ctrl-C stops cleanly."""
        self.driver.check_outside(what)
        if self.closed:
            raise DriverError(
                f"{what}: this sandbox is closed. Make a new Sandbox() (with the same persist= "
                "folder to find the objects' data again)."
            )
        interrupted: list[Any] = []
        previous = None
        if threading.current_thread() is threading.main_thread():
            def on_sigint(signum: int, frame: Any) -> None:
                interrupted.append(True)

            with contextlib.suppress(ValueError):
                previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            with self.driver:
                self.driver.run_ready()
                yield interrupted
                self.driver.run_ready()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        if interrupted:
            raise KeyboardInterrupt(f"{what} interrupted between two events; nothing half done.")

    def _progress(self, total: int | None, what: str) -> Any:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=what, unit="event", leave=False, mininterval=0.5)
        # time.time() reads the virtual clock during a drive; the bar's rate needs real time.
        bar._time = time.perf_counter
        bar.reset(total=total)
        return bar

    def _step_until(self, target_ms: int, what: str) -> StepReport:
        start_ms, first_seq = self.clock.now_ms, self.event_log.last_seq
        with self._stepping(what) as interrupted:
            self._jump_through_timers(interrupted, what, limit_ms=target_ms)
            if not interrupted:
                self.clock._set_ms(max(target_ms, self.clock.now_ms))
        return StepReport(self.event_log.since(first_seq), start_ms=start_ms,
                          end_ms=self.clock.now_ms)

    def _jump_through_timers(
        self, interrupted: list[Any], what: str, *, limit_ms: int | None = None,
        max_steps: int | None = None,
    ) -> int:
        """Jump from timer to timer, running what each makes ready; returns the jumps made.

        Stops at ``limit_ms``, after ``max_steps`` jumps, or between two events on Ctrl-C.
        Long runs show a progress bar, updated in batches (per-event updates cost ~10%).
        """
        driver = self.driver
        jump, run_ready = driver.jump_to_next_timer, driver.run_ready  # once per event
        count = 0
        bar = None
        batch = 256
        try:
            while not interrupted and jump(limit_ms):
                run_ready()
                count += 1
                if count % batch == 0:
                    if bar is None and count >= 1024:
                        bar = self._progress(None, what)
                        bar.update(count)
                    elif bar is not None:
                        bar.update(batch)
                if max_steps is not None and count >= max_steps:
                    break
        finally:
            if bar is not None:
                bar.update(count % batch)
                bar.close()
        return count

    def _step_next(self) -> StepReport:
        start_ms, first_seq = self.clock.now_ms, self.event_log.last_seq
        note = ""
        with self._stepping("run_next()"):
            if not self.driver.jump_to_next_timer():
                note = "; nothing was scheduled"
            self.driver.run_ready()
        return StepReport(self.event_log.since(first_seq), start_ms=start_ms,
                          end_ms=self.clock.now_ms, note=note)

    def _run_until_idle(self, limit: int) -> StepReport:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
            raise ValidationError(
                f"run_until_idle(limit=...) must be a positive int, got {limit!r}."
            )
        start_ms, first_seq = self.clock.now_ms, self.event_log.last_seq
        note = ""
        with self._stepping("run_until_idle()") as interrupted:
            count = self._jump_through_timers(interrupted, "run_until_idle()", max_steps=limit)
            if count >= limit and self.loop.next_timer() is not None:
                note = f"; stopped after limit={limit} steps with timers still pending"
        return StepReport(self.event_log.since(first_seq), start_ms=start_ms,
                          end_ms=self.clock.now_ms, note=note)

    def _stop_realtime(self) -> None:
        task = self._realtime_task
        self._realtime_task = None
        if task is not None:
            task.cancel()

    def _on_loop_exception(self, loop: Any, context: dict[str, Any]) -> None:
        err = context.get("exception")
        message = context.get("message", "error in the sandbox loop")
        if err is not None:
            message = f"{message}: {type(err).__name__}: {err}"
        self.event_log.emit("error", message)

    # --- simulated WebSocket clients ---------------------------------------------------------

    def connect(self, stub: Stub, url: str = "/", *, headers: Any = None) -> Any:
        """Open a WebSocket to ``stub`` through its ``fetch`` (``Upgrade: websocket``).

        Returns a simulated client: ``send()``, ``messages``, ``receive()``, ``close()``.
        Relative URLs resolve against ``http://dosandbox.local``.
        """
        from ._notebook.client import connect

        return connect(self, stub, url, headers=headers)

    # --- looking inside ----------------------------------------------------------------------

    def inspect(self, stub: Stub) -> Handle:
        """The sandbox's view of one object: state, storage, sockets, alarm, events."""
        from ._notebook.handle import Handle

        if not isinstance(stub, Stub):
            raise ValidationError(
                f"inspect() takes a stub (sb.durable_objects.<name>.get(...)), not "
                f"{type(stub).__name__}."
            )
        return Handle(stub._record, stub)

    def objects(self) -> Any:
        """A DataFrame of every object the sandbox knows: name, id, status, events."""
        import pandas as pd

        rows = []
        for ns in self.namespaces.values():
            for record in ns.records.values():
                rows.append(
                    {
                        "object": ns.name,
                        "class": ns.class_name,
                        "name": record.id.name,
                        "id": record.hex,
                        "status": record.status,
                        "instance": record.generation,
                        "events": record.events_delivered,
                        "in_flight": record.instance.in_flight if record.instance else 0,
                    }
                )
        columns = ["object", "class", "name", "id", "status", "instance", "events", "in_flight"]
        return pd.DataFrame(rows, columns=columns)

    def events(self, kind: str | None = None) -> Any:
        """A DataFrame of the event log (newest last); ``kind`` filters, e.g. ``"alarm"``."""
        return events_frame(self.event_log.select(kind=kind))

    def alarms(self) -> Any:
        """A DataFrame of every pending alarm, in firing order (object, name, id, time, ...)."""
        from ._runtime.alarms import alarms_frame

        return alarms_frame(self)

    def widget(self) -> Any:
        """The dashboard: clock bar, objects and the global event log."""
        from .widgets import Dashboard

        return Dashboard(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        from .widgets import mimebundle

        return mimebundle(self.widget)

    def close(self) -> None:
        """Close every object's storage and the loop. The sandbox cannot be used after."""
        if self.closed:
            return
        self._stop_realtime()
        for ns in self.namespaces.values():
            for record in ns.records.values():
                for hook in list(record.parts.get("on_close", ())):
                    hook()
        self.loop.close()
        self.closed = True

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _class_name_for(name: str) -> str:
    """``chat_room`` → ``ChatRoom``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "Object"
