// The JS interpreter of the conformance scenarios, run inside workerd by Miniflare (run.mjs).
//
// `Runner` is a SQLite-backed Durable Object; `runOp(op)` executes one scenario operation in the
// object and returns its result rendered in the tagged JSON form (see ../README.md). The default
// export's fetch handler receives the whole scenario list (POST /run), drives every scenario in a
// fresh object (idFromName(scenario.name)) and answers with one trace per scenario. Operations
// that a *caller* of the object performs (rpc.*, id.*, stub.*, alarm.wait, ws.connect...) run
// in that fetch handler. GET /net/<scenario> forwards a WebSocket upgrade that arrived over the
// network (see ws.connect's `via: "network"`) to that scenario's object.
import { DurableObject, RpcTarget } from "cloudflare:workers";

const THROW_PREFIX = "scenario-throw: ";

// ---------------------------------------------------------------- values: decode and render

function hexToBuffer(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out.buffer;
}

function bytesToHex(view) {
  return Array.from(view, (b) => b.toString(16).padStart(2, "0")).join("");
}

const SPECIAL_FLOATS = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, "-0": -0 };

// Scenario input values: plain JSON, plus single-key "$tag" objects for what JSON cannot say.
function decode(x) {
  if (Array.isArray(x)) return x.map(decode);
  if (x === null || typeof x !== "object") return x;
  const keys = Object.keys(x);
  if (keys.length === 1 && keys[0].startsWith("$")) {
    const v = x[keys[0]];
    switch (keys[0]) {
      case "$bytes": return hexToBuffer(v);
      case "$date": return new Date(v);
      case "$bigint": return BigInt(v);
      case "$float": return v in SPECIAL_FLOATS ? SPECIAL_FLOATS[v] : Number(v);
      case "$map": return new Map(v.map(([k, val]) => [decode(k), decode(val)]));
      case "$set": return new Set(v.map(decode));
      case "$undefined": return undefined;
      case "$function": return () => 1;
      case "$repeat": return v[0].repeat(v[1]);
      case "$object": {
        const o = {};
        for (const [k, val] of v) o[k] = decode(val);
        return o;
      }
      default: throw new Error(`unknown input tag ${keys[0]}`);
    }
  }
  const o = {};
  for (const k of keys) o[k] = decode(x[k]);
  return o;
}

function renderNumber(n) {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  if (Object.is(n, -0)) return "-0";
  return n;
}

function render(v) {
  if (v === undefined) return { type: "undefined" };
  if (v === null) return { type: "null" };
  switch (typeof v) {
    case "boolean": return { type: "boolean", value: v };
    case "number": return { type: "number", value: renderNumber(v) };
    case "bigint": return { type: "bigint", value: v.toString() };
    case "string": return { type: "string", value: v };
    case "function": return { type: "function" };
    case "symbol": return { type: "symbol" };
  }
  if (v instanceof ArrayBuffer) return { type: "bytes", value: bytesToHex(new Uint8Array(v)) };
  if (ArrayBuffer.isView(v)) {
    const view = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return { type: "bytes", view: v.constructor.name, value: bytesToHex(view) };
  }
  if (v instanceof Date) return { type: "date", value: renderNumber(v.getTime()) };
  if (v instanceof Blob) return { type: "blob", size: v.size };
  if (v instanceof Map) return { type: "map", value: [...v].map(([k, x]) => [render(k), render(x)]) };
  if (v instanceof Set) return { type: "set", value: [...v].map(render) };
  if (Array.isArray(v)) return { type: "array", value: v.map(render) };
  if (v instanceof Error) return { type: "error", name: v.name, message: v.message };
  if (v instanceof RegExp) return { type: "regexp", value: String(v) };
  return { type: "object", value: Object.keys(v).map((k) => [k, render(v[k])]) };
}

// The flags workerd sets on errors that cross a stub; only those set to true are listed.
const ERROR_FLAGS = ["remote", "retryable", "overloaded", "durableObjectReset"];

function renderError(e) {
  const name = (e && (e.name || (e.constructor && e.constructor.name))) || typeof e;
  const out = { error: name, message: e && e.message !== undefined ? String(e.message) : String(e) };
  const flags = ERROR_FLAGS.filter((f) => e !== null && typeof e === "object" && e[f] === true);
  if (flags.length) out.flags = flags;
  return out;
}

// A message on a socket; a long text is rendered by its length so traces stay small.
const LONG_TEXT = 4096;

function renderMessage(m) {
  if (typeof m === "string" && m.length > LONG_TEXT) return { type: "long-string", length: m.length };
  return render(m);
}

