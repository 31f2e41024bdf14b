"""The Python interpreter of the conformance scenarios, run by dosandbox.

Mirror of ``js/worker.mjs``: ``Runner`` is the object, ``run_op`` executes one scenario
operation inside it and renders the result in the tagged JSON form, with *Python* type names
(``None``, ``int``, ``float``, ``dict``, ``datetime`` ...; conformance_compare.py maps them onto
the JS names). Operations a caller performs (``rpc.*``, ``id.*``, ``alarm.wait``) run in
:func:`run_scenario`, outside the object.

Everything that touches dosandbox's API goes through the small adapter section below, so a
renamed method is a one-line change here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import sys
import time
from typing import Any
from urllib.parse import urlencode

from dosandbox import (
    DurableObject,
    Request,
    Response,
    RpcTarget,
    Sandbox,
    WebSocketPair,
    WebSocketRequestResponsePair,
)

SCRIPT_NAME = "conformance"  # js/run.mjs uses the same script and class names
BINDING = "runner"
THROW_PREFIX = "scenario-throw: "
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# ================================================================== adapter: dosandbox API
# Keep every dosandbox call here. Storage list options arrive with the platform's names.
LIST_OPTION_NAMES = {"prefix": "prefix", "start": "start", "startAfter": "start_after",
                     "end": "end", "reverse": "reverse", "limit": "limit"}


def make_sandbox() -> Any:
    return Sandbox(script_name=SCRIPT_NAME, seed=0)


def register(sb: Any, cls: type) -> None:
    sb.register(BINDING, cls, class_name="Runner")  # ids derive from "conformance-Runner"


def env_namespace(obj: Any) -> Any:
    """The object's own namespace, as its env binding (JS ``env.DO``)."""
    return getattr(obj.env, BINDING.upper())


def sync_kv(obj: Any) -> Any:
    return storage(obj).kv


def database_size(obj: Any) -> int:
    return int(storage(obj).sql.database_size)


def cursor_next(cursor: Any) -> Any:
    return cursor.next()


def cursor_rest(cursor: Any) -> list[Any]:
    return list(cursor.to_list())


def abort(obj: Any, reason: str | None) -> None:
    if reason is None:
        obj.ctx.abort()
    else:
        obj.ctx.abort(reason)


def set_event_timeout(obj: Any, op: dict[str, Any]) -> Any:
    if "ms" in op:
        return obj.ctx.set_hibernatable_web_socket_event_timeout(decode(op["ms"]))
    return obj.ctx.set_hibernatable_web_socket_event_timeout()


def get_event_timeout(obj: Any) -> Any:
    return obj.ctx.get_hibernatable_web_socket_event_timeout()


def stub_fetch(sb: Any, stub: Any, op: dict[str, Any]) -> dict[str, Any]:
    init: dict[str, Any] = {}
    if op.get("redirect"):
        init["redirect"] = op["redirect"]
    if op.get("cf"):
        init["cf"] = op["cf"]
    resp = drive(sb, stub.fetch(op["url"], **init))
    kind = resp.headers.get("content-type") or ""
    body = drive(sb, resp.json() if kind.startswith("application/json") else resp.text())
    return {"type": "http", "status": resp.status, "redirected": resp.redirected,
            "url": resp.url, "location": resp.headers.get("location"), "body": render(body)}


def namespace(sb: Any) -> Any:
    return getattr(sb.durable_objects, BINDING)


def drive(sb: Any, awaitable: Any) -> Any:
    return sb.run(awaitable)


def advance_clock(sb: Any, ms: int) -> None:
    sb.clock.advance(seconds=ms / 1000)


def close_sandbox(sb: Any) -> None:
    close = getattr(sb, "close", None)
    if callable(close):
        close()


def now_ms() -> int:
    """Virtual epoch ms inside object code (time.time() reads the sandbox clock there)."""
    return int(time.time() * 1000)


def storage(obj: Any) -> Any:
    return obj.ctx.storage


def sql_exec(obj: Any, query: str, bindings: list[Any]) -> Any:
    return storage(obj).sql.exec(query, *bindings)


def cursor_to_list(cursor: Any) -> list[Any]:
    return list(cursor.to_list())


def cursor_one(cursor: Any) -> Any:
    return cursor.one()


def cursor_raw(cursor: Any) -> list[Any]:
    return [list(row) for row in cursor.raw()]


def ws_connect(sb: Any, stub: Any, op: dict[str, Any]) -> Any:
    # A simulated client stands for a network client, so "via" has nothing to choose here.
    query = {"client": op["client"]}
    if op.get("tags") is not None:
        query["tags"] = json.dumps(op["tags"])
    if op.get("api") == "standard":
        query["api"] = "standard"
    return sb.connect(stub, "/ws?" + urlencode(query))


def ws_close_info(client: Any) -> dict[str, Any]:
    if client.close_code is None:
        return render(None)
    return {"type": "ws-close", "code": client.close_code, "reason": client.close_reason,
            "wasClean": client.was_clean}


def ws_unread(client: Any) -> dict[str, Any]:
    out = []
    while client.unread:
        out.append(render_message(client.receive()))
    return {"type": "ws-messages", "value": out}


def method_error_cause(exc: BaseException) -> BaseException | None:
    """The exception raised inside the callee, from the caller's DurableObjectMethodError."""
    if getattr(exc, "code", None) == "RPC_ERROR":
        return exc.__cause__
    return None


