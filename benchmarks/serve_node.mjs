// The Node half of benchmarks/serve.py (run by it, not by hand):
//
//   node serve_node.mjs miniflare NODE_MODULES PORT      serve the benchmark Worker + object
//   node serve_node.mjs load NODE_MODULES URL SECONDS CONCURRENCY CLIENTS BROADCASTS
//                                                         measure a server, print one JSON line
//
// The same load client measures both servers (dosandbox's and Miniflare's), so the client's
// own cost is the same on both sides. undici and ws come with Miniflare's packages.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [mode, nodeModules, ...rest] = process.argv.slice(2);
const load = (name, file) => import(pathToFileURL(path.join(nodeModules, name, file)).href);

// The Worker in front and the object, as the Python side defines them (see serve.py).
const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Counter extends DurableObject {
  increment() { this.n = (this.n ?? 0) + 1; return this.n; }
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/ws")) {
      const [client, server] = Object.values(new WebSocketPair());
      this.ctx.acceptWebSocket(server);
      return new Response(null, { status: 101, webSocket: client });
    }
    if (url.pathname.endsWith("/broadcast")) {
      const text = url.searchParams.get("m");
      for (const ws of this.ctx.getWebSockets()) ws.send(text);
      return new Response("sent");
    }
    if (url.pathname.endsWith("/count")) {
      return new Response(String(this.ctx.getWebSockets().length));
    }
    return new Response("not found", { status: 404 });
  }
  webSocketMessage(ws, message) {}
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/rpc") {
      const stub = env.COUNTER.get(env.COUNTER.idFromName("a"));
      return new Response(String(await stub.increment()));
    }
    const name = url.pathname.split("/")[2] || "a";
    return env.COUNTER.get(env.COUNTER.idFromName(name)).fetch(request);
  },
};
`;

async function serveMiniflare(port) {
  const { Miniflare } = await load("miniflare", "dist/src/index.js");
  const mf = new Miniflare({
    modules: true,
    script: WORKER,
    compatibilityDate: "2026-04-01",
    durableObjects: { COUNTER: { className: "Counter", useSQLite: true } },
    host: "127.0.0.1",
    port: Number(port),
  });
  const url = await mf.ready;
  console.log(`READY ${url}`);
  const stop = async () => { await mf.dispose(); process.exit(0); };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

async function measure(base, seconds, concurrency, clients, broadcasts) {
  const { Pool } = await load("undici", "index.js");
  const { default: WebSocket } = await load("ws", "index.js");
  const pool = new Pool(base, { connections: concurrency });
  const get = async (p) => {
    const { statusCode, body } = await pool.request({ path: p, method: "GET" });
    const text = await body.text();
    if (statusCode !== 200) throw new Error(`${p}: ${statusCode} ${text}`);
    return text;
  };
  // 1. Worker -> object RPC round trips, `concurrency` in flight for `seconds`.
  for (let i = 0; i < 200; i++) await get("/rpc");  // warm up
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) { await get("/rpc"); done++; }
  }));
  const rps = done / ((performance.now() - started) / 1000);
  // 2. `clients` WebSockets on one object; each broadcast's time until every client has it.
  const wsBase = base.replace("http", "ws");
  const sockets = [];
  const waiting = new Map();  // message -> {left, resolve}
  for (let i = 0; i < clients; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, clients - i) }, () => new Promise(
      (resolve, reject) => {
        const ws = new WebSocket(`${wsBase}/counter/room/ws`);
        ws.on("open", () => resolve());
        ws.on("error", reject);
        ws.on("message", (data) => {
          const entry = waiting.get(data.toString());
          if (entry && --entry.left === 0) entry.resolve(performance.now());
        });
        sockets.push(ws);
      })));
  }
  const listed = Number(await get("/counter/room/count"));
  const times = [];
  for (let b = 0; b < broadcasts; b++) {
    const text = `b${b}`;
    const all = new Promise((resolve) => waiting.set(text, { left: clients, resolve }));
    const t0 = performance.now();
    await get(`/counter/room/broadcast?m=${text}`);
    const t1 = await all;
    times.push(t1 - t0);
    waiting.delete(text);
  }
  for (const ws of sockets) ws.close(1000);
  await pool.close();
  times.sort((a, b) => a - b);
  return {
    rpc_per_s: rps, rpc_requests: done, sockets_listed: listed,
    broadcast_p50_ms: percentile(times, 0.5), broadcast_p99_ms: percentile(times, 0.99),
    broadcasts: times.length,
  };
}

if (mode === "miniflare") {
  await serveMiniflare(rest[0]);
} else if (mode === "load") {
  const [base, seconds, concurrency, clients, broadcasts] = rest;
  const result = await measure(base, Number(seconds), Number(concurrency), Number(clients),
                               Number(broadcasts));
  console.log(JSON.stringify(result));
  process.exit(0);
} else {
  console.error("usage: see the top of this file");
  process.exit(2);
}