// What `mutate` does to an argument it received over RPC (the caller's copy must not change).
function mutate(v) {
  if (Array.isArray(v)) v.push("mutated");
  else if (v instanceof Map) v.set("mutated", true);
  else if (v instanceof Set) v.add("mutated");
  else if (v instanceof Date) v.setTime(0);
  else if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const view = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer);
    if (view.length) view[0] = 0xff;
  } else if (v !== null && typeof v === "object") {
    v.mutated = true;
    for (const k of Object.keys(v)) if (k !== "mutated") mutate(v[k]);
  }
  return v;
}

const LIST_OPTIONS = ["prefix", "start", "startAfter", "end", "reverse", "limit"];

// A scenario configures the constructor of the object's *next* instance through this KV key
// (read with the synchronous KV API, which works in a constructor): {handler} restores the
// alarm handler's ops, {alarm_in_ms, name} moves the alarm under blockConcurrencyWhile and
// counts constructions in "ctor-runs", {throw} makes blockConcurrencyWhile throw.
const CTOR_KEY = "ctor";

// ---------------------------------------------------------------- the Durable Object

// ---------------------------------------------------------------- RPC capabilities (cap.*)

// A counter passed by reference; `field` is an instance property (not reachable over RPC).
class CapCounter extends RpcTarget {
  constructor(n) {
    super();
    this.n = n;
    this.field = "instance";
  }
  inc(by = 1) {
    this.n += by;
    return this.n;
  }
  get value() {
    return this.n;
  }
  _under() {
    return "under";
  }
}

// A target whose [Symbol.dispose] records its name in `log` (the object's disposal log).
class CapResource extends RpcTarget {
  constructor(name, log) {
    super();
    this.name = name;
    this.log = log;
  }
  hi() {
    return "hi " + this.name;
  }
  [Symbol.dispose]() {
    this.log.push(this.name);
  }
}

class CapPlain {
  constructor() {
    this.a = 1;
  }
}