def ids_equal(a: Any, b: Any) -> bool:
    equals = getattr(a, "equals", None)
    return bool(equals(b)) if callable(equals) else a == b


# ================================================================== values


class ScenarioThrow(Exception):
    """The exception a scenario's ``throw`` raises (JS: ``Error("scenario-throw: ...")``)."""

    code = "USER_ERROR"


class NotApplicable(Exception):
    """A scenario input with no Python counterpart (JS ``undefined``)."""

    code = "NOT_APPLICABLE"


SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "-0": -0.0}


def decode(x: Any) -> Any:
    """Scenario input value → Python value (see README.md, "value language")."""
    if isinstance(x, list):
        return [decode(v) for v in x]
    if not isinstance(x, dict):
        return x
    if len(x) == 1:
        ((tag, v),) = x.items()
        if tag.startswith("$"):
            if tag == "$bytes":
                return bytes.fromhex(v)
            if tag == "$date":
                return EPOCH + dt.timedelta(milliseconds=v)
            if tag == "$bigint":
                return int(v)
            if tag == "$float":
                return SPECIAL_FLOATS[v] if v in SPECIAL_FLOATS else float(v)
            if tag == "$map":
                return {decode(k): decode(val) for k, val in v}
            if tag == "$set":
                return {decode(i) for i in v}
            if tag == "$object":
                return {k: decode(val) for k, val in v}
            if tag == "$function":
                return lambda: 1
            if tag == "$repeat":
                return v[0] * v[1]
            if tag == "$undefined":
                raise NotApplicable("JavaScript undefined has no Python counterpart")
            raise ValueError(f"unknown input tag {tag}")
    return {k: decode(v) for k, v in x.items()}


def _float(v: float) -> Any:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0 and math.copysign(1.0, v) < 0:
        return "-0"
    return v


def _ms(value: dt.datetime) -> Any:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - EPOCH
    return (delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000)


def render(v: Any) -> dict[str, Any]:
    """Python value → tagged JSON with Python type names."""
    if v is None:
        return {"type": "None"}
    if isinstance(v, bool):
        return {"type": "bool", "value": v}
    if isinstance(v, int):
        return {"type": "int", "value": v}
    if isinstance(v, float):
        return {"type": "float", "value": _float(v)}
    if isinstance(v, str):
        return {"type": "str", "value": v}
    if isinstance(v, (bytes, bytearray, memoryview)):
        return {"type": "bytes", "value": bytes(v).hex()}
    if isinstance(v, dt.datetime):
        return {"type": "datetime", "value": _ms(v)}
    if isinstance(v, (list, tuple)):
        return {"type": type(v).__name__, "value": [render(x) for x in v]}
    if isinstance(v, dict):
        return {"type": "dict", "value": [[render(k), render(x)] for k, x in v.items()]}
    if isinstance(v, (set, frozenset)):
        return {"type": "set", "value": [render(x) for x in v]}
    if isinstance(v, BaseException):
        return {"type": "exception", "name": type(v).__name__, "message": str(v)}
    return {"type": f"python:{type(v).__name__}", "value": repr(v)}


# The platform's error flags, as dosandbox spells them → as workerd does (only true ones shown).
ERROR_FLAGS = {"remote": "remote", "retryable": "retryable", "overloaded": "overloaded",
               "durable_object_reset": "durableObjectReset"}


def error_flags(e: BaseException) -> list[str]:
    return [js for py, js in ERROR_FLAGS.items() if getattr(e, py, False) is True]


def render_error(e: BaseException, flags_from: BaseException | None = None) -> dict[str, Any]:
    """An error; ``flags_from`` is the exception the caller saw, when ``e`` is its cause."""
    code = getattr(e, "code", None) or f"python:{type(e).__name__}"
    out: dict[str, Any] = {"error": code, "class": type(e).__name__, "message": str(e)}
    flags = error_flags(e if flags_from is None else flags_from)
    if flags:
        out["flags"] = flags
    return out


LONG_TEXT = 4096  # a longer text message is rendered by its length (worker.mjs: the same)


def render_message(m: Any) -> dict[str, Any]:
    if isinstance(m, str) and len(m) > LONG_TEXT:
        return {"type": "long-string", "length": len(m)}
    return render(m)


def mutate(v: Any) -> Any:
    """What ``mutate`` does to an argument received over RPC (mirror of worker.mjs)."""
    if isinstance(v, list):
        v.append("mutated")
    elif isinstance(v, set):
        v.add("mutated")
    elif isinstance(v, bytearray) and v:
        v[0] = 0xFF
    elif isinstance(v, bytes):
        return bytes([0xFF]) + v[1:] if v else v
    elif isinstance(v, dt.datetime):
        return EPOCH
    elif isinstance(v, dict):
        for k in list(v):
            v[k] = mutate(v[k])
        v["mutated"] = True
    return v


PY_ERRORS: dict[str, type[Exception]] = {
    "TypeError": TypeError, "RangeError": ValueError, "Error": RuntimeError,
}
PY_TO_JS_ERROR = {"TypeError": "TypeError", "ValueError": "RangeError", "RuntimeError": "Error"}


# ================================================================== the object


CTOR_KEY = "ctor"  # the KV key that configures the next instance's constructor (worker.mjs)


class CapCounter(RpcTarget):
    """A counter passed by reference; ``field`` is an instance attribute (not reachable)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.field = "instance"

    def inc(self, by: int = 1) -> int:
        self.n += by
        return self.n

    @property
    def value(self) -> int:
        return self.n

    def _under(self) -> str:
        return "under"


class CapResource(RpcTarget):
    """A target whose dispose hook records its name in the object's log."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def hi(self) -> str:
        return f"hi {self.name}"

    def __dispose__(self) -> None:
        self.log.append(self.name)


