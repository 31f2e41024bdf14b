"""``Sandbox``: one clock, one loop, the registered namespaces, the event log.

The sandbox is the notebook's handle on a little world of objects: register definitions,
get stubs through ``sb.durable_objects.<name>``, drive calls with ``await`` or ``sb.run``, move
the clock, and look inside with ``sb.inspect(stub)``.
"""

from __future__ import annotations

import datetime as dt
import inspect
import keyword
import os
import random
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._core import display
from ._core.aliases import AliasMixin
from ._core.clock import MAX_CLOCK_MS, VirtualClock, to_epoch_ms
from ._core.codec import shown
from ._core.errors import (
    ClockError,
    ConfigError,
    DurableObjectNotFoundError,
    HttpError,
    StorageError,
    ValidationError,
    did_you_mean,
)
from ._core.events import Event, EventLog, events_frame
from ._core.limits import Limits
from ._core.naming import binding_name, class_name_for
from ._core.notices import notify
from ._core.record import ObjectRecord
from ._core.stepper import Stepper
from ._core.world import World, make_folder
from ._notebook.alarm_view import RepeatingAlarmWatch, alarms_frame, pending_alarm_count
from ._notebook.checkpoints import Checkpoint, rewind, take_checkpoint
from ._notebook.client import SimulatedClient, connect
from ._notebook.handle import Handle
from ._project import project as _project
from ._project.discovery import discover
from ._runtime.definition import DurableObjectDefinition, named_definition
from ._runtime.deploy import redeploy
from ._runtime.http import Request, Response
from ._runtime.namespace import Namespace, RpcCall, Stub
from ._runtime.object import DurableObject, validate_class
from ._runtime.parts import close_parts
from ._runtime.websocket import disconnect
from ._runtime.worker import Front, WorkerCall
from ._storage.database import FolderLock

if TYPE_CHECKING:
    from ._notebook.server import Server

T = TypeVar("T")

__all__ = ["Sandbox", "active_sandbox", "load_project"]

_active: Sandbox | None = None


