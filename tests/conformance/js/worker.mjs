// The JS interpreter of the conformance scenarios, run inside workerd by Miniflare (run.mjs).
//
// `Runner` is a SQLite-backed Durable Object; `runOp(op)` executes one scenario operation in the
// object and returns its result rendered in the tagged JSON form (see ../README.md). The default
// export's fetch handler receives the whole scenario list (POST /run), drives every scenario in a
// fresh object (idFromName(scenario.name)) and answers with one trace per scenario. Operations
// that a *caller* of the object performs (rpc.*, id.*, alarm.wait) run in that fetch handler.
import { DurableObject } from "cloudflare:workers";

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
  if (v instanceof Map) return { type: "map", value: [...v].map(([k, x]) => [render(k), render(x)]) };
  if (v instanceof Set) return { type: "set", value: [...v].map(render) };
  if (Array.isArray(v)) return { type: "array", value: v.map(render) };
  if (v instanceof Error) return { type: "error", name: v.name, message: v.message };
  if (v instanceof RegExp) return { type: "regexp", value: String(v) };
  return { type: "object", value: Object.keys(v).map((k) => [k, render(v[k])]) };
}

function renderError(e) {
  const name = (e && (e.name || (e.constructor && e.constructor.name))) || typeof e;
  return { error: name, message: e && e.message !== undefined ? String(e.message) : String(e) };
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

// ---------------------------------------------------------------- the Durable Object

export class Runner extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.alarmHandlerOps = [];
    this.alarmLog = [];
    this.times = new Map(); // alarm time (epoch ms) -> symbolic name given by the scenario
    this.sockets = new Map(); // scenario client name -> accepted server WebSocket
    this.wsLog = []; // what the webSocket* handlers saw, read by the ws.log op
  }

  // ------------------------------------------------------------ WebSockets (hibernation API)

  // GET /ws?client=<name>&tags=<json> with Upgrade: websocket accepts pair[1] with those tags.
  async fetch(request) {
    const url = new URL(request.url);
    if (request.headers.get("Upgrade") !== "websocket") return new Response("no upgrade", { status: 426 });
    const tags = url.searchParams.has("tags") ? JSON.parse(url.searchParams.get("tags")) : undefined;
    const pair = new WebSocketPair();
    if (tags === undefined) this.ctx.acceptWebSocket(pair[1]);
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
    this.wsLog.push({ event: "message", client: this.clientName(ws), data: render(message) });
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
        return render(await s.put(op.key, decode(op.value)));
      case "kv.get":
        return render(await s.get("keys" in op ? op.keys : op.key));
      case "kv.delete":
        return render(await s.delete("keys" in op ? op.keys : op.key));
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
      default:
        if (op.op.startsWith("ws.")) return this.wsOp(op);
        throw new Error(`scenario bug: unknown op ${op.op}`);
    }
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
    for (const m of fresh) out.push(render(typeof m === "string" ? m : await m.arrayBuffer()));
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

async function wsDriverOp(env, stub, clients, op) {
  switch (op.op) {
    case "ws.connect": {
      const q = new URLSearchParams({ client: op.client });
      if ("tags" in op) q.set("tags", JSON.stringify(op.tags));
      const resp = await stub.fetch(`http://conformance.local/ws?${q}`, { headers: { Upgrade: "websocket" } });
      if (!resp.webSocket) return { type: "ws-open", status: resp.status };
      clients.set(op.client, new Client(resp.webSocket));
      return { type: "ws-open", status: resp.status };
    }
    case "ws.send": {
      const c = clients.get(op.client);
      c.ws.send(decode(op.data));
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

async function driverOp(env, stub, scenario, op, clients) {
  if (op.op.startsWith("ws.")) return wsDriverOp(env, stub, clients, op);
  switch (op.op) {
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

async function runScenario(env, scenario) {
  const stub = env.DO.get(env.DO.idFromName(scenario.name));
  const trace = [];
  const clients = new Map();
  for (const op of scenario.ops) {
    let result;
    try {
      result = await driverOp(env, stub, scenario, op, clients);
      if (result === null) result = await stub.runOp(op);
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
    const scenarios = await request.json();
    const out = [];
    for (const scenario of scenarios) {
      try {
        out.push(await runScenario(env, scenario));
      } catch (e) {
        out.push({ name: scenario.name, crashed: renderError(e) });
      }
    }
    return Response.json(out);
  },
};