class CapPlain:
    def __init__(self) -> None:
        self.a = 1


class RunnerCore(DurableObject):
    """Executes scenario operations in one object (the Python twin of worker.mjs's Runner).

    The socket handlers are added by the subclasses, spelled as Python code (``Runner``) or as
    the platform spells them (``CamelRunner``).
    """

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.counter = 0  # in-memory state (mem.inc): gone with the instance
        self.alarm_handler_ops: list[dict[str, Any]] = []
        self.alarm_log: list[dict[str, Any]] = []
        self.times: dict[int, str] = {}
        self.sockets: dict[str, Any] = {}  # scenario client name -> accepted server WebSocket
        self.ws_log: list[dict[str, Any]] = []  # what the web_socket_* handlers saw
        cfg = sync_kv(self).get(CTOR_KEY)
        if cfg:
            self._configure(cfg)

    def _configure(self, cfg: dict[str, Any]) -> None:
        """The constructor hook of worker.mjs: restore the handler, move the alarm, or fail."""
        ctx = self.ctx
        if cfg.get("handler"):
            self.alarm_handler_ops = cfg["handler"]
        if "alarm_in_ms" in cfg:
            t = now_ms() + cfg["alarm_in_ms"]
            self.times[t] = cfg.get("name") or "ctor"

            async def move() -> None:
                await storage(self).set_alarm(t)
                kv = sync_kv(self)
                kv.put("ctor-runs", (kv.get("ctor-runs") or 0) + 1)

            ctx.block_concurrency_while(move)
        if "throw" in cfg:
            async def fail() -> None:
                raise ScenarioThrow(THROW_PREFIX + cfg["throw"])

            ctx.block_concurrency_while(fail)

    def _render_time(self, t: Any) -> dict[str, Any]:
        if t is None:
            return render(None)
        if isinstance(t, dt.datetime):
            t = _ms(t)
        if t in self.times:
            return {"type": "time", "value": self.times[t]}
        if abs(t - now_ms()) <= 1000:
            return {"type": "time", "value": "~now"}
        return {"type": "time", "value": "other"}

    async def run_op(self, op: dict[str, Any]) -> dict[str, Any]:
        """Run one scenario operation; errors are rendered, not raised."""
        try:
            return await self._exec(op)
        except Exception as e:  # the trace records every error
            return render_error(e)

    async def mutate(self, arg: Any) -> dict[str, Any]:
        """Mutate the received argument and return it."""
        received = render(arg)
        return {"received": received, "returned": mutate(arg)}

    async def echo(self, arg: Any) -> Any:
        """Return the argument."""
        return arg

    async def throw_error(self, spec: dict[str, str]) -> None:
        """Raise the Python counterpart of a JS error class."""
        raise PY_ERRORS.get(spec["class"], RuntimeError)(spec["message"])

    @property
    def answer(self) -> int:
        """A property read over RPC (``await stub.answer``)."""
        return 42

    async def size(self, x: Any) -> int:
        """The length of what arrived."""
        return len(x)

    # --- RPC capabilities (cap.*), mirror of worker.mjs ------------------------------------

    async def cap_call(self, cb: Any, *args: Any) -> Any:
        return await cb(*args)

    async def cap_call_twice(self, cb: Any) -> list[Any]:
        return [await cb(1), await cb(2)]

    def cap_doubler(self) -> Any:
        return lambda x: x * 2

    def cap_tally(self) -> Any:
        count = 0

        def tally() -> int:
            nonlocal count
            count += 1
            return count
        return tally

    def cap_counter(self, n: int) -> CapCounter:
        return CapCounter(n)

    def cap_nested(self) -> dict[str, Any]:
        return {"counter": CapCounter(7), "label": "n"}

    def cap_failing(self) -> None:
        raise ScenarioThrow(THROW_PREFIX + "first call failed")

    async def cap_bump(self, target: Any) -> Any:
        return await target.inc(100)

    def cap_keep(self, cb: Any) -> str:
        self.cap_kept = cb
        return "kept"

    def cap_keep_dup(self, cb: Any) -> str:
        self.cap_kept = cb.dup()
        return "kept"

    async def cap_call_kept(self, x: Any) -> Any:
        return await self.cap_kept(x)

    def cap_plain(self) -> Any:
        return CapPlain()

    def cap_resource(self, name: str) -> CapResource:
        if not hasattr(self, "cap_log"):
            self.cap_log: list[str] = []
        return CapResource(name, self.cap_log)

    def cap_disposed(self) -> list[str]:
        return getattr(self, "cap_log", [])

    # A target this object receives from another one (the lender), kept in a field or not.
    def cap_lender(self) -> Any:
        return env_namespace(self).get("conformance-cap-lender")

    async def cap_borrow(self, name: str) -> str:
        self.cap_borrowed = await self.cap_lender().cap_resource(name)
        return str(await self.cap_borrowed.hi())

    async def cap_borrow_unkept(self, name: str) -> str:
        res = await self.cap_lender().cap_resource(name)
        return str(await res.hi())

    async def cap_use_borrowed(self) -> str:
        return str(await self.cap_borrowed.hi())

    async def cap_lender_disposed(self) -> list[str]:
        return sorted(await self.cap_lender().cap_disposed())

    async def cap_consume(self, stream: Any) -> dict[str, Any]:
        sizes: list[int] = []
        try:
            async for chunk in stream:
                sizes.append(len(chunk))
        except Exception as e:
            return {"chunks": sizes, "error": getattr(e, "message", str(e)).split(" The ")[0]}
        return {"chunks": sizes}

    def cap_stream(self, n: int) -> Any:
        async def chunks() -> Any:
            for i in range(1, n + 1):
                yield bytes([i, i])
        return chunks()

    async def cap_request(self, r: Any) -> dict[str, Any]:
        return {"url": r.url, "method": r.method, "header": r.headers.get("x-a"),
                "body": await r.text()}

    def cap_response(self) -> Response:
        return Response("hello", status=201, headers={"x-b": "2"})

    async def make_stub(self) -> Any:
        """Return a stub (the platform refuses to send it)."""
        return env_namespace(self).get("conformance-other")

    async def pass_peer(self) -> dict[str, Any]:
        """Pass a stub to another object from inside this one; the error is the result."""
        peer = env_namespace(self).get("conformance-peer")
        try:
            return render(await peer.echo(peer))
        except Exception as e:
            return render_error(e)

    async def alarm(self, *args: Any, **kwargs: Any) -> None:
        info = args[0] if args else kwargs.get("alarm_info")
        results = [{"op": op["op"], "result": await self.run_op(op)}
                   for op in self.alarm_handler_ops]
        retry = getattr(info, "retry_count", None)
        if retry is None and isinstance(info, dict):
            retry = info.get("retry_count", info.get("retryCount"))
        self.alarm_log.append({"retryCount": retry, "results": results})

    # ------------------------------------------------------------ WebSockets

    async def fetch(self, request: Any) -> Any:
        """GET /ws?client=<name>&tags=<json> with Upgrade: websocket accepts pair[1]."""
        if request.headers.get("upgrade") != "websocket":
            return self._http(request)
        params = request.parsed_url.params
        client, server = WebSocketPair()
        if params.get("api") == "standard":
            self._accept_standard(server, params["client"])
        elif "tags" in params:
            self.ctx.accept_web_socket(server, json.loads(params["tags"]))
        else:
            self.ctx.accept_web_socket(server)
        self.sockets[params["client"]] = server
        return Response(None, status=101, web_socket=client)

    def _http(self, request: Any) -> Any:
        """/redirect?to=<url>&status=<n> answers Response.redirect; /echo describes the request."""
        url = request.parsed_url
        if url.path == "/redirect":
            to = url.params["to"]
            if "status" in url.params:
                return Response.redirect(to, int(url.params["status"]))
            return Response.redirect(to)
        if url.path in ("/echo", "/"):
            cf = None if request.cf is None else dict(request.cf)
            return Response.json({"url": request.url, "method": request.method, "cf": cf})
        return Response("no upgrade", status=426)

    def _accept_standard(self, server: Any, client: str) -> None:
        """The standard WebSocket API: accept() and listeners; not hibernatable, not listed."""
        server.accept()

        def on_message(event: Any) -> None:
            self.ws_log.append({"event": "message", "client": client,
                                "data": render_message(event.data)})
            server.send(event.data)

        def on_close(event: Any) -> None:
            self.ws_log.append({"event": "close", "client": client, "code": event.code,
                                "reason": event.reason, "wasClean": event.was_clean,
                                "readyState": server.ready_state,
                                "listed": server in self.ctx.get_web_sockets()})

        server.add_event_listener("message", on_message)
        server.add_event_listener("close", on_close)

    def _client_name(self, ws: Any) -> str:
        return next((name for name, s in self.sockets.items() if s is ws), "?")

    def _socket(self, name: str) -> Any:
        if name not in self.sockets:
            raise ValueError(f"scenario bug: no client {name}")
        return self.sockets[name]

    async def _on_message(self, ws: Any, message: str | bytes) -> None:
        self.ws_log.append({"event": "message", "client": self._client_name(ws),
                            "data": render_message(message)})
        if message == "raise":
            raise ScenarioThrow(THROW_PREFIX + "in web_socket_message")
        ws.send(message)

    async def _on_close(self, ws: Any, code: int, reason: str, was_clean: bool) -> None:
        self.ws_log.append({"event": "close", "client": self._client_name(ws), "code": code,
                            "reason": reason, "wasClean": was_clean,
                            "readyState": ws.ready_state,
                            "listed": ws in self.ctx.get_web_sockets()})

    async def _on_error(self, ws: Any, error: Any) -> None:
        self.ws_log.append({"event": "error", "client": self._client_name(ws)})

    def _ws_op(self, op: dict[str, Any]) -> dict[str, Any]:
        ctx = self.ctx
        kind = op["op"]
        if kind == "ws.list":
            sockets = ctx.get_web_sockets(op["tag"]) if "tag" in op else ctx.get_web_sockets()
            return {"type": "ws-list", "value": [self._client_name(w) for w in sockets]}
        if kind == "ws.tags":
            return render(ctx.get_tags(self._socket(op["client"])))
        if kind == "ws.attach":
            return render(self._socket(op["client"]).serialize_attachment(decode(op["value"])))
        if kind == "ws.attachment":
            return render(self._socket(op["client"]).deserialize_attachment())
        if kind == "ws.close":
            ws = self._socket(op["client"])
            ws.close(op.get("code"), op.get("reason"))
            # readyState read in the same event, right after close()
            return {"type": "ws-state", "readyState": ws.ready_state}
        if kind == "ws.objectSend":
            return render(self._socket(op["client"]).send(decode(op["data"])))
        if kind == "ws.readyState":
            return render(self._socket(op["client"]).ready_state)
        if kind == "ws.autoResponse":
            pair = WebSocketRequestResponsePair(op["request"], op["response"])
            return render(ctx.set_web_socket_auto_response(pair))
        if kind == "ws.autoTimestamp":
            return self._render_time(
                ctx.get_web_socket_auto_response_timestamp(self._socket(op["client"])))
        if kind == "ws.log":
            return {"type": "ws-log", "value": self.ws_log}
        raise ValueError(f"scenario bug: unknown op {kind}")

    async def _exec(self, op: dict[str, Any]) -> dict[str, Any]:
        s = storage(self)
        kind = op["op"]
        if kind.startswith("ws."):
            return self._ws_op(op)
        if kind == "kv.put":
            if "entries" in op:
                return render(await s.put({k: decode(v) for k, v in op["entries"]}))
            return render(await s.put(decode(op["key"]), decode(op["value"])))
        if kind == "kv.get":
            if "keys" in op:
                return {**render(await s.get(list(op["keys"]))), "type": "map"}
            return render(await s.get(decode(op["key"])))
        if kind == "kv.delete":
            return render(await s.delete(list(op["keys"]) if "keys" in op else decode(op["key"])))
        if kind == "kv.list":
            options = {LIST_OPTION_NAMES[k]: v for k, v in op.get("options", {}).items()}
            return {**render(await s.list(**options)), "type": "map"}
        if kind == "kv.deleteAll":
            return render(await s.delete_all())
        if kind == "sql.exec":
            return self._sql(op)
        if kind == "transaction":
            async def body(txn: Any) -> list[dict[str, Any]]:
                results = [await self._exec(inner) for inner in op["ops"]]
                if "throw" in op:
                    raise ScenarioThrow(THROW_PREFIX + op["throw"])
                return results

            return {"type": "results", "value": await s.transaction(body)}
        if kind == "transactionSync":
            def sync_body() -> list[dict[str, Any]]:
                results = [self._sql(inner) for inner in op["ops"]]
                if "throw" in op:
                    raise ScenarioThrow(THROW_PREFIX + op["throw"])
                return results

            return {"type": "results", "value": s.transaction_sync(sync_body)}
        if kind == "alarm.set":
            t = decode(op["at"]) if "at" in op else now_ms() + op["in_ms"]
            if "handler" in op:
                self.alarm_handler_ops = op["handler"]
            result = await s.set_alarm(t)
            if op.get("name"):
                self.times[_ms(t) if isinstance(t, dt.datetime) else t] = op["name"]
            return render(result)
        if kind == "alarm.get":
            return self._render_time(await s.get_alarm())
        if kind == "alarm.delete":
            return render(await s.delete_alarm())
        if kind == "alarm.log":
            return {"type": "alarm-log", "value": self.alarm_log}
        if kind == "throw":
            raise ScenarioThrow(THROW_PREFIX + op["message"])
        if kind == "noAwait":
            return await self._no_await(op)
        if kind.startswith("kvs."):
            return self._sync_kv(op)
        if kind == "sql.size":
            return render(database_size(self))
        if kind == "sql.next":
            cursor = sql_exec(self, op["query"], [decode(b) for b in op.get("bindings", [])])
            source = cursor.raw() if op.get("raw") else cursor
            steps = [render(cursor_next(source)) for _ in range(op["count"])]
            return {"type": "cursor-steps", "steps": steps, "rest": render(cursor_rest(source))}
        if kind == "mem.inc":
            self.counter += 1
            return render(self.counter)
        if kind == "ctx.abort":
            abort(self, op.get("reason"))
            return render("still running after abort()")
        if kind == "bcw.throw":
            async def fail() -> None:
                raise ScenarioThrow(THROW_PREFIX + op["message"])

            await self.ctx.block_concurrency_while(fail)
            return render("blockConcurrencyWhile returned")
        if kind == "ctx.setEventTimeout":
            return render(set_event_timeout(self, op))
        if kind == "ctx.getEventTimeout":
            return render(get_event_timeout(self))
        if kind == "http.redirect":
            r = (Response.redirect(op["url"], op["status"]) if "status" in op
                 else Response.redirect(op["url"]))
            return {"type": "http", "status": r.status, "location": r.headers.get("location")}
        raise ValueError(f"scenario bug: unknown op {kind}")

    def _sync_kv(self, op: dict[str, Any]) -> dict[str, Any]:
        kv = sync_kv(self)
        kind = op["op"]
        if kind == "kvs.get":
            return render(kv.get(decode(op["key"])))
        if kind == "kvs.put":
            if "value" in op:
                return render(kv.put(decode(op["key"]), decode(op["value"])))
            return render(kv.put(decode(op["key"])))
        if kind == "kvs.delete":
            return render(kv.delete(decode(op["key"])))
        if kind == "kvs.list":
            options = {LIST_OPTION_NAMES[k]: v for k, v in op.get("options", {}).items()}
            it = kv.list(**options)
            return {"type": "kv-iterator", "array": isinstance(it, list),
                    "entries": render(list(it))}
        raise ValueError(f"scenario bug: unknown op {kind}")

    def _start_call(self, call: dict[str, Any]) -> Any:
        """A storage write, called and not awaited; what it returned is kept."""
        s = storage(self)
        kind = call["op"]
        if kind == "kv.put":
            return s.put(decode(call["key"]), decode(call["value"]))
        if kind == "kv.delete":
            return s.delete(decode(call["key"]))
        if kind == "kv.deleteAll":
            return s.delete_all()
        if kind == "alarm.set":
            t = decode(call["at"]) if "at" in call else now_ms() + call["in_ms"]
            if call.get("name"):
                self.times[_ms(t) if isinstance(t, dt.datetime) else t] = call["name"]
            return s.set_alarm(t)
        if kind == "alarm.delete":
            return s.delete_alarm()
        raise ValueError(f"scenario bug: noAwait {kind}")

    async def _no_await(self, op: dict[str, Any]) -> dict[str, Any]:
        """worker.mjs's noAwait: the write is not awaited; ``then`` ops run after it."""
        pending = None
        outcome: Any = None
        at = None
        try:
            pending = self._start_call(op["call"])
        except Exception as e:  # dosandbox raises a bad argument at the call
            outcome, at = render_error(e), "call"
        then = [{"op": inner["op"], "result": await self.run_op(inner)}
                for inner in op.get("then", [])]
        if pending is not None:
            try:
                outcome = render(await pending)
            except Exception as e:
                outcome, at = render_error(e), "await"
        return {"type": "no-await", "call": op["call"]["op"], "at": at, "outcome": outcome,
                "then": then}

    def _sql(self, op: dict[str, Any]) -> dict[str, Any]:
        cursor = sql_exec(self, op["query"], [decode(b) for b in op.get("bindings", [])])
        out: dict[str, Any] = {"type": "sql"}
        read = op.get("read", "toArray")
        if read == "toArray":
            out["rows"] = render(cursor_to_list(cursor))
        elif read == "one":
            out["rows"] = render(cursor_one(cursor))
        elif read == "raw":
            out["rows"] = render(cursor_raw(cursor))
        for field in op.get("fields", []):
            attr = {"columnNames": "column_names", "rowsRead": "rows_read",
                    "rowsWritten": "rows_written"}[field]
            value = getattr(cursor, attr)
            out[field] = render(list(value) if field == "columnNames" else value)
        return out