def active_sandbox() -> Sandbox:
    """The sandbox ``dosandbox.bindings`` talks to: the newest one, or the last activated."""
    if _active is None:
        raise DurableObjectNotFoundError(
            "No sandbox is active: create one with dosandbox.Sandbox() (or call sb.activate() "
            "on an open one). A sandbox stops being active when it is closed."
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

    def __iter__(self) -> Iterator[str]:
        """The registered names, in order (``sorted(sb.durable_objects)`` works)."""
        return iter(list(self._sandbox.namespaces))

    def __len__(self) -> int:
        return len(self._sandbox.namespaces)

    def __dir__(self) -> list[str]:
        return sorted(self._sandbox.namespaces)

    def __repr__(self) -> str:
        return f"<durable_objects: {', '.join(sorted(self._sandbox.namespaces)) or 'none'}>"


def _check_options(
    seed: Any, limits: Any, script_name: Any, virtual_time: Any, event_log_size: Any
) -> None:
    """ValidationErrors for Sandbox() arguments of the wrong kind, before anything is built."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, float, str, bytes))
    ):
        raise ValidationError(
            f"Sandbox(seed=...) takes an int (or a str), not {type(seed).__name__} {seed!r}; "
            "e.g. Sandbox(seed=42) makes new_unique_id() repeat across runs."
        )
    if limits is not None and not isinstance(limits, Limits):
        hint = f"Limits(**{limits!r})" if isinstance(limits, Mapping) else "Limits(...)"
        raise ValidationError(
            f"Sandbox(limits=...) takes a dosandbox.Limits, not {type(limits).__name__}; "
            f"write limits={hint} (from dosandbox import Limits)."
        )
    if not isinstance(script_name, str) or not script_name:
        raise ValidationError(
            f"Sandbox(script_name=...) takes the Worker's name as a non-empty str, not "
            f"{type(script_name).__name__} {script_name!r}; e.g. script_name='my-worker'."
        )
    if not isinstance(virtual_time, bool):
        raise ValidationError(
            f"Sandbox(virtual_time=...) takes True or False, not "
            f"{type(virtual_time).__name__} {virtual_time!r}."
        )
    if isinstance(event_log_size, bool) or not isinstance(event_log_size, int) or (
        event_log_size < 1
    ):
        raise ValidationError(
            f"Sandbox(event_log_size=...) takes how many events to keep, an int >= 1, not "
            f"{event_log_size!r}; e.g. event_log_size=10_000 (the default)."
        )


def _persist_root(persist: Any) -> Path | None:
    """The persist folder, created and checked (a file, a file above it, no write access)."""
    if persist is None:
        return None
    if not isinstance(persist, (str, os.PathLike)):
        raise ValidationError(
            f"Sandbox(persist=...) takes a folder path (a str or pathlib.Path), not "
            f"{type(persist).__name__} {persist!r}; e.g. Sandbox(persist='data')."
        )
    root = Path(persist)
    make_folder(root, "Sandbox(persist=...)")
    return root


class Sandbox(AliasMixin):
    """A deterministic little Durable Objects platform inside this process.

    ``start``: the virtual clock's start (default: now, to the second). ``clock_mode``:
    ``manual`` (default), ``autojump`` or ``realtime``. ``seed`` makes ``new_unique_id``
    repeatable. ``env``: variables for ``ctx.env``. ``persist``: a folder to keep each object's
    SQLite database in (in memory by default; one sandbox at a time per folder, until
    ``close()``). ``limits``: a :class:`Limits` to change the
    platform's limits (tests use small ones). ``virtual_time``: make ``time.time()`` and
    ``datetime.now()`` read the virtual clock inside object code. ``worker``: the Worker in
    front of the objects for ``sb.fetch`` / ``sb.connect(url)``, a class with
    ``fetch(self, request)`` (built as ``cls(ctx, env)`` per request) or a function
    ``fetch(request, env, ctx)``; without one, ``/<object>/<name>/...`` reaches that object.
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
        worker: Any = None,
    ) -> None:
        if start is None:
            start_ms = int(time.time()) * 1000
        else:
            start_ms = to_epoch_ms(start, now_ms=0, what="Sandbox(start=...)")
            if not 0 < start_ms <= MAX_CLOCK_MS:
                raise ClockError(
                    f"Sandbox(start=...) must be after 1970-01-01 and at most 9999-12-31 (the "
                    f"clock's range), got {start!r}; e.g. Sandbox(start=datetime(2030, 1, 1, "
                    "tzinfo=timezone.utc)), or leave it out to start at the current time."
                )
        if env is not None and not isinstance(env, Mapping):
            raise ValidationError(
                f"Sandbox(env=...) takes a dict, not {type(env).__name__}; e.g. "
                "Sandbox(env={'API_URL': 'https://example.com'})."
            )
        _check_options(seed, limits, script_name, virtual_time, event_log_size)
        clock = VirtualClock(start_ms, clock_mode)
        if not virtual_time:
            clock._wall.enter = lambda: None  # type: ignore[method-assign]
        persist_root = _persist_root(persist)
        # One writer per folder: a sandbox of another process on it fails here, naming the
        # holder; an older one of this process (a re-run cell) is closed and taken over.
        self._folder_lock = FolderLock(persist_root) if persist_root is not None else None
        self._user_env = dict(env or {})
        self._env = Env(self._user_env)
        # Everything below the sandbox holds this World, never the sandbox itself.
        self.world = World(
            clock=clock,
            event_log=EventLog(clock, maxlen=event_log_size),
            limits=limits or Limits(),
            rng=random.Random(seed),
            persist=persist_root,
            script_name=script_name,
            env=self._env,
        )
        self.world.view_subject = self
        self.clock = clock
        self.loop = self.world.loop
        self.loop.set_exception_handler(self._on_loop_exception)
        self.driver = self.world.driver
        self.rng = self.world.rng
        self.script_name = script_name
        self.limits = self.world.limits
        self.persist = persist_root
        self.event_log = self.world.event_log
        self.namespaces: dict[str, Namespace] = {}
        self.durable_objects = DurableObjects(self)
        # The Worker in front: sb.fetch / sb.connect(url) go through it (or the router).
        self._front = Front(self.world, env=self._env, worker=worker, router=self._route)
        self._on_close: list[Callable[[], None]] = []
        self._servers: list[Server] = []  # sb.serve(): stopped when the sandbox closes
        self._checkpoints: list[Checkpoint] = []
        self._checkpoint_count = 0
        self.project: _project.Project | None = None
        world = self.world
        self._stepper = Stepper(world, periodic_watch=lambda n: RepeatingAlarmWatch(world, n))
        if self._folder_lock is not None:
            me = weakref.ref(self)
            self._folder_lock.release_holder = lambda: _close_taken_over(me)
            if self._folder_lock.took_over:
                self.event_log.emit(
                    "sandbox.takeover",
                    f"persist folder {persist_root} taken over from an earlier Sandbox of this "
                    "process, which is now closed (one writer per folder)",
                    warning=True,
                )
        self.activate()
        # Attached last: in realtime mode this starts following the wall clock.
        clock.attach(self._stepper, view_subject=self)

    @property
    def closed(self) -> bool:
        return self.world.closed

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
        found = discover(path)
        if found.problems:
            if strict:
                raise ConfigError(
                    found.report() + "\n(pass strict=False to load the objects that are fine)",
                    problems=list(found.problems),
                )
            notify(found.report() + "\n(the other objects loaded)", code="PROJECT_PROBLEMS")
        sb = cls(**kwargs)
        for obj in found.objects:
            if isinstance(obj.definition, DurableObjectDefinition):
                sb.register(obj.name, obj.definition, class_name=obj.class_name)
            else:
                sb.register(obj.name, obj.definition)
        return sb

    # --- registering -------------------------------------------------------------------------

    def register(
        self,
        name: str | DurableObjectDefinition,
        definition: DurableObjectDefinition | type[DurableObject] | None = None,
        *,
        class_name: str | None = None,
    ) -> Namespace:
        """Add a namespace ``name`` for a definition or a ``DurableObject`` subclass.

        ``sb.register(definition)`` uses the definition's ``name=``. Registering a name again
        is a deploy (a re-run cell): the new code replaces the old, live instances restart
        on it as on the platform (in-memory state gone; storage, the alarm and hibernatable
        sockets kept; an object with events in flight or standard-API sockets is reset), and
        stubs you hold reach the new code. The class name must stay the same.
        """
        if definition is None:
            name, definition = named_definition(name)
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(
                f"Object names are Python identifiers (they become sb.durable_objects.<name>), "
                f"got {name!r}. Use lowercase with underscores, like 'chat_room'.",
            )
        if class_name is not None and (
            not isinstance(class_name, str) or not class_name.isidentifier()
            or keyword.iskeyword(class_name)
        ):
            raise ConfigError(
                f"register(class_name=...) takes the name of the class the Worker exports, an "
                f"identifier such as 'ChatRoom', not {class_name!r}; wrangler binds it by that "
                "name, so letters, digits and underscores only.",
                object_name=name,
            )
        existing = self.namespaces.get(name)
        if isinstance(definition, DurableObjectDefinition):
            definition.validate(name)
            default = existing.class_name if existing is not None else class_name_for(name)
            cls = definition.build_class(class_name or default)
        else:
            validate_class(definition, name)
            cls = definition  # type: ignore[assignment]
        if existing is not None:
            return self._redeploy(existing, cls)
        self._check_free(name, cls)
        namespace = Namespace(self.world, name, cls)
        self.namespaces[name] = namespace
        self._user_env.setdefault(namespace.binding, namespace)
        self.event_log.emit("register", f"registered {name} ({cls.__name__})", object_name=name)
        if self.persist is not None:
            # Alarms persisted with the objects come back (overdue ones fire at the next step).
            namespace.restore_alarms()
        return namespace

    def _check_free(self, name: str, cls: type[DurableObject]) -> None:
        """A new name may not take another namespace's binding, nor export another class
        under the same class name (one class under two names is fine, as two bindings)."""
        binding, class_name = binding_name(name), cls.__name__
        for other in self.namespaces.values():
            same_export = other.class_name == class_name and other.cls is not cls
            if other.binding == binding or same_export:
                clash = (f"the binding env.{binding}" if other.binding == binding
                         else f"the class name {class_name}")
                raise ConfigError(
                    f"{name!r} would take {clash}, which {other.name!r} ({other.class_name}) "
                    f"already has; a Worker binds and exports each once. Register it under "
                    f"another name, or register {other.name!r} again to deploy new code for it.",
                    object_name=name,
                )

    def _redeploy(self, namespace: Namespace, cls: type[DurableObject]) -> Namespace:
        """``register`` of a taken name: new code for the namespace, logged as "redeployed"."""
        self.driver.check_outside(f"sb.register({namespace.name!r}, ...)")
        restarted, reset = redeploy(namespace, cls)
        parts = [f"{restarted} live instance(s) restarted"] if restarted else []
        if reset:
            parts.append(f"{reset} reset (they could not hibernate first)")
        self.event_log.emit(
            "redeployed",
            f"redeployed {namespace.name} ({cls.__name__}): "
            f"{', '.join(parts) or 'no live instance'}; storage and alarms kept",
            object_name=namespace.name,
        )
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
        if type(awaitable) is not RpcCall and not inspect.isawaitable(awaitable):
            call = " (call it: sb.run(fn()))" if callable(awaitable) else ""
            raise ValidationError(
                f"sb.run() takes an awaitable, such as a call stub.method(...) or a coroutine "
                f"fn(), not {type(awaitable).__name__} {shown(awaitable)}{call}. A value that "
                "is already computed needs no sb.run()."
            )
        return self.driver.drive(awaitable, "sb.run()")

    def _on_loop_exception(self, loop: Any, context: dict[str, Any]) -> None:
        err = context.get("exception")
        message = context.get("message", "error in the sandbox loop")
        if err is not None:
            message = f"{message}: {type(err).__name__}: {err}"
        self.event_log.emit("error", message)

    # --- simulated WebSocket clients ---------------------------------------------------------

    def connect(
        self, target: Stub | str, url: str = "/", *, headers: Any = None
    ) -> SimulatedClient:
        """Open a simulated WebSocket client; returns ``send()``, ``messages``, ``receive()``...

        ``sb.connect("/room/lobby")`` goes through the Worker in front (``Upgrade: websocket``
        on a request to that URL), so its routing runs as on the platform;
        ``sb.connect(stub, "/ws")`` goes straight to the object's ``fetch``. Relative URLs
        resolve against ``http://dosandbox.local``.
        """
        if isinstance(target, str):
            if url != "/":
                raise ValidationError(
                    f"sb.connect({target!r}, {url!r}): give one URL. Through the Worker it is "
                    f"sb.connect({target!r}); to an object, sb.connect(stub, {url!r})."
                )
            return self._connect_through_worker(target, headers)
        return connect(self.world, target, url, headers=headers)

    def _connect_through_worker(self, url: str, headers: Any) -> SimulatedClient:
        self.driver.check_outside("sb.connect()")
        request = Request(url, headers=headers)
        request.headers["upgrade"] = "websocket"
        request.headers.setdefault("connection", "Upgrade")
        request.headers.setdefault("sec-websocket-version", "13")
        key = self.rng.getrandbits(128).to_bytes(16, "big").hex()
        request.headers.setdefault("sec-websocket-key", key)
        response = self.driver.drive(self.fetch(request), "sb.connect()")
        ws = response.web_socket
        if response.status != 101 or ws is None:
            raise HttpError(
                "Failed to establish the WebSocket connection: expected server to reply with "
                f"HTTP status code 101 (switching protocols), but received {response.status} "
                f"instead, for {request.url}. The Worker must route the upgrade to an object "
                "(return await stub.fetch(request)), whose fetch returns "
                "Response(None, status=101, web_socket=client)."
            )
        if ws._peer._registry is None:
            disconnect(ws)
            raise HttpError(
                "The WebSocket returned for this request was never accepted on the other "
                "side, so no handler would see this client's messages. Call "
                "ctx.acceptWebSocket(server) (or server.accept()) before returning the client "
                "half."
            )
        return SimulatedClient(self.world, ws, request.url)

    # --- the Worker in front -----------------------------------------------------------------

    @classmethod
    def from_project(cls, path: str | Path = ".", **kwargs: Any) -> Sandbox:
        """A sandbox running a Python Workers project as it is, its Worker in front.

        Reads ``wrangler.jsonc`` / ``wrangler.json`` / ``wrangler.toml`` in ``path`` (or the
        config file ``path`` names), imports ``main`` from its file with dosandbox's
        ``workers`` and ``js`` modules, registers each Durable Object binding
        (``LISTS`` → ``sb.durable_objects.lists``, ``env.LISTS``), puts ``vars`` on ``env``
        and ``class Default(WorkerEntrypoint)`` in front: ``await sb.fetch("/...")``.
        Problems are ProjectErrors naming the file and the fix. Other keyword arguments go to
        ``Sandbox(...)`` (``env=`` adds to or overrides ``vars``).
        """
        project = _project.read_project(path)
        env = {**project.vars, **dict(kwargs.pop("env", None) or {})}
        kwargs.setdefault("script_name", project.name)
        sb = cls(env=env, **kwargs)
        try:
            from ._project.pyworkers.ffi import PyEnv

            # The Worker sees env as the SDK wraps it (bindings as namespaces, stubs wrapped).
            sb._front.env = PyEnv(sb._env)
            _project.import_main(project, sb._front)
            sb._on_close.append(project.release)
            sb.project = project
            for binding in project.bindings:
                assert binding.cls is not None
                ns = sb.register(binding.object_name, binding.cls)
                if ns.binding != binding.name:
                    sb._user_env.pop(ns.binding, None)
                    ns.binding = binding.name
                    sb._user_env[binding.name] = ns
            sb._front.worker = project.worker
            for note in project.skipped:
                sb.event_log.emit(
                    "project.skipped", f"binding {note} is not run here: it belongs to another "
                    "Worker (script_name)", warning=True,
                )
            if "python_workers" not in project.compatibility_flags:
                sb.event_log.emit(
                    "project.warning", f"{project.config_path} lacks compatibility_flags = "
                    '["python_workers"]; the platform needs it to run a Python Worker',
                    warning=True,
                )
        except BaseException:
            sb.close()
            raise
        return sb

    def fetch(self, request: Any = None, /, **init: Any) -> WorkerCall:
        """Send an HTTP request to the Worker in front and return an awaitable Response.

        ``request`` is a URL (relative ones resolve against ``http://dosandbox.local``) or a
        ``dosandbox.Request``; ``init`` takes ``method=``, ``headers=``, ``body=``...
        With no Worker, ``/<object>/<name>/...`` goes to that object's ``fetch`` (the request
        unchanged) and anything else is a 404 listing the objects.

        The contract (also for a server built on it): the result is an awaitable giving a
        ``dosandbox.Response``. Awaited in a notebook cell, or in a coroutine running on the
        notebook's loop, it drives the sandbox until the Worker answered; awaited inside
        Worker or object code it is an ordinary await; ``sb.run(sb.fetch(...))`` works too. A
        WebSocket upgrade (``Upgrade: websocket``) answered with status 101 carries the client
        half in ``response.web_socket``. An exception in the Worker is raised here (the
        platform would answer the client 500) and logged as a ``worker.error`` event.
        """
        self.world.check_open("sb.fetch()")
        return self._front.fetch(request, init)

    async def _route(self, request: Request) -> Response:
        """No Worker given: ``/<object>/<name>/...`` goes to that object's fetch."""
        from urllib.parse import unquote

        parts = request.parsed_url.path.split("/")
        if len(parts) >= 3 and parts[1] in self.namespaces and parts[2]:
            stub = self.namespaces[parts[1]].get(unquote(parts[2]))
            result: Response = await stub.fetch(request)
            return result
        names = ", ".join(f"/{n}/<name>/" for n in sorted(self.namespaces)) or "none yet"
        unknown = (f" There is no object named {parts[1]!r}."
                   if len(parts) >= 2 and parts[1] and parts[1] not in self.namespaces else "")
        return Response(
            f"Not found: {request.parsed_url.path}.{unknown} With no Worker, the sandbox routes "
            f"/<object>/<name>/... to that object's fetch (here: {names}); pass "
            "Sandbox(worker=...) to route requests yourself.\n",
            status=404,
            headers={"content-type": "text/plain; charset=utf-8"},
        )

    @property
    def worker(self) -> Any:
        """The Worker in front (a class or a fetch function), or None for the router."""
        return self._front.worker

    @property
    def outbound(self) -> Any:
        """Where ``fetch()`` from Worker or object code goes: None refuses (the default).

        Set a function of the request returning a Response (``def`` or ``async def``), or a
        route table ``{"https://api.example.com/": Response.json({...}), "*": fn}`` (URL
        prefixes, host names or ``"*"``; the longest match wins). Every request is an
        ``outbound.fetch`` event, answered or refused.
        """
        return self._front.outbound.handler

    @outbound.setter
    def outbound(self, value: Any) -> None:
        self._front.outbound.set(value)

    # --- serving real clients ------------------------------------------------------------------

    def serve(self, port: int = 8787, host: str = "127.0.0.1") -> Server:
        """Serve real HTTP and WebSocket clients on ``host:port`` from this kernel's loop.

        Requests go to the Worker in front, as ``sb.fetch`` sends them (with no Worker,
        ``/<object>/<name>/...`` reaches that object's ``fetch``); WebSocket upgrades become real
        sockets the object accepts; an exception that escapes answers 500. The clock follows
        the wall clock while serving (said when it starts). Returns the server: ``url``,
        ``proxy_url`` (under Jupyter), ``stop()``. In a plain script, call
        ``server.serve_forever()``. A ServeError names a port in use.
        """
        from ._notebook.server import Server  # aiohttp loads only when serving

        server = Server(self, port=port, host=host)
        self._servers = [s for s in self._servers if not s.stopped] + [server]
        return server

    # --- looking inside ----------------------------------------------------------------------

    def inspect(self, stub: Stub, *, tab: str | None = None) -> Handle:
        """The sandbox's view of one object: state, storage, sockets, alarm, events.

        Displayed, it is the live inspector, opened on ``tab`` (``"KV"``, ``"SQL"``,
        ``"Sockets"``...); without one, on the most telling tab for what the object holds.
        """
        return Handle(stub, tab=tab)

    def handles(self) -> list[Handle]:
        """A handle on every object that exists, by namespace, in the order first used.

        An object exists once an event reached it or it holds storage; stubs never called
        create none (as vitest's ``listDurableObjectIds``).
        """
        return [
            Handle(ns.get_by_id(record.id)) for ns in self.namespaces.values()
            for record in ns.known_records()
        ]

    def evict_all(self) -> int:
        """Evict every live object (vitest's ``evictAllDurableObjects``); returns how many.

        Storage, alarms and hibernatable sockets stay. Refused, evicting none, while any
        object has an event in flight: the platform only evicts idle objects.
        """
        live = [
            Handle(ns.get_by_id(r.id)) for ns in self.namespaces.values()
            for r in ns.records.values() if r.instance is not None
        ]
        busy = [h for h in live if h.in_flight]
        if busy:
            names = ", ".join(f"{h.name} {h.id[:12]}…" for h in busy)
            raise ValidationError(
                f"evict_all(): {names} still run events; the platform only evicts idle "
                "objects. Let them finish first (move the clock), then evict.",
            )
        return sum(h.evict() for h in live)

    def _records(self) -> Iterator[ObjectRecord]:
        for ns in self.namespaces.values():
            yield from ns.records.values()

    def objects(self) -> Any:
        """A DataFrame of every object that exists: name, id, status, events.

        Objects reached by an event or holding storage (also persisted ones not yet used this
        session); a stub never called creates none, as on the platform.
        """
        from ._core.frames import frame_of

        rows = []
        for ns in self.namespaces.values():
            for record in ns.known_records():
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
        return frame_of(rows, columns)

    def events(self, kind: str | None = None) -> Any:
        """A DataFrame of the event log (newest last); ``kind`` filters, e.g. ``"alarm"``."""
        return events_frame(self.event_log.select(kind=kind))

    def alarms(self) -> Any:
        """A DataFrame of every pending alarm, in firing order (object, name, id, time, ...)."""
        return alarms_frame(self.world, self._records())

    def pending_alarm_count(self) -> int:
        """How many alarms wait for their time (cheap: no DataFrame is built)."""
        return pending_alarm_count(self.world)

    # --- checkpoints (lessons: try something, rewind) ----------------------------------------

    def checkpoint(self, label: str | None = None) -> Checkpoint:
        """Note the whole sandbox now (every object's storage and alarm, the clock) to come
        back to with :meth:`rewind`. Taken between calls, never from object code."""
        if label is not None and not isinstance(label, str):
            raise ValidationError(
                f"checkpoint(label) takes a str naming it, not {type(label).__name__}."
            )
        self._checkpoint_count += 1
        cp = take_checkpoint(self.world, self.namespaces.values(), self._checkpoint_count, label)
        self._checkpoints.append(cp)
        return cp

    def rewind(self, checkpoint: Checkpoint) -> None:
        """Put every object's storage, its alarm and the clock back to ``checkpoint``.

        A restart of every object: instances are reset (stubs that reached them fail; get new
        ones), every WebSocket closes with 1006, hibernatable ones too, simulated clients
        see it; alarms are re-armed from the restored state; objects made since come back
        empty. Checkpoints taken after it and bookmarks of states after it stop working.
        """
        rewind(self.world, self.namespaces.values(), checkpoint)
        for later in self._checkpoints:
            if later.number > checkpoint.number:
                later.discarded = True
        self._checkpoints = [c for c in self._checkpoints if not c.discarded]

    @property
    def checkpoints(self) -> list[Checkpoint]:
        """The checkpoints :meth:`rewind` can go to, oldest first."""
        return list(self._checkpoints)

    # --- following along (live views) --------------------------------------------------------

    def subscribe(
        self,
        *,
        on_event: Callable[[Event], None] | None = None,
        on_clock: Callable[[], None] | None = None,
        on_idle: Callable[[], None] | None = None,
    ) -> Callable[[], None]:
        """Be told as the sandbox changes; returns a function that unsubscribes all three.

        ``on_event(event)`` for every event logged, ``on_clock()`` each time the clock moves,
        ``on_idle()`` when the outermost drive (a call, a clock step) has ended.
        """
        undo: list[Callable[[], None]] = []
        if on_event is not None:
            undo.append(self.event_log.subscribe(on_event))
        if on_clock is not None:
            undo.append(self.clock.subscribe(on_clock))
        if on_idle is not None:
            hooks = self.driver.on_idle
            hooks.append(on_idle)
            undo.append(lambda: hooks.remove(on_idle) if on_idle in hooks else None)

        def unsubscribe() -> None:
            while undo:
                undo.pop()()

        return unsubscribe

    def output_to(self, write: Callable[[str, str], None]) -> AbstractContextManager[None]:
        """While the ``with`` block runs, what object code prints goes to ``write``.

        ``write(stream, text)`` gets ``"stdout"`` or ``"stderr"`` and the text, for every
        print (and notice) of the drives made inside the block: a view whose button moves
        the clock shows them under itself (the clock bar does). Outside such a block, prints
        go to the cell or callback that drives the sandbox, wherever the call began.
        """
        return self.driver.output.capture(write)

    @property
    def is_driving(self) -> bool:
        """Is a drive (an awaited call, a clock step) running right now?"""
        return self.driver.depth > 0

    def widget(self) -> Any:
        """The dashboard: clock bar, objects and the global event log."""
        return display.widget("sandbox", self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return display.mimebundle("sandbox", self)

    def close(self) -> None:
        """Close every object's storage and the loop. The sandbox cannot be used after."""
        if self.world.closed:
            return
        for server in getattr(self, "_servers", ()):
            server.stop()  # sockets close with 1001 while the objects still run
        self._stepper.stop_realtime()
        try:
            self._front.close()
            while self._on_close:  # (a project's modules and sys.path entry)
                try:
                    self._on_close.pop()()
                except Exception as exc:  # storage still closes, and the other hooks run
                    self.event_log.emit("sandbox.close", f"a close hook raised "
                                        f"{type(exc).__name__}: {exc}", error=exc)
            for record in self._records():
                close_parts(record)
            self.loop.close()
            self.world.closed = True
        finally:
            if self._folder_lock is not None:  # after the files are closed: the folder is free
                self._folder_lock.release()
            global _active
            if _active is self:  # nor does it stay reachable (its world, its objects) through it
                _active = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_project(path: str | Path = ".", **kwargs: Any) -> Sandbox:
    """A plain alias of :meth:`Sandbox.from_project` (same arguments, same result): a Python
    Workers project loaded with its Worker in front."""
    return Sandbox.from_project(path, **kwargs)


def _close_taken_over(ref: weakref.ref[Sandbox]) -> None:
    """A newer Sandbox of this process opens our persist folder: close, so one writes it."""
    sandbox = ref()
    if sandbox is None or sandbox.closed:
        return
    if sandbox.is_driving:
        raise StorageError(
            f"The persist folder {sandbox.persist} is in use by a Sandbox that is running a "
            "call right now; a new Sandbox on the same folder cannot take it over from inside "
            "that call. Use another persist= folder for the new one."
        )
    sandbox.event_log.emit(
        "sandbox.closed",
        "closed: a newer Sandbox of this process opened the same persist folder",
        warning=True,
    )
    sandbox.close()