export class Runner extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.alarmHandlerOps = [];
    this.alarmLog = [];
    this.times = new Map(); // alarm time (epoch ms) -> symbolic name given by the scenario
    this.sockets = new Map(); // scenario client name -> accepted server WebSocket
    this.wsLog = []; // what the webSocket* handlers saw, read by the ws.log op
    this.counter = 0; // in-memory state (mem.inc): gone with the instance
    const cfg = ctx.storage.kv.get(CTOR_KEY);
    if (cfg) this.configure(cfg);
  }

  configure(cfg) {
    const ctx = this.ctx;
    if (cfg.handler) this.alarmHandlerOps = cfg.handler;
    if (cfg.alarm_in_ms !== undefined) {
      const t = Date.now() + cfg.alarm_in_ms;
      this.times.set(t, cfg.name || "ctor");
      ctx.blockConcurrencyWhile(async () => {
        await ctx.storage.setAlarm(t);
        ctx.storage.kv.put("ctor-runs", (ctx.storage.kv.get("ctor-runs") ?? 0) + 1);
      });
    }
    if (cfg.throw !== undefined) {
      ctx.blockConcurrencyWhile(async () => {
        throw new Error(THROW_PREFIX + cfg.throw);
      });
    }
  }

  // ------------------------------------------------------------ RPC members used by callers

  get answer() {
    return 42;
  }

  async size(x) {
    return typeof x === "string" ? x.length : x.byteLength;
  }

  // ------------------------------------------------------------ RPC capabilities (cap.*)

  async capCall(cb, ...args) {
    return await cb(...args);
  }
  async capCallTwice(cb) {
    return [await cb(1), await cb(2)];
  }
  capDoubler() {
    return (x) => x * 2;
  }
  capTally() {
    let count = 0;
    return () => ++count;
  }
  capCounter(n) {
    return new CapCounter(n);
  }
  capNested() {
    return { counter: new CapCounter(7), label: "n" };
  }
  capFailing() {
    throw new Error(THROW_PREFIX + "first call failed");
  }
  async capBump(target) {
    return await target.inc(100);
  }
  capKeep(cb) {
    this.capKept = cb;
    return "kept";
  }
  capKeepDup(cb) {
    this.capKept = cb.dup();
    return "kept";
  }
  async capCallKept(x) {
    return await this.capKept(x);
  }
  capPlain() {
    return new CapPlain();
  }
  capResource(name) {
    this.capLog ??= [];
    return new CapResource(name, this.capLog);
  }
  capDisposed() {
    return this.capLog ?? [];
  }
  // A target this object receives from another one (the lender), kept in a field or not.
  capLender() {
    return this.env.DO.get(this.env.DO.idFromName("conformance-cap-lender"));
  }
  async capBorrow(name) {
    this.capBorrowed = await this.capLender().capResource(name);
    return await this.capBorrowed.hi();
  }
  async capBorrowUnkept(name) {
    const res = await this.capLender().capResource(name);
    return await res.hi();
  }
  async capUseBorrowed() {
    return await this.capBorrowed.hi();
  }
  async capLenderDisposed() {
    return [...(await this.capLender().capDisposed())].sort();
  }
  async capConsume(stream) {
    const reader = stream.getReader();
    const sizes = [];
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return { chunks: sizes };
        sizes.push(value.byteLength);
      }
    } catch (e) {
      return { chunks: sizes, error: e.message };
    }
  }
  capStream(n) {
    let i = 0;
    return new ReadableStream({
      type: "bytes",
      pull(c) {
        if (i++ < n) c.enqueue(new Uint8Array([i, i]));
        else c.close();
      },
    });
  }
  async capRequest(r) {
    return { url: r.url, method: r.method, header: r.headers.get("x-a"), body: await r.text() };
  }
  capResponse() {
    return new Response("hello", { status: 201, headers: { "x-b": "2" } });
  }

  async makeStub() {
    return this.env.DO.get(this.env.DO.idFromName("conformance-other"));
  }

  // Passes a stub to another object from inside this one; the error is the result.
  async passPeer() {
    const peer = this.env.DO.get(this.env.DO.idFromName("conformance-peer"));
    try {
      return render(await peer.echo(peer));
    } catch (e) {
      return renderError(e);
    }
  }

  // ------------------------------------------------------------ HTTP (non-upgrade requests)

  // /redirect?to=<url>&status=<n> answers Response.redirect; /echo describes the request.
  http(request, url) {
    if (url.pathname === "/redirect") {
      const status = url.searchParams.has("status") ? Number(url.searchParams.get("status")) : undefined;
      return Response.redirect(url.searchParams.get("to"), status);
    }
    if (url.pathname === "/echo" || url.pathname === "/") {
      return Response.json({ url: request.url, method: request.method, cf: request.cf ?? null });
    }
    return new Response("no upgrade", { status: 426 });
  }

  // The standard WebSocket API: accept() and event listeners; not hibernatable, not listed.
  acceptStandard(server, client, binaryType) {
    if (binaryType) server.binaryType = binaryType; // default "blob": binary data is a Blob
    server.accept();
    server.addEventListener("message", (e) => {
      this.wsLog.push({ event: "message", client, data: renderMessage(e.data) });
      server.send(e.data);
    });
    server.addEventListener("close", (e) => {
      this.wsLog.push({
        event: "close", client, code: e.code, reason: e.reason, wasClean: e.wasClean,
        readyState: server.readyState, listed: this.ctx.getWebSockets().includes(server),
      });
    });
  }

  // ------------------------------------------------------------ WebSockets (hibernation API)

  // GET /ws?client=<name>&tags=<json> with Upgrade: websocket accepts pair[1] with those tags.
  async fetch(request) {
    const url = new URL(request.url);
    if (request.headers.get("Upgrade") !== "websocket") return this.http(request, url);
    const tags = url.searchParams.has("tags") ? JSON.parse(url.searchParams.get("tags")) : undefined;
    const pair = new WebSocketPair();
    if (url.searchParams.get("api") === "standard") this.acceptStandard(pair[1], url.searchParams.get("client"), url.searchParams.get("binaryType"));
    else if (tags === undefined) this.ctx.acceptWebSocket(pair[1]);
    else this.ctx.acceptWebSocket(pair[1], tags);
    this.sockets.set(url.searchParams.get("client"), pair[1]);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  clientName(ws) {
    for (const [name, s] of this.sockets) if (s === ws) return name;
    return "?";
  }

  socket(name) {
    const ws = this.sockets.get(name);
    if (!ws) throw new Error(`scenario bug: no client ${name}`);
    return ws;
  }

  async webSocketMessage(ws, message) {
    this.wsLog.push({ event: "message", client: this.clientName(ws), data: renderMessage(message) });
    if (message === "raise") throw new Error(THROW_PREFIX + "in webSocketMessage");
    ws.send(message);
  }

  async webSocketClose(ws, code, reason, wasClean) {
    this.wsLog.push({
      event: "close", client: this.clientName(ws), code, reason, wasClean,
      readyState: ws.readyState, listed: this.ctx.getWebSockets().includes(ws),
    });
  }

  async webSocketError(ws, error) {
    this.wsLog.push({ event: "error", client: this.clientName(ws) });
  }

  wsOp(op) {
    const ctx = this.ctx;
    switch (op.op) {
      case "ws.list":
        return { type: "ws-list", value: ("tag" in op ? ctx.getWebSockets(op.tag) : ctx.getWebSockets()).map((w) => this.clientName(w)) };
      case "ws.tags":
        return render(ctx.getTags(this.socket(op.client)));
      case "ws.attach":
        return render(this.socket(op.client).serializeAttachment(decode(op.value)));
      case "ws.attachment":
        return render(this.socket(op.client).deserializeAttachment());
      case "ws.close": {
        // On success: readyState read in the same event, right after close().
        const ws = this.socket(op.client);
        if ("reason" in op) ws.close(op.code, op.reason);
        else if ("code" in op) ws.close(op.code);
        else ws.close();
        return { type: "ws-state", readyState: ws.readyState };
      }
      case "ws.objectSend":
        return render(this.socket(op.client).send(decode(op.data)));
      case "ws.readyState":
        return render(this.socket(op.client).readyState);
      case "ws.autoResponse":
        return render(ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(op.request, op.response)));
      case "ws.autoTimestamp":
        return this.renderTime(ctx.getWebSocketAutoResponseTimestamp(this.socket(op.client)));
      case "ws.log":
        return { type: "ws-log", value: this.wsLog };
      default:
        throw new Error(`scenario bug: unknown op ${op.op}`);
    }
  }

  renderTime(t) {
    if (t === null || t === undefined) return render(t);
    if (t instanceof Date) t = t.getTime();
    if (this.times.has(t)) return { type: "time", value: this.times.get(t) };
    if (Math.abs(t - Date.now()) <= 1000) return { type: "time", value: "~now" };
    return { type: "time", value: "other" };
  }

  async runOp(op) {
    try {
      return await this.exec(op);
    } catch (e) {
      return renderError(e);
    }
  }

  async mutate(arg) {
    const received = render(arg);
    return { received, returned: mutate(arg) };
  }

  async echo(arg) {
    return arg;
  }

  async throwError(spec) {
    const Cls = { TypeError, RangeError, Error }[spec.class] || Error;
    throw new Cls(spec.message);
  }

  async alarm(info) {
    const results = [];
    for (const op of this.alarmHandlerOps) results.push({ op: op.op, result: await this.runOp(op) });
    this.alarmLog.push({ retryCount: info ? info.retryCount : null, results });
  }

  async execList(ops) {
    const out = [];
    for (const op of ops) out.push(await this.exec(op));
    return out;
  }

  async exec(op) {
    const s = this.ctx.storage;
    switch (op.op) {
      case "kv.put":
        if ("entries" in op) {
          const entries = {};
          for (const [k, v] of op.entries) entries[k] = decode(v);
          return render(await s.put(entries));
        }
        return render(await s.put(decode(op.key), decode(op.value)));
      case "kv.get":
        return render(await s.get("keys" in op ? op.keys : decode(op.key)));
      case "kv.delete":
        return render(await s.delete("keys" in op ? op.keys : decode(op.key)));
      case "kv.list": {
        const opts = op.options || {};
        for (const k of Object.keys(opts)) {
          if (!LIST_OPTIONS.includes(k)) throw new Error(`scenario bug: list option ${k}`);
        }
        return render("options" in op ? await s.list(opts) : await s.list());
      }
      case "kv.deleteAll":
        return render(await s.deleteAll());
      case "sql.exec":
        return this.sqlExec(op);
      case "transaction":
        return {
          type: "results",
          value: await s.transaction(async () => {
            const results = [];
            for (const inner of op.ops) results.push(await this.exec(inner));
            if (op.throw !== undefined) throw new Error(THROW_PREFIX + op.throw);
            return results;
          }),
        };
      case "transactionSync":
        return {
          type: "results",
          value: s.transactionSync(() => {
            const results = [];
            for (const inner of op.ops) {
              if (inner.op !== "sql.exec") throw new Error("scenario bug: transactionSync op");
              results.push(this.sqlExec(inner));
            }
            if (op.throw !== undefined) throw new Error(THROW_PREFIX + op.throw);
            return results;
          }),
        };
      case "alarm.set": {
        const t = "at" in op ? decode(op.at) : Date.now() + op.in_ms;
        if (op.handler) this.alarmHandlerOps = op.handler;
        const result = await s.setAlarm(t);
        if (op.name) this.times.set(t instanceof Date ? t.getTime() : t, op.name);
        return render(result);
      }
      case "alarm.get":
        return this.renderTime(await s.getAlarm());
      case "alarm.delete":
        return render(await s.deleteAlarm());
      case "alarm.log":
        return { type: "alarm-log", value: this.alarmLog };
      case "throw":
        throw new Error(THROW_PREFIX + op.message);
      case "noAwait":
        return this.noAwait(op);
      case "kvs.get":
        return render(s.kv.get(decode(op.key)));
      case "kvs.put":
        if ("value" in op) return render(s.kv.put(decode(op.key), decode(op.value)));
        return render(s.kv.put(decode(op.key)));
      case "kvs.delete":
        return render(s.kv.delete(decode(op.key)));
      case "kvs.list": {
        const it = "options" in op ? s.kv.list(decode(op.options)) : s.kv.list();
        return { type: "kv-iterator", array: Array.isArray(it), entries: render([...it]) };
      }
      case "sql.size":
        return render(s.sql.databaseSize);
      case "sql.next": {
        // next() steps of a cursor (raw(): arrays), then toArray() of what is left.
        const cursor = s.sql.exec(op.query, ...(op.bindings || []).map(decode));
        const source = op.raw ? cursor.raw() : cursor;
        const steps = [];
        for (let i = 0; i < op.count; i++) steps.push(render(source.next()));
        return { type: "cursor-steps", steps, rest: render(source.toArray()) };
      }
      case "mem.inc":
        return render(++this.counter);
      case "ctx.abort":
        if ("reason" in op) this.ctx.abort(op.reason);
        else this.ctx.abort();
        return render("still running after abort()");
      case "bcw.throw":
        await this.ctx.blockConcurrencyWhile(async () => {
          throw new Error(THROW_PREFIX + op.message);
        });
        return render("blockConcurrencyWhile returned");
      case "ctx.setEventTimeout":
        if ("ms" in op) return render(this.ctx.setHibernatableWebSocketEventTimeout(decode(op.ms)));
        return render(this.ctx.setHibernatableWebSocketEventTimeout());
      case "ctx.getEventTimeout":
        return render(this.ctx.getHibernatableWebSocketEventTimeout());
      case "http.redirect": {
        const r = "status" in op ? Response.redirect(op.url, op.status) : Response.redirect(op.url);
        return { type: "http", status: r.status, location: r.headers.get("location") };
      }
      default:
        if (op.op.startsWith("ws.")) return this.wsOp(op);
        throw new Error(`scenario bug: unknown op ${op.op}`);
    }
  }

  // Starts a storage call without awaiting it; what it returns (a promise) is kept.
  startCall(call) {
    const s = this.ctx.storage;
    switch (call.op) {
      case "kv.put":
        return s.put(decode(call.key), decode(call.value));
      case "kv.delete":
        return s.delete(decode(call.key));
      case "kv.deleteAll":
        return s.deleteAll();
      case "alarm.set": {
        const t = "at" in call ? decode(call.at) : Date.now() + call.in_ms;
        if (call.name) this.times.set(t instanceof Date ? t.getTime() : t, call.name);
        return s.setAlarm(t);
      }
      case "alarm.delete":
        return s.deleteAlarm();
      default:
        throw new Error(`scenario bug: noAwait ${call.op}`);
    }
  }

  // `void storage.put(...)`: the call is not awaited; `then` ops run after it in the same
  // event; the outcome is read at the end. `at` says where an error showed: the call itself
  // ("call") or the promise it returned ("await").
  async noAwait(op) {
    let promise = null;
    let outcome = null;
    let at = null;
    try {
      promise = this.startCall(op.call);
      promise.catch(() => {}); // awaited below; no unhandled rejection in between
    } catch (e) {
      outcome = renderError(e);
      at = "call";
    }
    const then = [];
    for (const inner of op.then || []) then.push({ op: inner.op, result: await this.runOp(inner) });
    if (promise !== null) {
      try {
        outcome = render(await promise);
      } catch (e) {
        outcome = renderError(e);
        at = "await";
      }
    }
    return { type: "no-await", call: op.call.op, at, outcome, then };
  }

  sqlExec(op) {
    const bindings = (op.bindings || []).map(decode);
    const cursor = this.ctx.storage.sql.exec(op.query, ...bindings);
    const out = { type: "sql" };
    const read = op.read || "toArray";
    if (read === "toArray") out.rows = render(cursor.toArray());
    else if (read === "one") out.rows = render(cursor.one());
    else if (read === "raw") out.rows = render(cursor.raw().toArray());
    else if (read !== "none") throw new Error(`scenario bug: read ${read}`);
    for (const field of op.fields || []) {
      if (field === "columnNames") out.columnNames = render(cursor.columnNames);
      else if (field === "rowsRead") out.rowsRead = render(cursor.rowsRead);
      else if (field === "rowsWritten") out.rowsWritten = render(cursor.rowsWritten);
      else throw new Error(`scenario bug: field ${field}`);
    }
    return out;
  }
}

