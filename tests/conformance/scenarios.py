"""The conformance scenarios, written once as data and run by both interpreters.

A scenario is ``{"name": str, "doc": str, "ops": [op, ...]}``; every scenario runs in a fresh
object (``idFromName(name)``). The operations and the value language are described in
``README.md`` beside this file. The helpers below only build plain dicts: ``python
scenarios.py`` prints the JSON that ``js/run.mjs`` reads.
"""

from __future__ import annotations

import json
from typing import Any

Op = dict[str, Any]
Scenario = dict[str, Any]

# ------------------------------------------------------------------ value language helpers


def b(hex_string: str) -> dict[str, str]:
    """Bytes (JS ArrayBuffer, Python bytes) from hex."""
    return {"$bytes": hex_string}


def date(ms: int) -> dict[str, int]:
    """A point in time (JS Date, Python aware UTC datetime) from epoch milliseconds."""
    return {"$date": ms}


def bigint(digits: str) -> dict[str, str]:
    """A JS BigInt / Python int."""
    return {"$bigint": digits}


def flt(text: str) -> dict[str, str]:
    """A float JSON cannot spell: NaN, Infinity, -Infinity, -0."""
    return {"$float": text}


def jsmap(*pairs: tuple[Any, Any]) -> dict[str, Any]:
    """A JS Map / Python dict with the pairs in this order."""
    return {"$map": [list(p) for p in pairs]}


def jsset(*items: Any) -> dict[str, Any]:
    """A JS Set / Python set."""
    return {"$set": list(items)}


def obj(*pairs: tuple[str, Any]) -> dict[str, Any]:
    """A plain object whose keys are given in this insertion order."""
    return {"$object": [list(p) for p in pairs]}


UNDEFINED = {"$undefined": True}
FUNCTION = {"$function": True}  # a value no side can clone: JS () => 1, Python lambda: 1


def repeat(text: str, n: int) -> dict[str, Any]:
    """``text`` repeated ``n`` times, built by the runner (keeps large inputs out of the JSON)."""
    return {"$repeat": [text, n]}

# ------------------------------------------------------------------ operation helpers


def put(key: Any, value: Any) -> Op:
    return {"op": "kv.put", "key": key, "value": value}


def put_many(*pairs: tuple[str, Any]) -> Op:
    return {"op": "kv.put", "entries": [list(p) for p in pairs]}


def get(key: Any) -> Op:
    return {"op": "kv.get", "key": key}


def get_many(keys: list[Any]) -> Op:
    return {"op": "kv.get", "keys": keys}


def delete(key: Any) -> Op:
    return {"op": "kv.delete", "key": key}


def delete_many(keys: list[Any]) -> Op:
    return {"op": "kv.delete", "keys": keys}


def lst(**options: Any) -> Op:
    """``storage.list(options)``; option names are the platform's (startAfter, ...)."""
    return {"op": "kv.list", "options": options} if options else {"op": "kv.list"}


def delete_all() -> Op:
    return {"op": "kv.deleteAll"}


def sql(query: str, *bindings: Any, read: str = "toArray", fields: tuple[str, ...] = ()) -> Op:
    """``sql.exec(query, ...bindings)`` read as toArray / one / raw / none, plus cursor fields."""
    return {"op": "sql.exec", "query": query, "bindings": list(bindings), "read": read,
            "fields": list(fields)}


def txn(*ops: Op, throw: str | None = None) -> Op:
    op: Op = {"op": "transaction", "ops": list(ops)}
    if throw is not None:
        op["throw"] = throw
    return op


def txn_sync(*ops: Op, throw: str | None = None) -> Op:
    op: Op = {"op": "transactionSync", "ops": list(ops)}
    if throw is not None:
        op["throw"] = throw
    return op


def alarm_set(in_ms: int | None = None, *, at: Any = None, name: str | None = None,
              handler: list[Op] | None = None) -> Op:
    op: Op = {"op": "alarm.set"}
    if at is not None:
        op["at"] = at
    else:
        op["in_ms"] = in_ms
    if name:
        op["name"] = name
    if handler is not None:
        op["handler"] = handler
    return op


def alarm_get() -> Op:
    return {"op": "alarm.get"}


def alarm_delete() -> Op:
    return {"op": "alarm.delete"}


def alarm_wait(ms: int, count: int = 1) -> Op:
    """Wait (JS: real time, polling; Python: advance the virtual clock) for ``count`` runs."""
    return {"op": "alarm.wait", "ms": ms, "count": count}


def throw(message: str) -> Op:
    return {"op": "throw", "message": message}


def rpc_mutate(value: Any, target: str = "self") -> Op:
    return {"op": "rpc.mutate", "value": value, "target": target}


def rpc_echo(value: Any) -> Op:
    return {"op": "rpc.echo", "value": value}


def rpc_throw(cls: str, message: str) -> Op:
    return {"op": "rpc.throw", "class": cls, "message": message}


def id_from_name(name: str) -> Op:
    return {"op": "id.fromName", "name": name}


def id_from_string(value: str) -> Op:
    return {"op": "id.fromString", "value": value}


# WebSockets. Clients are named; the caller side connects (fetch with Upgrade: websocket), sends
# and reads; the ws.* ops without "client"-side effects run inside the object on its accepted
# socket of that name (see README.md, "WebSockets").


def ws_connect(client: str, tags: list[str] | None = None, *, api: str | None = None,
               via: str | None = None, binary_type: str | None = None) -> Op:
    """``api="standard"``: the object uses accept() and listeners (``binary_type``: the JS
    socket's binaryType); ``via="network"``: the JS client connects through workerd's HTTP
    listener (Python's simulated client always stands for a network client)."""
    op: Op = {"op": "ws.connect", "client": client}
    if tags is not None:
        op["tags"] = tags
    if api is not None:
        op["api"] = api
    if binary_type is not None:
        op["binaryType"] = binary_type
    if via is not None:
        op["via"] = via
    return op


def ws_send(client: str, data: Any, expect: int = 1, repeat: int | None = None) -> Op:
    """The client sends ``data`` (``repeat`` times over); the trace holds the ``expect``
    messages it then receives."""
    op: Op = {"op": "ws.send", "client": client, "data": data, "expect": expect}
    if repeat is not None:
        op["repeat"] = repeat
    return op


def ws_client_close(client: str, code: int | None = None, reason: str | None = None) -> Op:
    op: Op = {"op": "ws.clientClose", "client": client}
    if code is not None:
        op["code"] = code
    if reason is not None:
        op["reason"] = reason
    return op


def ws_closed(client: str) -> Op:
    """The close code/reason/wasClean the client saw (waits for it on the JS side)."""
    return {"op": "ws.closed", "client": client}


def ws_log(count: int = 0) -> Op:
    """What the object's webSocket* handlers saw (JS: polls until ``count`` entries)."""
    return {"op": "ws.log", "count": count}


def ws_list(tag: str | None = None) -> Op:
    return {"op": "ws.list", "tag": tag} if tag is not None else {"op": "ws.list"}


def ws_close(client: str, code: int | None = None, reason: str | None = None) -> Op:
    """The object closes its socket of ``client``."""
    op: Op = {"op": "ws.close", "client": client}
    if code is not None:
        op["code"] = code
    if reason is not None:
        op["reason"] = reason
    return op


def ws_in(kind: str, client: str, **fields: Any) -> Op:
    """An in-object op on ``client``'s socket: ws.tags, ws.attach, ws.attachment,
    ws.objectSend, ws.readyState, ws.autoTimestamp."""
    return {"op": kind, "client": client, **fields}


# Writes not awaited, the synchronous KV API, resets, and the caller's other operations.


def no_await(call: Op, *then: Op) -> Op:
    """``void storage.put(...)``: ``call`` is not awaited; ``then`` run after it in the same
    event; the trace holds their results and the call's outcome (read at the end)."""
    return {"op": "noAwait", "call": call, "then": list(then)}