class Runner(RunnerCore):
    """The socket handlers spelled as Python code spells them."""

    async def web_socket_message(self, ws: Any, message: str | bytes) -> None:
        await self._on_message(ws, message)

    async def web_socket_close(self, ws: Any, code: int, reason: str, was_clean: bool) -> None:
        await self._on_close(ws, code, reason, was_clean)

    async def web_socket_error(self, ws: Any, error: Any) -> None:
        await self._on_error(ws, error)


class CamelRunner(RunnerCore):
    """The socket handlers spelled as the platform (and worker.mjs) spells them."""

    async def webSocketMessage(self, ws: Any, message: str | bytes) -> None:
        await self._on_message(ws, message)

    async def webSocketClose(
        self, ws: Any, code: int, reason: str, was_clean: bool
    ) -> None:
        await self._on_close(ws, code, reason, was_clean)

    async def webSocketError(self, ws: Any, error: Any) -> None:
        await self._on_error(ws, error)


RUNNERS: dict[str, type[RunnerCore]] = {"snake": Runner, "camel": CamelRunner}


# ================================================================== the driver (a caller)


def _ws_driver_op(sb: Any, stub: Any, clients: dict[str, Any], op: dict[str, Any]) -> Any:
    """The caller's side of a scenario's sockets (simulated clients), or NotImplemented."""
    kind = op["op"]
    if kind == "ws.connect":
        try:
            clients[op["client"]] = ws_connect(sb, stub, op)
        except Exception as e:  # refused in fetch: the caller sees the object's error
            cause = method_error_cause(e)
            if cause is None:
                raise
            return render_error(cause, flags_from=e)
        return {"type": "ws-open", "status": 101}
    if kind == "ws.send":
        client = clients[op["client"]]
        data = decode(op["data"])
        client.send(data * op["repeat"] if "repeat" in op else data)  # returns once handled
        return ws_unread(client)
    if kind == "ws.received":
        return ws_unread(clients[op["client"]])
    if kind == "ws.clientClose":
        return render(clients[op["client"]].close(op.get("code"), op.get("reason")))
    if kind == "ws.closed":
        return ws_close_info(clients[op["client"]])
    return NotImplemented  # ws.log and the in-object ops go through run_op


