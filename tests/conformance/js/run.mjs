#!/usr/bin/env node
// Runs conformance scenarios against workerd (via Miniflare) and prints their traces as JSON.
//
//   node run.mjs scenarios.json        # or: ... | node run.mjs  (scenarios on stdin)
//
// One Miniflare process runs every scenario (starting workerd is slow); it is always disposed.
// Exit codes: 0 ok, 1 failure (message on stderr), 2 timeout (CONFORMANCE_TIMEOUT_MS, default 120 s).
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { Miniflare } from "miniflare";

// Shared with the Python side (python_runner.py): the ids derive from "<scriptName>-<ClassName>".
export const SCRIPT_NAME = "conformance";
export const CLASS_NAME = "Runner";
export const COMPATIBILITY_DATE = "2026-04-26";

const here = path.dirname(fileURLToPath(import.meta.url));

async function readInput() {
  const file = process.argv[2];
  if (file && file !== "-") return readFile(file, "utf8");
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  const scenarios = JSON.parse(await readInput());
  const mf = new Miniflare({
    name: SCRIPT_NAME,
    modules: true,
    scriptPath: path.join(here, "worker.mjs"),
    compatibilityDate: COMPATIBILITY_DATE,
    durableObjects: {
      DO: { className: CLASS_NAME, scriptName: SCRIPT_NAME, useSQLite: true },
    },
    durableObjectsPersist: false,
  });
  const timeoutMs = Number(process.env.CONFORMANCE_TIMEOUT_MS || 120000);
  const timer = setTimeout(() => {
    process.stderr.write(`conformance: Miniflare run exceeded ${timeoutMs} ms\n`);
    mf.dispose().finally(() => process.exit(2));
  }, timeoutMs);
  try {
    // The worker connects "network" WebSocket clients back to workerd through this origin.
    const origin = (await mf.ready).origin;
    const res = await mf.dispatchFetch(`http://conformance.local/run?origin=${encodeURIComponent(origin)}`, {
      method: "POST",
      body: JSON.stringify(scenarios),
    });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`worker answered ${res.status}: ${text.slice(0, 2000)}`);
    const traces = JSON.parse(text);
    process.stdout.write(JSON.stringify({ runtime: runtimeInfo(), traces }, null, 1) + "\n");
  } finally {
    clearTimeout(timer);
    await mf.dispose();
  }
}

function runtimeInfo() {
  return {
    miniflare: "4.20260426.0",
    compatibilityDate: COMPATIBILITY_DATE,
    scriptName: SCRIPT_NAME,
    className: CLASS_NAME,
  };
}

main().catch((e) => {
  process.stderr.write(`conformance: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