def kvs_get(key: Any) -> Op:
    return {"op": "kvs.get", "key": key}


def kvs_put(key: Any, *value: Any) -> Op:
    """``ctx.storage.kv.put(key, value)``; no value given: ``put(key)``."""
    return {"op": "kvs.put", "key": key, **({"value": value[0]} if value else {})}


def kvs_delete(key: Any) -> Op:
    return {"op": "kvs.delete", "key": key}


def kvs_list(**options: Any) -> Op:
    return {"op": "kvs.list", "options": options} if options else {"op": "kvs.list"}


def sql_size() -> Op:
    return {"op": "sql.size"}


def sql_next(query: str, count: int, *, raw: bool = False) -> Op:
    """``count`` calls of ``cursor.next()`` (of ``raw()`` if asked), then ``toArray()``."""
    return {"op": "sql.next", "query": query, "count": count, "raw": raw}


MASTER = "SELECT type, name FROM sqlite_master ORDER BY name"


def master() -> Op:
    return sql(MASTER)


def mem_inc() -> Op:
    """Increment an in-memory counter (gone when the instance is)."""
    return {"op": "mem.inc"}


def abort(reason: str | None = None) -> Op:
    return {"op": "ctx.abort"} if reason is None else {"op": "ctx.abort", "reason": reason}


def bcw_throw(message: str) -> Op:
    return {"op": "bcw.throw", "message": message}


def ctor(**config: Any) -> Op:
    """Configure the next instance's constructor (see worker.mjs, CTOR_KEY)."""
    return put("ctor", config)


def renew() -> Op:
    """The caller takes a new stub for the same id."""
    return {"op": "stub.renew"}


def sleep(ms: int) -> Op:
    """The caller waits (JS: real time; Python: the virtual clock); the object is not called."""
    return {"op": "sleep", "ms": ms}


def set_event_timeout(*ms: Any) -> Op:
    return {"op": "ctx.setEventTimeout", **({"ms": ms[0]} if ms else {})}


def get_event_timeout() -> Op:
    return {"op": "ctx.getEventTimeout"}


def http_redirect(url: str, status: int | None = None) -> Op:
    """``Response.redirect(url, status)`` inside the object."""
    return {"op": "http.redirect", "url": url, **({"status": status} if status else {})}


def stub_fetch(url: str, **init: Any) -> Op:
    """``stub.fetch(url, init)`` (init: redirect, cf); the object answers /echo and /redirect."""
    return {"op": "stub.fetch", "url": url, **init}


def stub_property(name: str) -> Op:
    return {"op": "stub.property", "name": name}


def pass_stub(where: str) -> Op:
    """A stub as an RPC argument ("arg"), a result ("result"), or from object to peer."""
    return {"op": "stub.passStub", "where": where}


def payload(length: int, kind: str = "string") -> Op:
    """An RPC call whose argument is a string (or ArrayBuffer / bytes) of ``length``."""
    return {"op": "stub.payload", "length": length, "kind": kind}


def cap(case: str) -> Op:
    """One RPC-capability case (``cap.<case>``), run by the caller; see README.md."""
    return {"op": f"cap.{case}"}


def sc(name: str, doc: str, *ops: Op, **extra: Any) -> Scenario:
    return {"name": name, "doc": doc, "ops": list(ops), **extra}


# ------------------------------------------------------------------ data used below

ASCII_KEYS = ["b", "a", "c", "aa", "ab", "a0", "A", "Z", "_", "~", " ", "0", "a b", "a-b"]
NON_BMP_KEYS = ["a", "\u00e9", "\u0800", "\ue000", "\uffff", "\U0001f600", "\U00010000", "z"]
FRUIT = ["apple", "apricot", "banana", "blueberry", "cherry", "date", "fig"]
FRUIT_PUT = put_many(*[(k, i) for i, k in enumerate(FRUIT)])
ID_X = "1732f32465b6b0d3520d69bfdd22f917f7fabc40c2bf6f61b769ac81c048eacd"  # idFromName("x")
# idFromName("x") in namespace "other-Runner": well formed, but its MAC fails for ours.
ID_OTHER_NS = "22049dabac96ed39f20b5d7b6435d553c78179654054c518864048aad316984d"
FAR_FUTURE = 4102444800000  # 2100-01-01T00:00:00Z
T_TABLE = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)"


def _keys(keys: list[str]) -> Op:
    return put_many(*[(k, k) for k in keys])


ECHO = "http://conformance.local/echo"
MIB32 = 32 * 1024 * 1024

