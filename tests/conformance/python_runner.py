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

import datetime as dt
import json
import math
import sys
import time
from typing import Any
from urllib.parse import urlencode

from dosandbox import (
    DurableObject,
    Response,
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
    sb.register(BINDING, cls)


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


def ws_connect(sb: Any, stub: Any, client: str, tags: list[str] | None) -> Any:
    query = {"client": client} if tags is None else {"client": client, "tags": json.dumps(tags)}
    return sb.connect(stub, "/ws?" + urlencode(query))


def ws_close_info(client: Any) -> dict[str, Any]:
    if client.close_code is None:
        return render(None)
    return {"type": "ws-close", "code": client.close_code, "reason": client.close_reason,
            "wasClean": client.was_clean}


def ws_unread(client: Any) -> dict[str, Any]:
    out = []
    while client.unread:
        out.append(render(client.receive()))
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


def render_error(e: BaseException) -> dict[str, Any]:
    code = getattr(e, "code", None) or f"python:{type(e).__name__}"
    return {"error": code, "class": type(e).__name__, "message": str(e)}


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


class Runner(DurableObject):
    """Executes scenario operations in one object (the Python twin of worker.mjs's Runner)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.alarm_handler_ops: list[dict[str, Any]] = []
        self.alarm_log: list[dict[str, Any]] = []
        self.times: dict[int, str] = {}
        self.sockets: dict[str, Any] = {}  # scenario client name -> accepted server WebSocket
        self.ws_log: list[dict[str, Any]] = []  # what the web_socket_* handlers saw

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
            return Response("no upgrade", status=426)
        params = request.parsed_url.params
        client, server = WebSocketPair()
        if "tags" in params:
            self.ctx.accept_web_socket(server, json.loads(params["tags"]))
        else:
            self.ctx.accept_web_socket(server)
        self.sockets[params["client"]] = server
        return Response(None, status=101, web_socket=client)

    def _client_name(self, ws: Any) -> str:
        return next((name for name, s in self.sockets.items() if s is ws), "?")

    def _socket(self, name: str) -> Any:
        if name not in self.sockets:
            raise ValueError(f"scenario bug: no client {name}")
        return self.sockets[name]

    async def web_socket_message(self, ws: Any, message: str | bytes) -> None:
        self.ws_log.append({"event": "message", "client": self._client_name(ws),
                            "data": render(message)})
        if message == "raise":
            raise ScenarioThrow(THROW_PREFIX + "in web_socket_message")
        ws.send(message)

    async def web_socket_close(self, ws: Any, code: int, reason: str, was_clean: bool) -> None:
        self.ws_log.append({"event": "close", "client": self._client_name(ws), "code": code,
                            "reason": reason, "wasClean": was_clean,
                            "readyState": ws.ready_state,
                            "listed": ws in self.ctx.get_web_sockets()})

    async def web_socket_error(self, ws: Any, error: Any) -> None:
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
            return render(await s.put(op["key"], decode(op["value"])))
        if kind == "kv.get":
            if "keys" in op:
                return {**render(await s.get(list(op["keys"]))), "type": "map"}
            return render(await s.get(op["key"]))
        if kind == "kv.delete":
            return render(await s.delete(list(op["keys"]) if "keys" in op else op["key"]))
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
        raise ValueError(f"scenario bug: unknown op {kind}")

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


# ================================================================== the driver (a caller)


def _ws_driver_op(sb: Any, stub: Any, clients: dict[str, Any], op: dict[str, Any]) -> Any:
    """The caller's side of a scenario's sockets (simulated clients), or NotImplemented."""
    kind = op["op"]
    if kind == "ws.connect":
        try:
            clients[op["client"]] = ws_connect(sb, stub, op["client"], op.get("tags"))
        except Exception as e:  # refused in fetch: the caller sees the object's error
            cause = method_error_cause(e)
            if cause is None:
                raise
            return render_error(cause)
        return {"type": "ws-open", "status": 101}
    if kind == "ws.send":
        client = clients[op["client"]]
        client.send(decode(op["data"]))  # returns once the handler ran and its output arrived
        return ws_unread(client)
    if kind == "ws.received":
        return ws_unread(clients[op["client"]])
    if kind == "ws.clientClose":
        return render(clients[op["client"]].close(op.get("code"), op.get("reason")))
    if kind == "ws.closed":
        return ws_close_info(clients[op["client"]])
    return NotImplemented  # ws.log and the in-object ops go through run_op


def _driver_op(sb: Any, stub: Any, scenario: dict[str, Any], op: dict[str, Any],
               clients: dict[str, Any]) -> Any:
    ns = namespace(sb)
    kind = op["op"]
    if kind.startswith("ws."):
        return _ws_driver_op(sb, stub, clients, op)
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
    return {"remote": True, "error": PY_TO_JS_ERROR.get(name, f"python:{name}"),
            "message": str(cause)}


def run_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    """Run one scenario in a fresh sandbox; the trace uses Python type names."""
    sb = make_sandbox()
    try:
        register(sb, Runner)
        stub = namespace(sb).get(scenario["name"])
        trace = []
        clients: dict[str, Any] = {}
        for op in scenario["ops"]:
            try:
                result = _driver_op(sb, stub, scenario, op, clients)
                if result is NotImplemented:
                    result = drive(sb, stub.run_op(op))
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