def _stub_driver_op(sb: Any, run: dict[str, Any], scenario: dict[str, Any],
                    op: dict[str, Any]) -> Any:
    """The caller's ``stub.*`` / ``ns.*`` operations (worker.mjs driverOp), or NotImplemented."""
    ns = namespace(sb)
    stub = run["stub"]
    kind = op["op"]
    if kind == "stub.renew":
        run["stub"] = ns.get(scenario["name"])
        return render(None)
    if kind == "sleep":
        advance_clock(sb, op["ms"])
        return render(None)
    if kind == "stub.property":
        return render(drive(sb, getattr(stub, op["name"])))
    if kind == "stub.passStub":
        if op["where"] == "arg":
            return render(drive(sb, stub.echo(stub)))
        if op["where"] == "result":
            return render(drive(sb, stub.make_stub()))
        return drive(sb, stub.pass_peer())
    if kind == "stub.payload":
        value = bytes(op["length"]) if op["kind"] == "bytes" else "x" * op["length"]
        return render(drive(sb, stub.size(value)))
    if kind == "stub.fetch":
        return stub_fetch(sb, stub, op)
    if kind == "stub.locationHint":
        hinted = ns.get(scenario["name"], location_hint=op["hint"])
        return render(drive(sb, hinted.run_op({"op": "mem.inc"}))["value"])
    if kind == "ns.jurisdiction":
        sub = ns.jurisdiction(op["value"])
        made = sub.id_from_name(scenario["name"])
        return {"type": "jurisdiction", "id": render(made.jurisdiction)}
    if kind == "id.jurisdiction":
        return render(ns.id_from_name(op["name"]).jurisdiction)
    return NotImplemented