// ---------------------------------------------------------------- the driver (a caller)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// A scenario's WebSocket clients (the test side of each socket), by name.
class Client {
  constructor(ws) {
    this.ws = ws;
    this.messages = [];
    this.read = 0;
    this.closeInfo = null;
    this.waiters = [];
    ws.addEventListener("message", (e) => {
      this.messages.push(e.data); // text: string; binary: a Blob here (read in take())
      this.wake();
    });
    ws.addEventListener("close", (e) => {
      this.closeInfo = { code: e.code, reason: e.reason, wasClean: e.wasClean };
      this.wake();
    });
    ws.accept();
  }

  // The unread messages, rendered; binary frames arrive as Blob on this (client) side.
  async take() {
    const fresh = this.messages.slice(this.read);
    this.read = this.messages.length;
    const out = [];
    for (const m of fresh) out.push(renderMessage(typeof m === "string" ? m : await m.arrayBuffer()));
    return { type: "ws-messages", value: out };
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  // Resolves when `done()` holds, or after `ms` (deterministic: no fixed sleeps when it holds).
  async until(done, ms) {
    const deadline = Date.now() + ms;
    while (!done() && Date.now() < deadline) {
      await Promise.race([new Promise((r) => this.waiters.push(r)), sleep(Math.max(1, deadline - Date.now()))]);
    }
  }
}

const WS_WAIT_MS = 2000;

async function wsDriverOp(env, run, clients, op) {
  const stub = run.stub;
  switch (op.op) {
    case "ws.connect": {
      const q = new URLSearchParams({ client: op.client });
      if ("tags" in op) q.set("tags", JSON.stringify(op.tags));
      if (op.api === "standard") q.set("api", "standard");
      if (op.binaryType) q.set("binaryType", op.binaryType);
      // via "network": through workerd's HTTP listener (Miniflare's port), as a real client
      // connects, so the platform's message-size limit applies; else the in-Worker pipe.
      const resp = op.via === "network"
        ? await fetch(`${run.origin}/net/${encodeURIComponent(run.name)}?${q}`, { headers: { Upgrade: "websocket" } })
        : await stub.fetch(`http://conformance.local/ws?${q}`, { headers: { Upgrade: "websocket" } });
      if (!resp.webSocket) return { type: "ws-open", status: resp.status };
      clients.set(op.client, new Client(resp.webSocket));
      return { type: "ws-open", status: resp.status };
    }
    case "ws.send": {
      const c = clients.get(op.client);
      c.ws.send("repeat" in op ? decode(op.data).repeat(op.repeat) : decode(op.data));
      const want = c.read + (op.expect ?? 1);
      await c.until(() => c.messages.length >= want || c.closeInfo !== null, op.expect === 0 ? 50 : WS_WAIT_MS);
      return c.take();
    }
    case "ws.received": {
      const c = clients.get(op.client);
      const want = c.read + (op.expect ?? 1);
      await c.until(() => c.messages.length >= want || c.closeInfo !== null, WS_WAIT_MS);
      return c.take();
    }
    case "ws.clientClose": {
      const c = clients.get(op.client);
      if ("reason" in op) c.ws.close(op.code, op.reason);
      else if ("code" in op) c.ws.close(op.code);
      else c.ws.close();
      return render(undefined);
    }
    case "ws.closed": {
      const c = clients.get(op.client);
      await c.until(() => c.closeInfo !== null, WS_WAIT_MS);
      return c.closeInfo ? { type: "ws-close", ...c.closeInfo } : render(null);
    }
    case "ws.log": {
      const deadline = Date.now() + WS_WAIT_MS;
      let log = (await stub.runOp({ op: "ws.log" })).value;
      while (log.length < (op.count ?? 0) && Date.now() < deadline) {
        await sleep(5);
        log = (await stub.runOp({ op: "ws.log" })).value;
      }
      return { type: "ws-log", value: log };
    }
    default:
      return null;
  }
}

// The caller's side of the capability cases (cap.*): each returns a rendered value, or throws.
const capSleep = () => sleep(50); // lets workerd run a [Symbol.dispose] hook

function byteStream(chunks, failAfter) {
  let i = 0;
  return new ReadableStream({
    type: "bytes",
    pull(c) {
      if (failAfter !== undefined && i === failAfter) c.error(new Error(THROW_PREFIX + "stream"));
      else if (i++ < chunks) c.enqueue(new Uint8Array(4));
      else c.close();
    },
  });
}

async function readAll(stream) {
  const reader = stream.getReader();
  const out = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(Array.from(value));
  }
}

