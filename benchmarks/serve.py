"""sb.serve() side by side with Miniflare serving the same Worker and object over loopback.

One run measures both servers with the same Node load client (undici and ws, which come with
Miniflare's packages), each server in its own process:

* requests per second for a Worker → object RPC round trip (``GET /rpc``: the Worker calls
  ``increment()`` on one object and answers the count), 32 requests in flight; target: at
  least Miniflare's figure (the ratio dosandbox / Miniflare >= 1);
* with 1,000 WebSockets connected to one object, the time from asking for a broadcast
  (``GET /counter/room/broadcast``) until every client has the message, p50 and p99 over the
  broadcasts; target p99 <= 100 ms.

On both sides a real Worker is in front (``Sandbox(worker=Worker)`` here, a class as Python
Workers write it, so requests take the same path as a project's ``WorkerEntrypoint``): it
calls the object through its binding (``env.COUNTER.get(env.COUNTER.idFromName("a"))``) and
forwards everything else to the object's ``fetch``. The object is the same in both.

Run: python benchmarks/serve.py [--quick] [--node-modules DIR]
(DIR: Miniflare's node_modules, default tests/conformance/js/node_modules; install it with
``bash tests/conformance/setup.sh``.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NODE_SCRIPT = Path(__file__).with_name("serve_node.mjs")


# --- the dosandbox side (run in its own process: python benchmarks/serve.py --serve PORT) ---


def serve_dosandbox(port: int) -> None:
    """Serve the benchmark Worker and object (as serve_node.mjs defines them) until SIGTERM."""
    sys.path.insert(0, str(ROOT))
    from dosandbox import DurableObject, Response, Sandbox, WebSocketPair
    from dosandbox._notebook.server import Server

    class Counter(DurableObject):
        def increment(self) -> int:
            self.n = getattr(self, "n", 0) + 1
            return self.n

        async def fetch(self, request: Any) -> Response:
            path = request.parsed_url.path
            if path.endswith("/ws"):
                client, server = WebSocketPair()
                self.ctx.accept_web_socket(server)
                return Response(None, status=101, web_socket=client)
            if path.endswith("/broadcast"):
                text = request.parsed_url.params.get("m")
                for ws in self.ctx.get_web_sockets():
                    ws.send(text)
                return Response("sent")
            if path.endswith("/count"):
                return Response(str(len(self.ctx.get_web_sockets())))
            return Response("not found", status=404)

        def web_socket_message(self, ws: Any, message: Any) -> None:
            pass

    class Worker:
        """The Worker in front, as the JavaScript one: RPC on /rpc, else the object's fetch."""

        def __init__(self, ctx: Any, env: Any) -> None:
            self.ctx, self.env = ctx, env

        async def fetch(self, request: Any) -> Response:
            counter = self.env.COUNTER
            path = request.parsed_url.path
            if path == "/rpc":
                n = await counter.get(counter.id_from_name("a")).increment()
                return Response(str(n))
            parts = path.split("/")
            name = parts[2] if len(parts) > 2 and parts[2] else "a"
            response: Response = await counter.get(counter.id_from_name(name)).fetch(request)
            return response

    async def main() -> None:
        sb = Sandbox(event_log_size=1_000, worker=Worker)
        sb.register("counter", Counter)
        server = Server(sb, port=port, announce=None)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        print(f"READY {server.url}", flush=True)
        await stop.wait()
        server.stop()
        await server.wait_stopped()
        sb.close()

    asyncio.run(main())


# --- the run ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY "):
            return proc, line.split()[1].rstrip("/")
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit(f"server did not start: {' '.join(cmd)}")


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _measure(name: str, cmd: list[str], node_modules: Path, args: argparse.Namespace) -> Any:
    proc, url = _start(cmd)
    try:
        out = subprocess.run(
            ["node", str(NODE_SCRIPT), "load", str(node_modules), url, str(args.seconds),
             str(args.concurrency), str(args.clients), str(args.broadcasts)],
            capture_output=True, text=True, timeout=600, check=False,
        )
    finally:
        _stop(proc)
    if out.returncode != 0:
        raise SystemExit(f"{name}: the load client failed:\n{out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["sockets_listed"] != args.clients:
        raise SystemExit(f"{name}: {result['sockets_listed']} sockets listed, "
                         f"{args.clients} connected")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, 200 clients")
    parser.add_argument("--node-modules", type=Path,
                        default=ROOT / "tests" / "conformance" / "js" / "node_modules")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the dosandbox process
    args = parser.parse_args()
    if args.serve is not None:
        serve_dosandbox(args.serve)
        return
    if not (args.node_modules / "miniflare").is_dir():
        raise SystemExit(f"Miniflare is not installed in {args.node_modules}: run "
                         "`bash tests/conformance/setup.sh` (or pass --node-modules DIR).")
    args.seconds = 3 if args.quick else 8
    args.concurrency = 32
    args.clients = 200 if args.quick else 1_000
    args.broadcasts = 10 if args.quick else 30
    env_python = os.environ.get("PYTHON", sys.executable)
    results = {}
    for name, cmd in (
        ("dosandbox", [env_python, str(Path(__file__).resolve()), "--serve",
                       str(_free_port())]),
        ("miniflare", ["node", str(NODE_SCRIPT), "miniflare", str(args.node_modules),
                       str(_free_port())]),
    ):
        results[name] = _measure(name, cmd, args.node_modules, args)
    ours, theirs = results["dosandbox"], results["miniflare"]
    print(f"Worker -> object RPC over HTTP ({args.concurrency} in flight, {args.seconds} s):")
    for name, r in results.items():
        print(f"  {name:10s} {r['rpc_per_s']:9,.0f} requests/s")
    ratio = ours["rpc_per_s"] / theirs["rpc_per_s"]
    print(f"  ratio dosandbox / miniflare: {ratio:.2f} (target >= 1)")
    print(f"One broadcast to {args.clients:,} WebSockets, until all have it "
          f"({args.broadcasts} broadcasts):")
    for name, r in results.items():
        print(f"  {name:10s} p50 {r['broadcast_p50_ms']:7.1f} ms   p99 "
              f"{r['broadcast_p99_ms']:7.1f} ms")
    target = "met" if ours["broadcast_p99_ms"] <= 100 else "NOT met"
    print(f"  dosandbox p99 target <= 100 ms: {target}; p99 ratio dosandbox / miniflare: "
          f"{ours['broadcast_p99_ms'] / theirs['broadcast_p99_ms']:.2f}")


if __name__ == "__main__":
    main()