def _byte_stream(chunks: int, fail_after: int | None = None) -> Any:
    async def gen() -> Any:
        for i in range(chunks):
            if fail_after is not None and i == fail_after:
                raise ScenarioThrow(THROW_PREFIX + "stream")
            yield bytes(4)
    return gen()


def _cap_case(sb: Any, stub: Any, case: str) -> Any:
    """The caller's side of one capability case (worker.mjs capDriverOp)."""
    def settle() -> None:  # lets a dispose hook run (JS: a 50 ms sleep)
        sb.clock.run_until_idle()

    def thrower() -> None:
        raise ScenarioThrow(THROW_PREFIX + "in callback")

    def mutate_v(x: dict[str, int]) -> dict[str, int]:
        x["v"] = 9
        return x

    if case == "callback":
        return drive(sb, stub.cap_call(lambda a, b: a + b, 2, 3))
    if case == "callbackTwice":
        return drive(sb, stub.cap_call_twice(lambda x: x * 10))
    if case == "callbackThrows":
        return drive(sb, stub.cap_call(thrower))
    if case == "callbackCopies":
        original = {"v": 1}
        return [original, drive(sb, stub.cap_call(mutate_v, original))]
    if case == "returnedFunction":
        return drive(sb, drive(sb, stub.cap_doubler())(21))
    if case == "returnedClosure":
        tally = drive(sb, stub.cap_tally())
        return [drive(sb, tally()), drive(sb, tally())]
    if case == "functionInObject":
        back = drive(sb, stub.echo({"f": lambda x: x + 1}))
        return [callable(back["f"]), drive(sb, back["f"](1))]
    if case == "targetCounter":
        c = drive(sb, stub.cap_counter(10))
        return [drive(sb, c.inc()), drive(sb, c.inc(5)), drive(sb, c.value)]
    if case == "targetArg":
        mine = CapCounter(1)
        return [drive(sb, stub.cap_bump(mine)), mine.n]
    if case == "targetField":
        return drive(sb, drive(sb, stub.cap_counter(1)).field)
    if case == "targetMissing":
        return drive(sb, drive(sb, stub.cap_counter(1)).nope())
    if case == "targetUnderscore":
        return drive(sb, drive(sb, stub.cap_counter(1))._under())
    if case == "plainResult":
        return drive(sb, stub.cap_plain())
    if case == "plainArg":
        return drive(sb, stub.echo(CapPlain()))
    if case == "pipe":
        return drive(sb, stub.cap_counter(10).inc())
    if case == "pipeNested":
        return drive(sb, stub.cap_nested().counter.inc())
    if case == "pipeNestedLabel":
        return drive(sb, stub.cap_nested().label)
    if case == "pipeProperty":
        return drive(sb, stub.cap_counter(3).value)
    if case == "pipeFail":
        return drive(sb, stub.cap_failing().inc())
    if case == "pipeOnPlain":
        return drive(sb, stub.answer.foo())
    if case == "pendingArg":
        return drive(sb, stub.echo(stub.cap_counter(1)))
    if case == "getter":
        return drive(sb, drive(sb, stub.cap_counter(4)).value)
    if case == "callGetter":
        return drive(sb, drive(sb, stub.cap_counter(4)).value())
    if case == "streamArg":
        return drive(sb, stub.cap_consume(_byte_stream(3)))
    if case == "streamArgError":
        return drive(sb, stub.cap_consume(_byte_stream(5, 2)))
    if case == "streamResult":
        stream = drive(sb, stub.cap_stream(3))

        async def read() -> list[list[int]]:
            return [list(chunk) async for chunk in stream]
        return drive(sb, read())
    if case == "requestArg":
        return drive(sb, stub.cap_request(Request(
            "https://x.test/p?q=1", method="POST", headers={"x-a": "1"}, body="bodyy")))
    if case == "responseResult":
        r = drive(sb, stub.cap_response())
        return [r.status, r.headers.get("x-b"), drive(sb, r.text())]
    if case == "keptCallback":
        drive(sb, stub.cap_keep(lambda x: x + 1))
        return drive(sb, stub.cap_call_kept(1))
    if case == "keptCallbackDup":
        drive(sb, stub.cap_keep_dup(lambda x: x + 1))
        return drive(sb, stub.cap_call_kept(1))
    if case == "disposeThenCall":
        res = drive(sb, stub.cap_resource("a"))
        res.dispose()
        return drive(sb, res.hi())
    if case == "disposeHook":
        res = drive(sb, stub.cap_resource("d1"))
        drive(sb, res.hi())
        res.dispose()
        settle()
        return drive(sb, stub.cap_disposed())
    if case == "dupDispose":
        res = drive(sb, stub.cap_resource("d2"))
        second = res.dup()
        res.dispose()
        settle()
        before = drive(sb, stub.cap_disposed())
        hi = drive(sb, second.hi())
        second.dispose()
        settle()
        return [hi, before, drive(sb, stub.cap_disposed())]
    if case == "borrowKept":
        first = drive(sb, stub.cap_borrow("kept"))
        settle()
        return [first, drive(sb, stub.cap_lender_disposed()), drive(sb, stub.cap_use_borrowed())]
    if case == "borrowUnkept":
        first = drive(sb, stub.cap_borrow_unkept("unkept"))
        settle()
        return [first, drive(sb, stub.cap_lender_disposed())]
    if case == "lenderDisposed":
        settle()
        return drive(sb, stub.cap_lender_disposed())
    if case == "ownerReset":
        c = drive(sb, stub.cap_counter(1))
        drive(sb, c.inc())
        with contextlib.suppress(Exception):  # the reset itself is not what this case shows
            drive(sb, stub.run_op({"op": "ctx.abort"}))
        return drive(sb, c.inc())
    raise NotApplicable(f"scenario bug: no capability case {case!r}")