async function capDriverOp(stub, op) {
  switch (op.op) {
    case "cap.callback": return render(await stub.capCall((a, b) => a + b, 2, 3));
    case "cap.callbackTwice": return render(await stub.capCallTwice((x) => x * 10));
    case "cap.callbackThrows":
      return render(await stub.capCall(() => { throw new Error(THROW_PREFIX + "in callback"); }));
    case "cap.callbackCopies": {
      const original = { v: 1 };
      const back = await stub.capCall((x) => { x.v = 9; return x; }, original);
      return render([original, back]);
    }
    case "cap.returnedFunction": return render(await (await stub.capDoubler())(21));
    case "cap.returnedClosure": {
      const tally = await stub.capTally();
      return render([await tally(), await tally()]);
    }
    case "cap.functionInObject": {
      const back = await stub.echo({ f: (x) => x + 1 });
      return render([typeof back.f === "function", await back.f(1)]);
    }
    case "cap.targetCounter": {
      const c = await stub.capCounter(10);
      return render([await c.inc(), await c.inc(5), await c.value]);
    }
    case "cap.targetArg": {
      const mine = new CapCounter(1);
      return render([await stub.capBump(mine), mine.n]);
    }
    case "cap.targetField": return render(await (await stub.capCounter(1)).field);
    case "cap.targetMissing": return render(await (await stub.capCounter(1)).nope());
    case "cap.targetUnderscore": return render(await (await stub.capCounter(1))._under());
    case "cap.plainResult": return render(await stub.capPlain());
    case "cap.plainArg": return render(await stub.echo(new CapPlain()));
    case "cap.pipe": return render(await stub.capCounter(10).inc());
    case "cap.pipeNested": return render(await stub.capNested().counter.inc());
    case "cap.pipeNestedLabel": return render(await stub.capNested().label);
    case "cap.pipeProperty": return render(await stub.capCounter(3).value);
    case "cap.pipeFail": return render(await stub.capFailing().inc());
    case "cap.pipeOnPlain": return render(await stub.answer.foo());
    case "cap.pendingArg": return render(await stub.echo(stub.capCounter(1)));
    case "cap.getter": return render(await (await stub.capCounter(4)).value);
    case "cap.callGetter": return render(await (await stub.capCounter(4)).value());
    case "cap.streamArg": return render(await stub.capConsume(byteStream(3)));
    case "cap.streamArgError": return render(await stub.capConsume(byteStream(5, 2)));
    case "cap.streamResult": return render(await readAll(await stub.capStream(3)));
    case "cap.requestArg":
      return render(await stub.capRequest(new Request("https://x.test/p?q=1",
        { method: "POST", headers: { "x-a": "1" }, body: "bodyy" })));
    case "cap.responseResult": {
      const r = await stub.capResponse();
      return render([r.status, r.headers.get("x-b"), await r.text()]);
    }
    case "cap.keptCallback":
      await stub.capKeep((x) => x + 1);
      return render(await stub.capCallKept(1));
    case "cap.keptCallbackDup":
      await stub.capKeepDup((x) => x + 1);
      return render(await stub.capCallKept(1));
    case "cap.disposeThenCall": {
      const res = await stub.capResource("a");
      res[Symbol.dispose]();
      return render(await res.hi());
    }
    case "cap.disposeHook": {
      const res = await stub.capResource("d1");
      await res.hi();
      res[Symbol.dispose]();
      await capSleep();
      return render(await stub.capDisposed());
    }
    case "cap.dupDispose": {
      const res = await stub.capResource("d2");
      const second = res.dup();
      res[Symbol.dispose]();
      await capSleep();
      const before = await stub.capDisposed();
      const hi = await second.hi();
      second[Symbol.dispose]();
      await capSleep();
      return render([hi, before, await stub.capDisposed()]);
    }
    case "cap.borrowKept": {
      const first = await stub.capBorrow("kept");
      await capSleep();
      return render([first, await stub.capLenderDisposed(), await stub.capUseBorrowed()]);
    }
    case "cap.borrowUnkept": {
      const first = await stub.capBorrowUnkept("unkept");
      await capSleep();
      return render([first, await stub.capLenderDisposed()]);
    }
    case "cap.lenderDisposed":
      await capSleep();
      return render(await stub.capLenderDisposed());
    case "cap.ownerReset": {
      const c = await stub.capCounter(1);
      await c.inc();
      try {
        await stub.runOp({ op: "ctx.abort" });
      } catch (e) {
        // the reset itself is not what this case shows
      }
      return render(await c.inc());
    }
    default:
      return null;
  }
}