# Platform-parity scenarios. Each doc names the fact and where it comes from: "workerd" is this
# suite's oracle run; docs pages are developers.cloudflare.com/durable-objects/...
PARITY_SCENARIOS: list[Scenario] = [
    # ------------------------------------------------------------ writes take effect at the call
    sc("noawait-put", "an un-awaited put is seen by a sync and an async get in the same event "
       "and by later events (workerd; api/storage-api: writes start when called)",
       no_await(put("a", 1), kvs_get("a"), get("a")), get("a"), kvs_get("a")),
    sc("noawait-delete", "an un-awaited delete takes effect at once (workerd)",
       put("a", 1), no_await(delete("a"), kvs_get("a"), get("a")), get("a")),
    sc("noawait-set-alarm", "an un-awaited setAlarm is set, seen in the same event (workerd)",
       no_await(alarm_set(600_000, name="later"), alarm_get()), alarm_get()),
    sc("noawait-delete-alarm", "an un-awaited deleteAlarm removes the alarm at once (workerd)",
       alarm_set(600_000, name="x"), no_await(alarm_delete(), alarm_get()), alarm_get()),
    sc("noawait-put-uncloneable", "an un-awaited put of a function fails with DataCloneError and "
       "writes nothing (workerd: the returned promise rejects)",
       no_await(put("f", FUNCTION), kvs_get("f")), get("f"), lst()),
    sc("noawait-set-alarm-invalid", "an un-awaited setAlarm(0) fails (workerd: TypeError "
       "'setAlarm() cannot be called with an alarm time <= 0') and sets nothing",
       no_await(alarm_set(at=0), alarm_get()), alarm_get()),
    sc("noawait-put-then-abort", "writes of the call that aborts are discarded: the new instance "
       "sees neither the un-awaited put nor the earlier kv.put (workerd)",
       put("kept", 1), no_await(put("a", 1), kvs_put("b", 2), abort("evict")), renew(),
       get("a"), get("b"), get("kept")),
    # ---------------------------------------------------------------- ctx.storage.kv
    sc("kvs-basic", "sync KV get/put/delete single keys; delete says whether the key existed "
       "(workerd; api/sqlite-storage-api: synchronous KV API)",
       kvs_put("a", 1), kvs_get("a"), kvs_get("missing"), kvs_put("n", None), kvs_get("n"),
       kvs_delete("a"), kvs_delete("a"), kvs_get("a")),
    sc("kvs-shares-data", "sync KV and the async API read and write the same data (workerd)",
       kvs_put("a", {"x": [1, 2]}), get("a"), put("b", b("ff")), kvs_get("b"), kvs_list(),
       lst()),
    sc("kvs-list-options", "kv.list() takes list()'s options and returns an iterator of "
       "[key, value], not an array (workerd)",
       FRUIT_PUT, kvs_list(), kvs_list(start="b", limit=1), kvs_list(reverse=True, prefix="b"),
       kvs_list(startAfter="apricot", end="cherry"), kvs_list(prefix="zz")),
    sc("kvs-single-key-forms", "kv.put(object) without a value is a TypeError; kv.get([k]) and "
       "kv.delete([k]) convert the array to its string (workerd)",
       put("a", 1), kvs_put({"a": 1}), kvs_get(["a"]), kvs_delete(["a"]), get("a")),
    sc("kvs-put-uncloneable", "kv.put of a function is a DataCloneError, nothing stored (workerd)",
       kvs_put("f", FUNCTION), kvs_get("f"), lst()),
    sc("kvs-put-undefined", "kv.put(k, undefined) stores undefined; the key is listed (workerd)",
       kvs_put("u", UNDEFINED), kvs_get("u"), kvs_list()),
    sc("kvs-value-too-big", "a 3 MB kv value fails (workerd: SQLITE_TOOBIG), nothing stored",
       kvs_put("big", repeat("x", 3_000_000)), kvs_get("big")),
    # ---------------------------------------------------------------- resets
    sc("reset-abort", "ctx.abort(reason): the call fails with durableObjectReset, the same stub "
       "keeps failing, a new stub reaches a fresh instance; storage is kept (workerd)",
       mem_inc(), mem_inc(), put("kept", 1), abort("evict me"), mem_inc(), mem_inc(), renew(),
       mem_inc(), get("kept")),
    sc("reset-abort-default", "ctx.abort() without a reason: \"Application called abort() to reset "
       "Durable Object.\" (workerd)",
       mem_inc(), abort(), mem_inc(), renew(), mem_inc()),
    sc("reset-keeps-alarm", "a reset keeps the alarm (workerd)",
       alarm_set(600_000, name="kept"), abort("evict"), renew(), alarm_get()),
    sc("reset-bcw-throws", "a blockConcurrencyWhile callback that throws resets the object "
       "(workerd; api/state: blockConcurrencyWhile)",
       mem_inc(), bcw_throw("bcw boom"), mem_inc(), renew(), mem_inc()),
    sc("reset-ctor-bcw-throws", "a constructor whose blockConcurrencyWhile throws: every call "
       "fails with the reset error, on old and new stubs (workerd)",
       ctor(**{"throw": "ctor boom"}), mem_inc(), abort("evict"), renew(), mem_inc(),
       mem_inc(), renew(), mem_inc()),
    # ---------------------------------------------------------------- internal tables
    sc("schema-fresh", "a fresh object's sqlite_master is empty and databaseSize 4096; reads "
       "create nothing; _cf_KV on the first put (8192), _cf_METADATA on the first alarm (12288) "
       "(workerd)",
       master(), sql_size(), get("a"), lst(), kvs_get("a"), alarm_get(), alarm_delete(),
       master(), sql_size(), put("a", 1), master(), sql_size(), alarm_set(600_000), master(),
       sql_size(), alarm_delete(), master()),
    sc("schema-sync-kv-put", "a first kv.put creates _cf_KV too (workerd)",
       kvs_put("a", 1), master(), sql_size()),
    sc("schema-delete-absent", "deleting an absent key (async) creates _cf_KV (workerd)",
       delete("a"), master(), sql_size()),
    sc("schema-sync-delete-absent", "a sync kv.delete of an absent key and its schema (workerd)",
       kvs_delete("a"), master(), sql_size()),
    sc("schema-table-first", "a user table first: sqlite_master lists only it, 8192 (workerd)",
       sql("CREATE TABLE t (x)", read="none"), master(), sql_size()),
    sc("schema-delete-all", "deleteAll() empties sqlite_master and databaseSize is 4096 again "
       "(workerd)",
       put("a", 1), alarm_set(600_000), sql("CREATE TABLE t (x)", read="none"), sql_size(),
       delete_all(), master(), sql_size()),
    sc("schema-rolled-back-first-write", "a transaction whose first KV write is rolled back "
       "leaves sqlite_master empty (workerd)",
       txn(put("a", 1), throw="undo"), master(), sql_size()),
    # ---------------------------------------------------------------- non-string keys
    sc("keys-number", "put(1, v) stores key \"1\"; get(1), list() and delete(1) agree (workerd: "
       "keys are converted with ToString)",
       put(1, "v"), get("1"), get(1), lst(), delete(1), get("1")),
    sc("keys-number-forms", "number keys as JS prints them: 1.5, 1e+21, -0 → \"0\", NaN, "
       "BigInt 10n → \"10\" (workerd)",
       put(1.5, "a"), put(1e21, "b"), put(flt("-0"), "c"), put(flt("NaN"), "d"),
       put(bigint("12345678901234567890"), "e"), lst()),
    sc("keys-number-batch", "numbers in batch get/delete are converted too (workerd)",
       put_many(("1", "one"), ("2", "two")), get_many([1, "2"]), delete_many([1, 2]), lst()),
    sc("keys-bool-null", "true and null keys are stored as \"true\" and \"null\" (workerd)",
       put(True, "t"), put(None, "n"), lst()),
    sc("keys-object", "an object key with a value is a TypeError (workerd: put() may only be "
       "called with a single key-value pair ...)",
       put({"a": 1}, "x"), put(obj(), "x"), lst()),
    sc("keys-array", "an array key with a value is converted to its string (workerd: [1] → "
       "\"1\")",
       put([1], "x"), lst()),
    sc("kvs-number-key", "kv.put(1, v) stores \"1\"; kv.get(1) finds it (workerd)",
       kvs_put(1, "v"), kvs_get("1"), kvs_get(1), kvs_delete(1), kvs_list()),
    # ---------------------------------------------------------------- handler names
    sc("ws-camel-handlers", "webSocketMessage/webSocketClose spelled as the platform spells them "
       "are the handlers (Python: the same object class with camelCase names; workerd)",
       ws_connect("a"), ws_send("a", "hi"), ws_client_close("a", 3001, "bye"), ws_log(2),
       python_class="camel"),
    # ---------------------------------------------------------------- standard WebSocket API
    sc("ws-standard-echo", "accept() + addEventListener('message'): messages arrive and echo; "
       "such sockets are not in getWebSockets() (workerd; api/websockets)",
       ws_connect("a", api="standard"), ws_send("a", "hello"), ws_send("a", "caf\u00e9"),
       ws_list(), ws_log(2)),
    sc("ws-standard-binary-blob", "with the default binaryType 'blob' a binary message reaches a "
       "listener as a Blob, and send(blob) sends the text '[object Blob]' (workerd)",
       ws_connect("a", api="standard"), ws_send("a", b("00ff10")), ws_log(1)),
    sc("ws-standard-binary-arraybuffer", "with binaryType 'arraybuffer' a binary message is an "
       "ArrayBuffer and echoes unchanged (workerd)",
       ws_connect("a", api="standard", binary_type="arraybuffer"), ws_send("a", b("00ff10")),
       ws_log(1)),
    sc("ws-standard-client-close", "a client close reaches the 'close' listener: code, reason, "
       "wasClean, readyState 3 there (workerd)",
       ws_connect("a", api="standard"), ws_client_close("a", 3005, "client bye"), ws_log(1),
       ws_list()),
    sc("ws-standard-server-close", "the object closes a standard socket: readyState 2 at once, "
       "the client sees the code, the close listener runs (workerd)",
       ws_connect("a", api="standard"), ws_close("a", 4001, "server bye"), ws_closed("a"),
       ws_log(1)),
    sc("ws-standard-and-hibernatable", "only hibernatable sockets are listed (workerd)",
       ws_connect("h", ["t"]), ws_connect("s", api="standard"), ws_list(), ws_list("t"),
       ws_send("s", "x"), ws_send("h", "y"), ws_log(2)),
    # ---------------------------------------------------------------- small members
    sc("http-response-redirect", "Response.redirect: default 302, Location set; a non-redirect "
       "status is a RangeError, a relative URL a TypeError (workerd)",
       http_redirect("https://e.com/a", 307), http_redirect("https://e.com/a"),
       http_redirect("https://e.com/a", 200), http_redirect("/a", 302)),
    sc("http-fetch-follows-redirect", "stub.fetch follows a 301 from the object by default, to "
       "the same object; redirected true, url the target (workerd)",
       stub_fetch("http://conformance.local/redirect?status=301&to=" + ECHO.replace(":", "%3A"))),
    sc("http-fetch-redirect-manual", "redirect: 'manual' returns the 301 itself (workerd)",
       stub_fetch("http://conformance.local/redirect?status=301&to=" + ECHO.replace(":", "%3A"),
                  redirect="manual")),
    sc("http-request-cf", "stub.fetch(url, {cf}) reaches the object as request.cf; without it "
       "request.cf is undefined (workerd)",
       stub_fetch(ECHO, cf={"colo": "LHR", "n": 1, "nested": {"a": [1, 2]}}), stub_fetch(ECHO)),
    sc("http-request-url", "request.url is WHATWG-serialized: a bare origin gains '/', default "
       "ports go, host lower-cased, dot segments resolved (workerd)",
       stub_fetch("https://example.com"), stub_fetch("http://a.com:80"),
       stub_fetch("HTTPS://EXAMPLE.com:443/x/../echo?q=1")),
    sc("sql-cursor-next", "cursor.next() and raw().next() give {done, value}; at the end "
       "{done: true, value: undefined}; toArray() gives the rest (workerd)",
       sql("CREATE TABLE t (a, b)", read="none"), sql("INSERT INTO t VALUES (1, 'x'), (2, 'y')",
                                                      read="none"),
       sql_next("SELECT a, b FROM t ORDER BY a", 4), sql_next("SELECT a, b FROM t ORDER BY a", 1,
                                                             raw=True),
       sql_next("SELECT a FROM t WHERE a > 5", 1)),
    sc("stub-property", "await stub.prop reads a getter; an instance field or a missing name is "
       "'The RPC receiver does not implement the method' (workerd)",
       stub_property("answer"), stub_property("counter"), stub_property("missing")),
    sc("ws-event-timeout", "setHibernatableWebSocketEventTimeout: null by default, at most "
       "604800000 ms, 0/no argument/null unset, fractions truncated (workerd)",
       get_event_timeout(), set_event_timeout(1000), get_event_timeout(),
       set_event_timeout(604_800_000), get_event_timeout(), set_event_timeout(604_800_001),
       get_event_timeout(), set_event_timeout(0), get_event_timeout(), set_event_timeout(-1),
       set_event_timeout(1.5), get_event_timeout(), set_event_timeout("abc"),
       set_event_timeout(), get_event_timeout(), set_event_timeout(5), set_event_timeout(None),
       get_event_timeout()),
    sc("ns-jurisdiction", "jurisdiction('eu') is refused locally ('Jurisdiction restrictions are "
       "not implemented in workerd.'); id.jurisdiction is undefined (workerd)",
       {"op": "ns.jurisdiction", "value": "eu"}, {"op": "ns.jurisdiction", "value": "mars"},
       {"op": "id.jurisdiction", "name": "x"}),
    sc("stub-location-hint", "get(id, {locationHint}) is accepted, any value, same object "
       "(workerd)",
       {"op": "stub.locationHint", "hint": "enam"}, {"op": "stub.locationHint", "hint": "nowhere"},
       mem_inc()),
    # ---------------------------------------------------------------- refusals
    sc("rpc-stub-argument", "a stub as an RPC argument or result: DataCloneError 'Could not "
       "serialize object of type \"DurableObject\"' (workerd)",
       pass_stub("arg"), pass_stub("result"), pass_stub("peer"), mem_inc()),
    sc("rpc-payload-32mib", "RPC arguments are limited to 32 MiB serialized (workerd: 'Serialized "
       "RPC arguments or return values are limited to 32MiB')",
       payload(MIB32 - 1024), payload(MIB32), payload(MIB32 - 1024, "bytes"),
       payload(MIB32, "bytes"), mem_inc()),
    sc("ws-message-over-32mib", "a received message over 32 MiB closes the socket with 1009 and "
       "calls webSocketError; 32 MiB is fine (workerd, network client; platform/limits)",
       ws_connect("a", via="network"), ws_send("a", "x", repeat=MIB32),
       ws_send("a", "x", repeat=MIB32 + 1), ws_closed("a"), ws_log(2), ws_list()),
    sc("ws-object-send-over-32mib", "the object's send() of 32 MiB + 1 does not throw: the limit "
       "is on receiving (workerd)",
       ws_connect("a", via="network"), ws_in("ws.objectSend", "a", data=repeat("y", MIB32)),
       {"op": "ws.received", "client": "a", "expect": 1},
       ws_in("ws.objectSend", "a", data=repeat("y", MIB32 + 1))),
    # ------------------------------------------------------------ an alarm moved while delivered
    sc("alarm-moved-by-constructor", "the alarm wakes an evicted object whose constructor moves "
       "the alarm: that delivery is cancelled, the handler runs at the new time (workerd: "
       "'SQLite alarm handler canceled with requestScheduledAlarm'; api/alarms)",
       ctor(alarm_in_ms=1500, name="moved", handler=[put("fired", True)]),
       alarm_set(300, name="first", handler=[put("fired", True)]), abort("evict"), sleep(800),
       renew(), get("fired"), get("ctor-runs"), alarm_get(), alarm_wait(3000), get("fired"),
       get("ctor-runs"), alarm_get()),
]

