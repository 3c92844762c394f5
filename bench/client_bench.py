#!/usr/bin/env python3
"""Dev-only benchmark: what one tool call costs our CLIENT, beside the official Python SDK's client.

    python3 bench/client_bench.py --quick        # a smoke run (~1 min): fails on errors only
    python3 bench/client_bench.py                # the full run
    python3 bench/client_bench.py --calls 5000 --transports http

The same server for both clients: ../examples/conformance_server.py (mcp_weather's core with the
conformance fixtures), whose `test_simple_text` tool answers a fixed text without touching the
network, so the figures are the clients' own.  Over HTTP it runs as `--port 0` (sessions on, SSE
or JSON as it chooses); over stdio each client spawns it with `--stdio`, as a host would.

Each client runs in its own process (a worker: this file with --worker), so that its CPU time is
its own: the worker connects, makes a few warm-up calls, then N calls of test_simple_text, and
reports process CPU time (user + system, every thread; a stdio server is a child and not counted)
and wall time over those N calls.  "1 connection" is one thread making the calls one after
another; "8 threads" is 8 threads sharing one client (ours: one MCPClient; the SDK, which is
async: 8 tasks on one session, its own way to run 8 calls at once).  Both clients use their
default era (ours: era="auto"; the SDK: mode="auto"), so against this server both speak
2026-07-28 when they can.

Printed per transport and concurrency: CPU ms and wall ms per call for ours and the SDK's, and the
ratio of CPU per call (ours / SDK's) beside the goal, at most 0.3.  The SDK's client runs from
interop/.venv (mcp 2.x; interop/run_sdk.sh makes it) or --sdk-python; without it, its rows are
skipped.  The last line is `client-bench: N passed, N failed, N skipped` (a worker that failed
counts as failed; the goal never fails a run, the machine is shared and noisy).  Stdlib only here;
the SDK worker imports mcp.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER_PY = os.path.join(ROOT, "examples", "conformance_server.py")
DEFAULT_SDK_PYTHON = os.path.join(ROOT, "interop", ".venv", "bin", "python")
TOOL, ARGUMENTS, EXPECTED = "test_simple_text", {}, "simple text response"
GOAL = 0.3          # our CPU per call at most 0.3x the SDK client's
WARMUP = 20
URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)/mcp")


# ==========================================================================
# Workers: one client, N calls, the process's CPU and wall time
# ==========================================================================

def split(calls, threads):
    return [calls // threads + (1 if i < calls % threads else 0) for i in range(threads)]


def check(text):
    if EXPECTED not in text:
        raise RuntimeError("unexpected answer: %r" % text[:200])


def ours_worker(args):
    sys.path.insert(0, ROOT)
    import mcp_client
    if args.transport == "http":
        entry = {"url": args.url}
    else:
        entry = {"command": sys.executable, "args": [SERVER_PY, "--stdio"]}
    # The command line's own path from a config entry to a client (load_config, make_servers).
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"llm": {"api_key_env": ""}, "mcpServers": {"bench": entry}}, f)
    try:
        config = mcp_client.load_config(f.name, {})
    finally:
        os.unlink(f.name)
    client = mcp_client.make_servers(config).clients["bench"]
    client.connect()

    def call(n):
        for _ in range(n):
            check(mcp_client.result_text(client.call_tool(TOOL, ARGUMENTS)))

    call(WARMUP)
    errors = []

    def run(n):
        try:
            call(n)
        except Exception as exc:    # noqa: BLE001 - reported, the run fails
            errors.append(repr(exc))

    c0, t0 = time.process_time(), time.monotonic()
    if args.threads == 1:
        run(args.calls)
    else:
        workers = [threading.Thread(target=run, args=(n,)) for n in split(args.calls, args.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    cpu, wall = time.process_time() - c0, time.monotonic() - t0
    version = getattr(client, "version", None) or "?"
    client.close()
    return {"cpu": cpu, "wall": wall, "calls": args.calls, "errors": errors[:3], "era": version}


def sdk_worker(args):
    import anyio
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters
    from mcp.client.streamable_http import streamable_http_client

    def text_of(result):
        return " ".join(getattr(block, "text", "") for block in result.content)

    async def main():
        if args.transport == "http":
            server = streamable_http_client(args.url)
        else:
            server = StdioServerParameters(command=sys.executable, args=[SERVER_PY, "--stdio"])
        errors = []
        async with Client(server) as client:
            for _ in range(WARMUP):
                check(text_of(await client.call_tool(TOOL, ARGUMENTS)))

            async def run(n):
                try:
                    for _ in range(n):
                        check(text_of(await client.call_tool(TOOL, ARGUMENTS)))
                except Exception as exc:    # noqa: BLE001
                    errors.append(repr(exc))

            c0, t0 = time.process_time(), time.monotonic()
            async with anyio.create_task_group() as group:
                for n in split(args.calls, args.threads):
                    group.start_soon(run, n)
            cpu, wall = time.process_time() - c0, time.monotonic() - t0
            version = getattr(client, "protocol_version", None) or "?"
        return {"cpu": cpu, "wall": wall, "calls": args.calls, "errors": errors[:3], "era": str(version)}

    return anyio.run(main)


# ==========================================================================
# The run: a server, then each worker in turn
# ==========================================================================

class HTTPServer(object):
    """ conformance_server.py --port 0; the URL from the line it logs. """

    def __init__(self, python):
        self.proc = subprocess.Popen([python, SERVER_PY, "--port", "0"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        self.url = None
        while self.url is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline().decode("utf-8", "replace")
            if not line:
                break
            match = URL_RE.search(line)
            if match:
                self.url = "http://127.0.0.1:%s/mcp" % match.group(1)
        if self.url is None:
            self.stop()
            raise RuntimeError("the server did not start")
        # keep draining its log so that it never blocks on a full pipe
        threading.Thread(target=lambda: [None for _ in iter(self.proc.stderr.readline, b"")],
                         daemon=True).start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_worker(python, kind, transport, url, calls, threads):
    command = [python, os.path.abspath(__file__), "--worker", kind, "--transport", transport,
               "--calls", str(calls), "--threads", str(threads)]
    if url:
        command += ["--url", url]
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    out = proc.stdout.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode != 0 or not out:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        return {"error": "exit %s: %s" % (proc.returncode, " | ".join(tail))}
    result = json.loads(out[-1])
    if result.get("errors"):
        result["error"] = "; ".join(result["errors"])
    return result


def per_call(result, key):
    return 1000.0 * result[key] / result["calls"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer calls: a smoke run")
    ap.add_argument("--calls", type=int, help="calls per row (default 2000; --quick 200)")
    ap.add_argument("--transports", default="http,stdio")
    ap.add_argument("--threads", default="1,8", help="concurrencies, comma-separated")
    ap.add_argument("--sdk-python", default=DEFAULT_SDK_PYTHON, help="a Python with mcp 2.x")
    ap.add_argument("--python", default=sys.executable, help="the Python for our client and the server")
    ap.add_argument("--worker", choices=("ours", "sdk"), help=argparse.SUPPRESS)
    ap.add_argument("--transport", choices=("http", "stdio"), help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.calls = args.calls or 200
        args.threads = int(args.threads)
        result = ours_worker(args) if args.worker == "ours" else sdk_worker(args)
        print(json.dumps(result))
        return 0

    calls = args.calls or (200 if args.quick else 2000)
    sdk = args.sdk_python if os.path.exists(args.sdk_python) else None
    print("client-bench: %d calls of %s per row; ours on %s; SDK client: %s" % (
        calls, TOOL, sys.version.split()[0], sdk or "none (no %s)" % args.sdk_python), flush=True)
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    rows = []
    for transport in args.transports.split(","):
        server = HTTPServer(args.python) if transport == "http" else None
        try:
            for threads in [int(t) for t in args.threads.split(",")]:
                row = {"transport": transport, "threads": threads}
                for kind, python in (("ours", args.python), ("sdk", sdk)):
                    if python is None:
                        counts["skipped"] += 1
                        continue
                    result = run_worker(python, kind, transport, server.url if server else None, calls, threads)
                    if "error" in result:
                        counts["failed"] += 1
                        print("FAIL  %-5s %-6s %d thread(s): %s" % (transport, kind, threads, result["error"][:300]))
                        continue
                    counts["passed"] += 1
                    row[kind] = result
                rows.append(row)
                show(row)
        finally:
            if server:
                server.stop()
    print("\nclient-bench: %d passed, %d failed, %d skipped" % (
        counts["passed"], counts["failed"], counts["skipped"]))
    return 1 if counts["failed"] else 0


def show(row):
    label = "%-5s %s" % (row["transport"], "1 connection" if row["threads"] == 1 else
                         "%d threads" % row["threads"])
    parts = []
    for kind in ("ours", "sdk"):
        if kind in row:
            r = row[kind]
            parts.append("%s %.3f CPU ms, %.3f wall ms/call (MCP %s)" % (
                kind, per_call(r, "cpu"), per_call(r, "wall"), r.get("era")))
    line = "%-18s %s" % (label, "; ".join(parts))
    if "ours" in row and "sdk" in row and row["sdk"]["cpu"] > 0:
        ratio = row["ours"]["cpu"] / row["sdk"]["cpu"]
        shown = "%.2f" % ratio
        if (ratio <= GOAL) != (float(shown) <= GOAL):   # rounds onto the goal: show more digits
            shown = "%.4f" % ratio
        line += "\n%-18s CPU per call ours/SDK %sx (goal <= %.1fx: %s); wall %.2fx" % (
            "", shown, GOAL, "YES" if ratio <= GOAL else "NO",
            row["ours"]["wall"] / row["sdk"]["wall"])
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