async function driverOp(env, run, scenario, op, clients) {
  if (op.op.startsWith("cap.")) return capDriverOp(run.stub, op);
  if (op.op.startsWith("ws.")) return wsDriverOp(env, run, clients, op);
  const stub = run.stub;
  switch (op.op) {
    case "stub.renew": // a new stub for the same id (the old one may be broken by a reset)
      run.stub = env.DO.get(env.DO.idFromName(scenario.name));
      return render(undefined);
    case "sleep": // the caller waits; nothing calls the object meanwhile
      await sleep(op.ms);
      return render(undefined);
    case "stub.property":
      return render(await stub[op.name]);
    case "stub.passStub":
      if (op.where === "arg") return render(await stub.echo(stub));
      if (op.where === "result") return render(await stub.makeStub());
      return await stub.passPeer();
    case "stub.payload":
      return render(await stub.size(op.kind === "bytes" ? new ArrayBuffer(op.length) : "x".repeat(op.length)));
    case "stub.fetch": {
      const init = {};
      if (op.redirect) init.redirect = op.redirect;
      if (op.cf) init.cf = op.cf;
      const r = await stub.fetch(op.url, init);
      const type = r.headers.get("content-type") || "";
      return {
        type: "http", status: r.status, redirected: r.redirected, url: r.url,
        location: r.headers.get("location"),
        body: type.startsWith("application/json") ? render(await r.json()) : render(await r.text()),
      };
    }
    case "stub.locationHint": {
      const hinted = env.DO.get(env.DO.idFromName(scenario.name), { locationHint: op.hint });
      return render(await hinted.runOp({ op: "mem.inc" }).then((r) => r.value));
    }
    case "ns.jurisdiction": {
      const sub = env.DO.jurisdiction(op.value);
      return { type: "jurisdiction", id: render(sub.idFromName(scenario.name).jurisdiction) };
    }
    case "id.jurisdiction":
      return render(env.DO.idFromName(op.name).jurisdiction);
    case "rpc.mutate": {
      const target = op.target === "peer" ? env.DO.get(env.DO.idFromName(`${scenario.name}#peer`)) : stub;
      const arg = decode(op.value);
      const reply = await target.mutate(arg);
      return {
        type: "rpc",
        received: reply.received,
        returned: render(reply.returned),
        caller_after: render(arg),
      };
    }
    case "rpc.echo":
      return render(await stub.echo(decode(op.value)));
    case "rpc.throw":
      await stub.throwError({ class: op.class, message: op.message });
      return { type: "no-error" };
    case "id.fromName":
      return render(env.DO.idFromName(op.name).toString());
    case "id.fromString": {
      const id = env.DO.idFromString(op.value);
      return { type: "id", hex: id.toString(), name: render(id.name) };
    }
    case "id.roundTrip": {
      const id = env.DO.idFromName(op.name);
      const back = env.DO.idFromString(id.toString());
      return {
        type: "id-roundtrip",
        equals: back.equals(id),
        same_hex: back.toString() === id.toString(),
        name: render(back.name),
        original_name: render(id.name),
      };
    }
    case "id.newUnique": {
      const a = env.DO.newUniqueId();
      const b = env.DO.newUniqueId();
      return {
        type: "id-shape",
        hex64: /^[0-9a-f]{64}$/.test(a.toString()),
        distinct: !a.equals(b),
        valid_for_namespace: env.DO.idFromString(a.toString()).equals(a),
        name: render(a.name),
      };
    }
    case "alarm.wait": {
      const deadline = Date.now() + op.ms;
      let log = (await stub.runOp({ op: "alarm.log" })).value;
      while (log.length < (op.count || 0) && Date.now() < deadline) {
        await sleep(10);
        log = (await stub.runOp({ op: "alarm.log" })).value;
      }
      if ((op.count || 0) === 0) {
        await sleep(op.ms);
        log = (await stub.runOp({ op: "alarm.log" })).value;
      }
      return { type: "alarm-log", value: log };
    }
    default:
      return null;
  }
}