CAPABILITY_SCENARIOS: list[Scenario] = [
    sc("cap-functions", "functions cross as stubs and run where they came from, arguments and "
       "results copied; a throwing callback fails the call; returned functions keep closures",
       cap("callback"), cap("callbackTwice"), cap("callbackThrows"), cap("callbackCopies"),
       cap("returnedFunction"), cap("returnedClosure"), cap("functionInObject")),
    sc("cap-targets", "RpcTarget instances cross by reference: methods and getters reachable, "
       "instance fields and missing names not; other class instances are refused",
       cap("targetCounter"), cap("targetArg"), cap("targetField"), cap("targetMissing"),
       cap("plainResult"), cap("plainArg")),
    sc("cap-private-members", "a target method whose name starts with '_' (JS: reachable; "
       "Python: private, see KNOWN_DIFFERENCES.md)", cap("targetUnderscore")),
    sc("cap-pipelining", "calls on a result not awaited yet: methods, property paths, a failing "
       "first call, a method on plain data, a pending call as an argument",
       cap("pipe"), cap("pipeNested"), cap("pipeNestedLabel"), cap("pipeProperty"),
       cap("pipeFail"), cap("pipeOnPlain"), cap("pendingArg")),
    sc("cap-properties", "await stub.prop on a target reads its getter; calling a getter fails",
       cap("getter"), cap("callGetter")),
    sc("cap-streams", "byte streams as arguments and results; a sender's error reaches the "
       "reader; Request and Response cross",
       cap("streamArg"), cap("streamArgError"), cap("streamResult"), cap("requestArg"),
       cap("responseResult")),
    sc("cap-lifetimes", "argument stubs end with their call unless dup()ed; disposed stubs fail; "
       "a target's dispose hook runs when its last stub goes; a reset owner's stubs fail",
       cap("keptCallback"), cap("keptCallbackDup"), cap("disposeThenCall"), cap("disposeHook"),
       cap("dupDispose"), cap("ownerReset")),
    sc("cap-held-by-object", "a target an object receives inside an event (kept in a field or "
       "not) is not disposed when the event ends and answers in later events; the instance's "
       "reset disposes them all (workerd, checked 2026-12-03)",
       cap("borrowKept"), cap("borrowUnkept"), abort("drop"), sleep(100), renew(),
       cap("lenderDisposed")),
]