def _cap_driver_op(sb: Any, stub: Any, op: dict[str, Any]) -> Any:
    """A ``cap.*`` case, rendered; an error raised inside the callee is rendered as the
    callee's error (its code) with the flags the caller saw, as worker.mjs renders it."""
    try:
        return render(_cap_case(sb, stub, op["op"].removeprefix("cap.")))
    except Exception as e:
        cause = method_error_cause(e)
        if cause is not None and getattr(cause, "code", None):
            return render_error(cause, flags_from=e)
        raise


def _driver_op(sb: Any, run: dict[str, Any], scenario: dict[str, Any], op: dict[str, Any],
               clients: dict[str, Any]) -> Any:
    ns = namespace(sb)
    stub = run["stub"]
    kind = op["op"]
    if kind.startswith("ws."):
        return _ws_driver_op(sb, stub, clients, op)
    if kind.startswith("cap."):
        return _cap_driver_op(sb, stub, op)
    if kind.startswith(("stub.", "ns.", "sleep")) or kind == "id.jurisdiction":
        return _stub_driver_op(sb, run, scenario, op)
    if kind == "rpc.mutate":
        target = ns.get(f"{scenario['name']}#peer") if op.get("target") == "peer" else stub
        arg = decode(op["value"])
        reply = drive(sb, target.mutate(arg))
        return {"type": "rpc", "received": reply["received"],
                "returned": render(reply["returned"]), "caller_after": render(arg)}
    if kind == "rpc.echo":
        return render(drive(sb, stub.echo(decode(op["value"]))))
    if kind == "rpc.throw":
        drive(sb, stub.throw_error({"class": op["class"], "message": op["message"]}))
        return {"type": "no-error"}
    if kind == "id.fromName":
        return render(str(ns.id_from_name(op["name"])))
    if kind == "id.fromString":
        id_ = ns.id_from_string(op["value"])
        return {"type": "id", "hex": str(id_), "name": render(getattr(id_, "name", None))}
    if kind == "id.roundTrip":
        id_ = ns.id_from_name(op["name"])
        back = ns.id_from_string(str(id_))
        return {"type": "id-roundtrip", "equals": ids_equal(back, id_),
                "same_hex": str(back) == str(id_), "name": render(getattr(back, "name", None)),
                "original_name": render(getattr(id_, "name", None))}
    if kind == "id.newUnique":
        a, b = ns.new_unique_id(), ns.new_unique_id()
        hex_a = str(a)
        return {"type": "id-shape",
                "hex64": len(hex_a) == 64 and all(c in "0123456789abcdef" for c in hex_a),
                "distinct": not ids_equal(a, b),
                "valid_for_namespace": ids_equal(ns.id_from_string(hex_a), a),
                "name": render(getattr(a, "name", None))}
    if kind == "alarm.wait":
        advance_clock(sb, op["ms"])
        log = drive(sb, stub.run_op({"op": "alarm.log"}))
        return {"type": "alarm-log", "value": log["value"]}
    return NotImplemented