async function runScenario(env, scenario, origin) {
  const run = { name: scenario.name, stub: env.DO.get(env.DO.idFromName(scenario.name)), origin };
  const trace = [];
  const clients = new Map();
  for (const op of scenario.ops) {
    let result;
    try {
      result = await driverOp(env, run, scenario, op, clients);
      if (result === null) result = await run.stub.runOp(op);
    } catch (e) {
      result = op.op.startsWith("rpc.") ? { remote: true, ...renderError(e) } : renderError(e);
    }
    trace.push({ op: op.op, result });
  }
  for (const c of clients.values()) if (c.closeInfo === null) c.ws.close(1000, "scenario over");
  return { name: scenario.name, trace };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    // /net/<scenario>?...: a WebSocket upgrade that came in over the network, for that object.
    if (url.pathname.startsWith("/net/")) {
      const name = decodeURIComponent(url.pathname.slice("/net/".length));
      return env.DO.get(env.DO.idFromName(name)).fetch(`http://conformance.local/ws${url.search}`, request);
    }
    const scenarios = await request.json();
    const origin = url.searchParams.get("origin");
    const out = [];
    for (const scenario of scenarios) {
      try {
        out.push(await runScenario(env, scenario, origin));
      } catch (e) {
        out.push({ name: scenario.name, crashed: renderError(e) });
      }
    }
    return Response.json(out);
  },
};