SCENARIOS: list[Scenario] = [
    # ---------------------------------------------------------------- key ordering
    sc("order-ascii", "list() orders ASCII keys by byte value",
       _keys(ASCII_KEYS), lst()),
    sc("order-case", "upper case sorts before lower case (byte order, no collation)",
       _keys(["a", "B", "b", "A", "Ab", "aB", "AB", "ab"]), lst()),
    sc("order-empty-key", "the empty string is a valid key and sorts first",
       put("", "empty"), put("a", 1), get(""), lst(), delete(""), lst()),
    sc("order-non-bmp", "keys sort by UTF-8 bytes (code points), not JS UTF-16 units",
       _keys(NON_BMP_KEYS), lst(), lst(reverse=True)),
    sc("order-non-bmp-range", "start/end compare by code point around U+FFFF",
       _keys(NON_BMP_KEYS), lst(start="\uffff"), lst(end="\U0001f600"),
       lst(startAfter="\ue000", end="\U00010001")),
    sc("order-numeric-strings", "numeric-looking keys sort as strings",
       _keys(["10", "9", "1", "100", "-1", "01", "1.5"]), lst()),
    sc("order-nul-and-control", "keys with NUL and control characters",
       _keys(["a", "a\u0000", "a\u0000b", "a\u0001", "a\t", "b"]), lst(),
       lst(startAfter="a"), lst(prefix="a\u0000")),
    sc("order-batch-get", "batch get returns found keys in key order, not request order",
       _keys(["c", "a", "b"]), get_many(["c", "missing", "a", "b"])),
    # ---------------------------------------------------------------- list options
    sc("list-empty-storage", "list() on an empty object", lst(), lst(prefix="a", limit=3)),
    sc("list-prefix", "prefix filter", FRUIT_PUT, lst(prefix="ap"), lst(prefix="b")),
    sc("list-prefix-empty", "an empty prefix filters nothing", FRUIT_PUT, lst(prefix="")),
    sc("list-prefix-no-match", "a prefix that matches nothing", FRUIT_PUT, lst(prefix="zz")),
    sc("list-prefix-is-key", "a prefix equal to a whole key includes that key",
       _keys(["ab", "abc", "abd", "ac"]), lst(prefix="ab")),
    sc("list-start", "start is inclusive", FRUIT_PUT, lst(start="banana"), lst(start="c")),
    sc("list-startAfter", "startAfter is exclusive", FRUIT_PUT, lst(startAfter="banana"),
       lst(startAfter="bz")),
    sc("list-end", "end is exclusive", FRUIT_PUT, lst(end="cherry"), lst(end="a")),
    sc("list-start-end", "start inclusive, end exclusive", FRUIT_PUT,
       lst(start="apricot", end="date")),
    sc("list-startAfter-end", "startAfter with end", FRUIT_PUT,
       lst(startAfter="apricot", end="date")),
    sc("list-reverse", "reverse order", FRUIT_PUT, lst(reverse=True), lst(reverse=False)),
    sc("list-limit", "limit counts from the start", FRUIT_PUT, lst(limit=1), lst(limit=3),
       lst(limit=100)),
    sc("list-reverse-limit", "reverse with limit gives the largest keys", FRUIT_PUT,
       lst(reverse=True, limit=2)),
    sc("list-reverse-start-end", "reverse keeps start/end meaning (start lowest)", FRUIT_PUT,
       lst(reverse=True, start="apricot", end="date"),
       lst(reverse=True, startAfter="apricot", end="date", limit=2)),
    sc("list-prefix-start-end", "prefix intersected with [start, end)", FRUIT_PUT,
       lst(prefix="b", start="ba", end="bz"), lst(prefix="b", start="a"),
       lst(prefix="b", end="c"), lst(prefix="b", start="bb"), lst(prefix="b", end="bb")),
    sc("list-prefix-start-outside", "start/end outside the prefix range", FRUIT_PUT,
       lst(prefix="b", start="c"), lst(prefix="b", end="a"),
       lst(prefix="b", startAfter="blueberry")),
    sc("list-all-options", "prefix, startAfter, end, reverse and limit together", FRUIT_PUT,
       put_many(("ba", 0), ("bb", 0), ("bc", 0), ("bd", 0)),
       lst(prefix="b", startAfter="ba", end="bd", reverse=True, limit=2),
       lst(prefix="b", start="bb", end="c", reverse=False, limit=3)),
    sc("list-empty-range", "an empty or inverted range is an empty result, not an error",
       FRUIT_PUT, lst(start="d", end="b"), lst(start="cherry", end="cherry"),
       lst(startAfter="cherry", end="cherry")),
    sc("list-start-and-startAfter", "start and startAfter together are refused", FRUIT_PUT,
       lst(start="a", startAfter="b")),
    sc("list-limit-zero", "limit 0 is refused", FRUIT_PUT, lst(limit=0)),
    sc("list-limit-negative", "a negative limit is refused", FRUIT_PUT, lst(limit=-1)),
    sc("list-values", "list returns the stored values, decoded", put_many(
        ("k1", {"nested": [1, 2]}), ("k2", b("ff")), ("k3", None), ("k4", True)), lst()),
    # ---------------------------------------------------------------- batch semantics
    sc("batch-put-get", "batch put then batch get of found and missing keys",
       put_many(("x", 1), ("y", "two"), ("z", [3])), get_many(["z", "y", "x", "w"]),
       get_many(["nope"]), get("y")),
    sc("batch-get-duplicates", "a key asked twice in one batch get",
       put("a", 1), get_many(["a", "a"])),
    sc("batch-empty", "empty batches", get_many([]), delete_many([]), put_many(), lst()),
    sc("batch-128", "128 keys in one batch are allowed",
       put_many(*[(f"k{i:03d}", i) for i in range(128)]),
       get_many([f"k{i:03d}" for i in range(0, 128, 40)]),
       delete_many([f"k{i:03d}" for i in range(128)]), lst()),
    sc("batch-129-put", "129 pairs in one put (the documented limit is 128)",
       put_many(*[(f"k{i:03d}", i) for i in range(129)]), lst(limit=2)),
    sc("batch-129-get", "129 keys in one get (the documented limit is 128)",
       get_many([f"k{i:03d}" for i in range(129)])),
    sc("batch-129-delete", "129 keys in one delete (the documented limit is 128)",
       put("k000", 0), delete_many([f"k{i:03d}" for i in range(129)])),
    sc("batch-put-undefined-value", "entries whose value is undefined are skipped",
       put_many(("a", 1), ("b", UNDEFINED)), lst()),
    sc("put-undefined", "put(key, undefined) is refused", put("a", UNDEFINED), get("a")),
    sc("put-overwrite", "put replaces the value", put("a", 1), put("a", "two"), get("a")),
    sc("put-null", "null is a value: stored, listed, and not the same as absent",
       put("a", None), get("a"), lst(), delete("a"), delete("a")),
    # ---------------------------------------------------------------- delete
    sc("delete-return-values", "single delete gives a bool, batch delete a count",
       put_many(("a", 1), ("b", 2), ("c", 3)), delete("a"), delete("a"),
       delete_many(["b", "c", "d"]), delete_many(["b"]), lst()),
    sc("delete-batch-duplicates", "the same key twice in a batch delete",
       put("a", 1), delete_many(["a", "a"])),
    sc("delete-all", "deleteAll wipes KV and SQL tables",
       put_many(("a", 1), ("b", 2)), sql("CREATE TABLE t (x)"), sql("INSERT INTO t VALUES (1)"),
       delete_all(), lst(), sql("SELECT * FROM t"), put("c", 3), lst()),
    sc("delete-all-alarm", "deleteAll also deletes the alarm (compat date >= 2026-02-24)",
       alarm_set(at=FAR_FUTURE, name="far"), alarm_get(), delete_all(), alarm_get()),
    # ---------------------------------------------------------------- limits
    sc("key-size-2048", "a 2048-byte key and a 2049-byte key",
       put("k" * 2048, 1), put("k" * 2049, 2), get("k" * 2048), get("k" * 2049)),
    sc("value-size-131073", "a value just above 131,072 bytes on a SQLite-backed object",
       put("big", "x" * 131_100), get("missing")),
    # ---------------------------------------------------------------- value round trips
    sc("values-strings", "strings round-trip through storage",
       put_many(("s1", ""), ("s2", "h\u00e9llo"), ("s3", "\U0001f600"), ("s4", "a\u0000b"),
                ("s5", "line\nbreak\ttab")), lst()),
    sc("values-numbers", "numbers round-trip through storage",
       put_many(("n1", 0), ("n2", -1), ("n3", 1.5), ("n4", 9007199254740991), ("n5", 1e300),
                ("n6", 0.1), ("n7", -2.5e-8)), lst()),
    sc("values-special-floats", "NaN, Infinity, -Infinity and -0 survive storage",
       put_many(("f1", flt("NaN")), ("f2", flt("Infinity")), ("f3", flt("-Infinity")),
                ("f4", flt("-0"))), lst()),
    sc("values-bigint", "BigInt / large ints survive storage",
       put("big", bigint("123456789012345678901234567890")),
       put("neg", bigint("-98765432109876543210")), lst()),
    sc("values-bool-null", "booleans and null", put_many(("t", True), ("f", False),
                                                        ("n", None)), lst()),
    sc("values-nested", "nested objects and arrays keep their shape and key order",
       put("doc", {"a": [1, {"b": [None, True, "x"]}], "c": {"d": "e", "f": []}, "g": {}}),
       get("doc")),
    sc("values-object-key-order", "object key order: integer-like keys come first in JS",
       put("o", obj(("b", 1), ("a", 2), ("10", 3), ("2", 4))), get("o")),
    sc("values-bytes", "bytes round-trip (ArrayBuffer / bytes)",
       put_many(("b1", b("00ff10")), ("b2", b("")), ("b3", b("deadbeef" * 8))), lst()),
    sc("values-date", "Date / datetime round-trips with millisecond precision",
       put("d", date(1700000000123)), put("epoch", date(0)), lst()),
    sc("values-map", "a Map with mixed keys round-trips as a Map",
       put("m", jsmap(("b", 1), ("a", [2]), (3, "three"))), get("m")),
    sc("values-set", "a Set round-trips as a Set",
       put("s", jsset(3, "a", 1)), get("s")),
    sc("values-array-holes", "arrays: empty, nested, mixed",
       put("a", [[], [[]], [1, "x", None, 2.5]]), get("a")),
    # ---------------------------------------------------------------- RPC copies
    sc("rpc-mutate-object", "the callee mutates its argument; the caller's copy is unchanged",
       rpc_mutate({"a": 1, "list": [1, 2]})),
    sc("rpc-mutate-array", "array argument is copied", rpc_mutate([1, "two", [3]])),
    sc("rpc-mutate-map", "Map argument is copied", rpc_mutate(jsmap(("k", 1)))),
    sc("rpc-mutate-set", "Set argument is copied", rpc_mutate(jsset("x"))),
    sc("rpc-mutate-bytes", "bytes argument is copied", rpc_mutate(b("0102"))),
    sc("rpc-mutate-date", "Date argument is copied", rpc_mutate(date(1700000000000))),
    sc("rpc-mutate-peer", "RPC to a second object copies too",
       rpc_mutate({"nested": {"deep": [1]}}, target="peer")),
    sc("rpc-echo-values", "values cross RPC and back unchanged",
       rpc_echo([1, 1.5, "s", None, True, b("ff"), date(1700000000123),
                 bigint("123456789012345678901234567890"), {"k": [1]}]),
       rpc_echo(flt("NaN")), rpc_echo(flt("-0")), rpc_echo(jsmap(("a", 1))),
       rpc_echo(jsset(1))),
    sc("rpc-throw", "errors thrown in the callee reach the caller with class and message",
       rpc_throw("TypeError", "bad type"), rpc_throw("RangeError", "out of range"),
       rpc_throw("Error", "plain")),
    # ---------------------------------------------------------------- transactions
    sc("txn-commit", "a transaction commits and returns its results",
       txn(put("a", 1), put("b", 2), get("a"), lst()), lst()),
    sc("txn-rollback-kv", "a throw rolls back puts and deletes in the transaction",
       put_many(("x", 1), ("gone", 1)),
       txn(put("x", 2), put("y", 1), delete("gone"), throw=""), get_many(["x", "y", "gone"])),
    sc("txn-rollback-sql", "a throw rolls back SQL writes made in the transaction",
       sql("CREATE TABLE t (x)"), txn(sql("INSERT INTO t VALUES (1)"), throw="boom"),
       sql("SELECT count(*) AS n FROM t", read="one")),
    sc("txn-rollback-failing-op", "a failing storage op inside the transaction rolls back",
       put("x", 1), txn(put("x", 2), lst(limit=0)), get("x")),
    sc("txn-sees-own-writes", "reads inside a transaction see its own writes",
       put("a", 1), txn(put("a", 2), get("a"), delete("a"), get("a"), put("b", 3), lst()),
       lst()),
    sc("txn-delete-all-inside", "deleteAll() inside a transaction is refused",
       put("a", 1), txn(delete_all()), get("a")),
    sc("txn-nested", "a transaction inside a transaction",
       txn(put("a", 1), txn(put("b", 2))), lst()),
    sc("txn-nested-inner-throw", "an inner throw that escapes both transactions rolls back all",
       txn(put("a", 1), txn(put("b", 2), throw="inner")), lst()),
    sc("txn-sync-commit", "transactionSync commits SQL writes and returns the results",
       sql("CREATE TABLE t (x)"),
       txn_sync(sql("INSERT INTO t VALUES (1)", read="none", fields=("rowsWritten",)),
                sql("SELECT x FROM t")), sql("SELECT count(*) AS n FROM t", read="one")),
    sc("txn-sync-rollback", "transactionSync rolls back when its callback throws",
       sql("CREATE TABLE t (x)"), txn_sync(sql("INSERT INTO t VALUES (1)"), throw="sync"),
       sql("SELECT count(*) AS n FROM t", read="one")),
    # ---------------------------------------------------------------- SQL
    sc("sql-to-array", "toArray returns row objects with typed values",
       sql(T_TABLE), sql("INSERT INTO t (name, score, data) VALUES (?, ?, ?), (?, ?, ?)",
                         "ann", 1.5, b("00ff"), "bob", None, None),
       sql("SELECT * FROM t ORDER BY id")),
    sc("sql-one", "one() returns the single row",
       sql("CREATE TABLE t (x)"), sql("INSERT INTO t VALUES (42)"),
       sql("SELECT x FROM t", read="one")),
    sc("sql-one-none", "one() with no rows is an error",
       sql("CREATE TABLE t (x)"), sql("SELECT x FROM t", read="one")),
    sc("sql-one-many", "one() with several rows is an error",
       sql("CREATE TABLE t (x)"), sql("INSERT INTO t VALUES (1), (2)"),
       sql("SELECT x FROM t", read="one")),
    sc("sql-raw", "raw() returns arrays of values",
       sql("SELECT 1 AS a, 'x' AS b, NULL AS c UNION ALL SELECT 2, 'y', X'01'", read="raw")),
    sc("sql-column-names", "columnNames, including duplicates and statements without columns",
       sql("SELECT 1 AS a, 2 AS b, 3 AS a", read="none", fields=("columnNames",)),
       sql("SELECT 1 AS a, 2 AS b, 3 AS a"),
       sql("SELECT 1 AS a, 2 AS b, 3 AS a", read="raw"),
       sql("CREATE TABLE t (x)", read="none", fields=("columnNames",))),
    sc("sql-rows-read-written", "rowsRead / rowsWritten after reading the cursor",
       sql("CREATE TABLE t (x)", read="none", fields=("rowsRead", "rowsWritten")),
       sql("INSERT INTO t VALUES (1), (2), (3)", read="none", fields=("rowsRead", "rowsWritten")),
       sql("SELECT * FROM t", fields=("rowsRead", "rowsWritten")),
       sql("UPDATE t SET x = x + 1 WHERE x > 1", read="none", fields=("rowsRead", "rowsWritten")),
       sql("DELETE FROM t", read="none", fields=("rowsRead", "rowsWritten"))),
    sc("sql-rows-read-index", "rowsRead with an indexed lookup",
       sql("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"),
       sql("INSERT INTO t (v) VALUES ('a'), ('b'), ('c'), ('d')"),
       sql("SELECT v FROM t WHERE id = ?", 3, fields=("rowsRead", "rowsWritten"))),
    sc("sql-multiple-statements", "several statements: all run, the cursor is the last one's",
       sql("CREATE TABLE a (x); INSERT INTO a VALUES (1); INSERT INTO a VALUES (2); "
           "SELECT * FROM a WHERE x >= ?", 1)),
    sc("sql-multiple-statements-params", "bindings with several statements: only the last may "
       "have parameters", sql("CREATE TABLE a (x); INSERT INTO a VALUES (?); SELECT 1 AS one", 2),
       sql("SELECT name FROM sqlite_master WHERE name = 'a'")),
    sc("sql-bind-number", "numbers bound from JS are REAL (typeof)",
       sql("SELECT typeof(?) AS t1, typeof(?) AS t2, ? AS v", 1, 1.5, 7)),
    sc("sql-bind-integer-column", "a whole number stored into an INTEGER column",
       sql("CREATE TABLE t (i INTEGER, r REAL, a)"), sql("INSERT INTO t VALUES (?, ?, ?)", 5, 5, 5),
       sql("SELECT typeof(i) AS ti, typeof(r) AS tr, typeof(a) AS ta, i, r, a FROM t")),
    sc("sql-bind-bool", "booleans bound in DO SQL", sql("SELECT ? AS v, typeof(?) AS t", True,
                                                       False)),
    sc("sql-bind-text-blob-null", "text, blob and null bindings",
       sql("SELECT typeof(?) AS a, typeof(?) AS b, typeof(?) AS c, ? AS d, ? AS e",
           "s", b("ab"), None, "s", b("ab"))),
    sc("sql-bind-count-wrong", "the wrong number of bindings is an error",
       sql("SELECT ? AS a", 1, 2), sql("SELECT ? AS a, ? AS b", 1)),
    sc("sql-large-integer", "integers beyond 2^53 read back as JS numbers",
       sql("SELECT 9007199254740993 AS big, -9007199254740993 AS neg")),
    sc("sql-types-out", "INTEGER, REAL, TEXT, BLOB and NULL out of SQLite",
       sql("SELECT 1 AS i, 2.0 AS r, 'x' AS t, X'00ff' AS b, NULL AS n, 1e999 AS inf")),
    sc("sql-delete-order-limit", "DELETE ... ORDER BY ... LIMIT (workerd's SQLite enables it)",
       sql("CREATE TABLE t (x)", read="none"),
       sql("INSERT INTO t VALUES (1), (2), (3)", read="none"),
       sql("DELETE FROM t ORDER BY x LIMIT 1", read="none"),
       sql("SELECT x FROM t ORDER BY x")),
    sc("sql-newer-functions", "functions newer than workerd's SQLite: if(), unistr(), median()",
       sql("SELECT iif(1, 2, 3) AS v"), sql("SELECT if(1, 2, 3) AS v"),
       sql("SELECT unistr('a') AS v"), sql("SELECT median(1) AS v")),
    sc("sql-syntax-error", "a syntax error", sql("SELEC 1")),
    sc("sql-no-such-table", "a missing table", sql("SELECT * FROM nope")),
    sc("sql-constraint", "a constraint violation",
       sql("CREATE TABLE t (x INTEGER PRIMARY KEY)"), sql("INSERT INTO t VALUES (1)"),
       sql("INSERT INTO t VALUES (1)"), sql("SELECT count(*) AS n FROM t", read="one")),
    sc("sql-refuse-begin", "BEGIN is refused", sql("BEGIN TRANSACTION")),
    sc("sql-refuse-commit-savepoint", "COMMIT, ROLLBACK and SAVEPOINT are refused",
       sql("COMMIT"), sql("ROLLBACK"), sql("SAVEPOINT s1")),
    sc("sql-refuse-attach", "ATTACH is refused", sql("ATTACH DATABASE ':memory:' AS other")),
    sc("sql-refuse-pragma", "PRAGMA user_version and journal_mode are refused",
       sql("PRAGMA user_version"), sql("PRAGMA user_version = 3"), sql("PRAGMA journal_mode")),
    sc("sql-allowed-pragma", "allowed PRAGMAs answer",
       sql("CREATE TABLE t (a INTEGER, b TEXT)"),
       sql("PRAGMA table_info(t)", read="raw"),
       sql("PRAGMA foreign_keys", read="raw")),
    sc("sql-refuse-cf-kv", "the _cf_KV table behind KV is not reachable from SQL",
       put("a", 1), sql("SELECT * FROM _cf_KV"), sql("DELETE FROM _cf_KV")),
    sc("sql-refuse-cf-create", "user tables may not start with _cf_",
       sql("CREATE TABLE _cf_mine (x)"), sql("CREATE TABLE _CF_Mine (x)")),
    sc("sql-refuse-function", "sqlite_* functions are not allowed",
       sql("SELECT sqlite_version() AS v")),
    sc("sql-refuse-temp", "TEMP tables are refused", sql("CREATE TEMP TABLE tt (x)")),
    sc("sql-kv-separate", "KV writes do not show up as user tables",
       put("a", 1), sql("CREATE TABLE t (x)"),
       sql("SELECT name FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "
           "ORDER BY name")),
    sc("sql-schema-hidden-tables", "sqlite_master is readable and shows the hidden _cf_ tables",
       put("a", 1), alarm_set(at=FAR_FUTURE, name="far"),
       sql("SELECT type, name, tbl_name FROM sqlite_master ORDER BY name", read="raw")),
    # ---------------------------------------------------------------- alarms
    sc("alarm-none", "no alarm set: getAlarm is null", alarm_get(), alarm_delete(), alarm_get()),
    sc("alarm-set-get", "set then get (epoch ms, Date accepted)",
       alarm_set(60_000, name="t1"), alarm_get(),
       alarm_set(at=date(FAR_FUTURE), name="far"), alarm_get()),
    sc("alarm-overwrite", "a second setAlarm replaces the first",
       alarm_set(60_000, name="t1"), alarm_set(120_000, name="t2"), alarm_get()),
    sc("alarm-delete", "deleteAlarm cancels; nothing fires",
       alarm_set(100, name="t1", handler=[put("fired", True)]), alarm_delete(), alarm_get(),
       alarm_wait(400, count=0), get("fired")),
    sc("alarm-fires", "the alarm fires once; getAlarm in the handler is null; then cleared",
       alarm_set(50, name="t1", handler=[alarm_get(), put("fired", True)]),
       alarm_wait(3000), get("fired"), alarm_get()),
    sc("alarm-handler-sets-next", "setAlarm inside the handler is seen by getAlarm",
       alarm_set(50, name="t1", handler=[alarm_set(600_000, name="next"), alarm_get()]),
       alarm_wait(3000), alarm_get()),
    sc("alarm-handler-deletes", "deleteAlarm inside the handler",
       alarm_set(50, name="t1", handler=[alarm_delete(), alarm_get()]),
       alarm_wait(3000), alarm_get()),
    sc("alarm-past", "an alarm time in the past fires as soon as possible",
       alarm_set(-5_000, handler=[put("fired", True)]), alarm_wait(3000), get("fired"),
       alarm_get()),
    sc("alarm-overwrite-before-fire", "overwriting a near alarm with a far one: none fires",
       alarm_set(100, name="near", handler=[put("fired", True)]),
       alarm_set(600_000, name="far"), alarm_wait(400, count=0), alarm_get(), get("fired")),
    sc("alarm-invalid-time", "setAlarm with a time <= 0 is refused",
       alarm_set(at=0), alarm_set(at=-5), alarm_get()),
    # ---------------------------------------------------------------- ids
    sc("id-from-name", "idFromName is deterministic and matches workerd's derivation",
       id_from_name("x"), id_from_name(""), id_from_name("user-123"),
       id_from_name("\U0001f600 caf\u00e9"), id_from_name("x" * 300)),
    sc("id-from-string-valid", "idFromString accepts a valid id; the name is not recovered",
       id_from_string(ID_X), {"op": "id.roundTrip", "name": "x"}),
    sc("id-from-string-uppercase", "idFromString with the hex in upper case",
       id_from_string(ID_X.upper())),
    sc("id-from-string-short", "idFromString with too few digits", id_from_string("abc"),
       id_from_string("")),
    sc("id-from-string-long", "idFromString with 65 digits", id_from_string(ID_X + "0")),
    sc("id-from-string-non-hex", "idFromString with 64 non-hex characters",
       id_from_string("z" * 64), id_from_string(ID_X[:-1] + "g")),
    sc("id-from-string-bad-mac", "a well-formed id whose MAC is wrong",
       id_from_string(ID_X[:-1] + ("e" if ID_X[-1] != "e" else "f")),
       id_from_string("0" * 64)),
    sc("id-from-string-other-namespace", "an id made by another namespace is refused",
       id_from_string(ID_OTHER_NS)),
    sc("id-new-unique", "newUniqueId: 64 hex, distinct, valid for the namespace, no name",
       {"op": "id.newUnique"}),
    # ---------------------------------------------------------------- WebSockets
    sc("ws-upgrade-tags", "fetch with Upgrade: websocket accepts the socket with its tags",
       ws_connect("a", ["room:1", "user:a"]), ws_in("ws.tags", "a"), ws_list(),
       ws_list("room:1"), ws_in("ws.readyState", "a")),
    sc("ws-list-order-untagged", "getWebSockets() without a tag lists the newest socket first",
       ws_connect("a"), ws_connect("b"), ws_connect("c"), ws_list()),
    sc("ws-list-order-tagged", "getWebSockets(tag) lists in accept order; unknown tag is empty",
       ws_connect("a", ["x"]), ws_connect("b", ["x", "y"]), ws_connect("c", ["x"]),
       ws_connect("d"), ws_list(), ws_list("x"), ws_list("y"), ws_list("nope"), ws_list("")),
    sc("ws-get-tags", "getTags returns distinct tags in order; no tags gives an empty list",
       ws_connect("a", ["b", "a", "b", "c"]), ws_connect("n"), ws_connect("e", []),
       ws_in("ws.tags", "a"), ws_in("ws.tags", "n"), ws_in("ws.tags", "e")),
    sc("ws-attachment-roundtrip", "serializeAttachment keeps a copy; none set reads as null",
       ws_connect("a"), ws_in("ws.attachment", "a"),
       ws_in("ws.attach", "a", value={"k": [1, 2], "b": b("ff"), "d": date(1700000000123)}),
       ws_in("ws.attachment", "a"), ws_in("ws.attach", "a", value=jsmap(("m", jsset(1)))),
       ws_in("ws.attachment", "a"), ws_in("ws.attach", "a", value=None),
       ws_in("ws.attachment", "a")),
    sc("ws-attachment-limit", "an attachment over 16,384 serialized bytes is refused; old kept",
       ws_connect("a"), ws_in("ws.attach", "a", value="x" * 16_000),
       ws_in("ws.attach", "a", value="y" * 16_385), ws_in("ws.attach", "a", value="z" * 20_000),
       ws_in("ws.attachment", "a")),
    sc("ws-too-many-tags", "11 tags are refused at accept (duplicates count); 10 are fine",
       ws_connect("a", [f"t{i}" for i in range(11)]), ws_connect("b", [f"t{i}" for i in range(10)]),
       ws_connect("c", [f"t{i % 10}" for i in range(15)]), ws_list(), ws_in("ws.tags", "b")),
    sc("ws-tag-length", "a 257-character tag is refused; 256 is fine",
       ws_connect("a", ["x" * 257]), ws_connect("b", ["x" * 256]), ws_list(),
       ws_list("x" * 256)),
    sc("ws-close-codes-refused", "the object may not close with 1005, 1006, 1004, 1015, 999, 5000",
       ws_connect("a"), ws_close("a", 1005), ws_close("a", 1006), ws_close("a", 1004),
       ws_close("a", 1015), ws_close("a", 999), ws_close("a", 5000),
       ws_in("ws.readyState", "a"), ws_send("a", "still open")),
    sc("ws-close-codes-accepted", "1000, 3000, 4999 and no code (1005) reach the client",
       ws_connect("a"), ws_connect("b"), ws_connect("c"), ws_connect("d"),
       ws_close("a", 1000), ws_close("b", 3000, "x"), ws_close("c", 4999, "bye"), ws_close("d"),
       ws_closed("a"), ws_closed("b"), ws_closed("c"), ws_closed("d")),
    sc("ws-close-reason-length", "a close reason over 123 UTF-8 bytes is refused; 123 is fine",
       ws_connect("a"), ws_close("a", 1000, "r" * 124), ws_close("a", 1000, "\u00e9" * 62),
       ws_in("ws.readyState", "a"), ws_close("a", 4000, "r" * 123), ws_closed("a")),
    sc("ws-echo", "text and binary messages reach the handler and come back unchanged",
       ws_connect("a"), ws_send("a", "hello"), ws_send("a", b("00ff10")), ws_send("a", ""),
       ws_send("a", "caf\u00e9 \U0001f600"), ws_log(4)),
    sc("ws-handler-raises", "a throwing message handler: the client sees nothing, stays open",
       ws_connect("a"), ws_send("a", "raise", expect=0), ws_log(1), ws_send("a", "after"),
       ws_in("ws.readyState", "a")),
    sc("ws-send-after-close", "readyState 1, 2 right after close(), 3 once the client answered; "
       "send() after close() is refused",
       ws_connect("a"), ws_in("ws.readyState", "a"), ws_close("a", 4000, "done"),
       ws_in("ws.objectSend", "a", data="late"),
       ws_closed("a"), ws_log(1), ws_in("ws.readyState", "a"),
       ws_in("ws.objectSend", "a", data="later"), ws_close("a", 1000)),
    sc("ws-auto-response", "the auto-response answers without waking the handler; timestamp set",
       ws_connect("a"), ws_in("ws.autoTimestamp", "a"),
       {"op": "ws.autoResponse", "request": "ping", "response": "pong"},
       ws_send("a", "ping"), ws_send("a", "PING"), ws_log(1), ws_in("ws.autoTimestamp", "a")),
    sc("ws-client-close", "the client closes: the close handler's view; the socket leaves the list",
       ws_connect("a"), ws_connect("b"), ws_client_close("b", 3001, "bye"), ws_log(1),
       ws_list()),
    *PARITY_SCENARIOS,
    *CAPABILITY_SCENARIOS,
]


def scenario_names() -> list[str]:
    return [s["name"] for s in SCENARIOS]


def _check_unique() -> None:
    names = scenario_names()
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate scenario names: {sorted(dupes)}")


_check_unique()

if __name__ == "__main__":
    print(json.dumps(SCENARIOS, ensure_ascii=False))