def _remote_error(e: BaseException) -> dict[str, Any]:
    cause = method_error_cause(e)
    if cause is None:
        return render_error(e)
    name = type(cause).__name__
    out = {"remote": True, "error": PY_TO_JS_ERROR.get(name, f"python:{name}"),
           "message": str(cause)}
    flags = error_flags(e)
    if flags:
        out["flags"] = flags
    return out


def run_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    """Run one scenario in a fresh sandbox; the trace uses Python type names."""
    sb = make_sandbox()
    try:
        register(sb, RUNNERS[scenario.get("python_class", "snake")])
        run = {"stub": namespace(sb).get(scenario["name"])}  # stub.renew replaces it
        trace = []
        clients: dict[str, Any] = {}
        for op in scenario["ops"]:
            try:
                result = _driver_op(sb, run, scenario, op, clients)
                if result is NotImplemented:
                    result = drive(sb, run["stub"].run_op(op))
            except Exception as e:
                result = _remote_error(e) if op["op"].startswith("rpc.") else render_error(e)
            trace.append({"op": op["op"], "result": result})
        return {"name": scenario["name"], "trace": trace}
    finally:
        close_sandbox(sb)


if __name__ == "__main__":
    # python python_runner.py [scenario-name ...]  → the Python traces as JSON
    from scenarios import SCENARIOS

    wanted = set(sys.argv[1:])
    chosen = [s for s in SCENARIOS if not wanted or s["name"] in wanted]
    json.dump([run_scenario(s) for s in chosen], sys.stdout, indent=1, ensure_ascii=False)
    print()
