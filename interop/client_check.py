#!/usr/bin/env python3
"""Drive OFFICIAL MCP servers with our client, ../mcp_client.py (MCPClient), over Streamable HTTP.

    python3 client_check.py --sdk-python PY [--node NODE --everything DIST_JS] [--verbose]

Servers, each started on a free port and stopped afterwards:
  sdk          sdk_server.py on the official Python SDK (MCPServer on uvicorn), sessionful, SSE answers
  sdk-stateless  the same with stateless_http=True
  sdk-json     the same with json_response=True (the SDK then drops progress notifications, B-11:
               the progress step expects none and a completed call)
  sdk-2026     the sessionful server again, the client in the 2026-07-28 era (era="modern":
               server/discover, no session); the others run era="legacy" (the 2025 handshake)
  everything   @modelcontextprotocol/server-everything, the TypeScript SDK's reference server, in its
               Streamable HTTP mode (`node dist/index.js streamableHttp`, PORT=...)

For each: connect (initialize + notifications/initialized; the session id, or none when stateless),
ping, tools/list, a text tool, a tool with structured content, a tool with progress (the client's
on_progress must see every step, increasing), a tool error (isError), an unknown tool, and close
(DELETE). Against the sessionful SDK server two more: the session is deleted behind the client's back
and the next call must re-initialize once and succeed (C10), and after close() the old session id
must get 404 (S49). Prints PASS/FAIL per step and, last, `client: N passed, N failed, N skipped`.
Stdlib only (the servers bring their own dependencies); Python 3.7+.
"""
import argparse
import http.client
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import mcp_client  # noqa: E402

STARTUP_TIMEOUT = 30.0
URL_RE = re.compile(r"http://127\.0\.0\.1:(\d+)/mcp")


class Report(object):
    def __init__(self, verbose):
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        self.failures, self.verbose = [], verbose

    def line(self, status, label, step, detail):
        self.counts[status] += 1
        if status == "FAIL":
            self.failures.append("%s: %s: %s" % (label, step, detail))
        print("  %-4s %-30s %s" % (status, step, short(detail)), flush=True)


def short(text, width=150):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 3] + "..."


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class ServerProcess(object):
    """ A server started for one check; its output is kept for a failure report. """

    def __init__(self, command, env=None, ready=URL_RE, port=None):
        self.lines, self.port, self.ready = [], port, ready
        self.found = threading.Event()
        self.proc = subprocess.Popen(command, env=dict(os.environ, **(env or {})),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        threading.Thread(target=self.pump, daemon=True).start()
        if not self.found.wait(STARTUP_TIMEOUT):
            self.stop()
            raise RuntimeError("server did not start: %s" % " | ".join(self.lines[-5:]))

    def pump(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self.lines.append(line)
            match = self.ready.search(line)
            if match and not self.found.is_set():
                self.port = self.port or int(match.group(1))
                self.found.set()

    @property
    def url(self):
        return "http://127.0.0.1:%d/mcp" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def raw_post(url, session, message):
    """ One POST outside the client, as another program would send it; returns the status. """
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
                   "Mcp-Session-Id": session, "MCP-Protocol-Version": mcp_client.PROTOCOL_VERSION}
        conn.request("POST" if message else "DELETE", "/mcp",
                     json.dumps(message).encode() if message else None, headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def text_of(result):
    return mcp_client.result_text(result)


# ----------------------------------------------------------------------------------------- the checks
def check_server(label, server, spec, report):
    print("\n== %s at %s" % (label, server.url), flush=True)
    # The steps below are those of a 2025 session (ping, C10, S49) unless the spec names the
    # 2026-07-28 era; the two-era client would otherwise pick 2026-07-28 where the server has it.
    client = mcp_client.MCPClient(server.url, name=label, timeout=20.0, era=spec.get("era", "legacy"))
    t0 = time.monotonic()

    def step(name, run):
        try:
            ok, detail = run()
        except Exception as exc:        # noqa: BLE001 - every failure is reported, none is fatal
            ok, detail = False, "%s: %s" % (type(exc).__name__, exc)
        report.line("PASS" if ok else "FAIL", label, name, detail)
        return ok

    def connect():
        client.connect()
        has_session = client.session_id is not None
        ok = client.version == spec.get("version", "2025-11-25") and has_session == spec["session"]
        return ok, "MCP %s, %s, session %s" % (client.version, client.describe_server(),
                                               client.session_id or "none")
    if not step("connect", connect):
        report.line("SKIP", label, "(remaining steps)", "no connection")
        return

    if spec.get("era") == "modern":     # no session to keep alive: the SDK answers -32601
        report.line("SKIP", label, "ping", "not a 2026-07-28 request (the SDK's server: -32601)")
    else:
        step("ping", lambda: (client.ping() == {}, "empty result"))

    def list_tools():
        names = [tool["name"] for tool in client.list_tools()]
        missing = sorted(set(spec["tools"]) - set(names))
        return not missing, "%d tools%s" % (len(names), "; missing %s" % missing if missing else "")
    step("tools/list", list_tools)

    def call(name, arguments, check):
        def run():
            result = client.call_tool(name, arguments)
            return check(result), short(text_of(result), 90) + (
                " +structuredContent %s" % json.dumps(result["structuredContent"])
                if "structuredContent" in result else "")
        return run
    name, arguments, words = spec["text"]
    step("%s (text)" % name, call(name, arguments, lambda r: words in text_of(r) and not r.get("isError")))
    name, arguments, check = spec["structured"]
    step("%s (structured)" % name, call(name, arguments, check))

    def progress():
        seen = []
        name, arguments, steps = spec["progress"]
        result = client.call_tool(name, arguments, on_progress=lambda p, t, m: seen.append(p))
        values = [float(v) for v in seen]
        if steps == 0:      # json_response: the SDK drops them (field notes B-11); the call still ends
            return not result.get("isError"), "%d notifications (the SDK's json_response mode drops " \
                "them, B-11), then: %s" % (len(values), short(text_of(result), 60))
        ok = len(values) >= steps and values == sorted(set(values)) and not result.get("isError")
        return ok, "%d notifications %s, then: %s" % (len(values), values, short(text_of(result), 60))
    step("%s (progress)" % spec["progress"][0], progress)

    name, arguments = spec["error"]
    step("%s (isError)" % name, call(name, arguments, lambda r: r.get("isError") is True))

    def unknown_tool():
        try:
            result = client.call_tool("no_such_tool", {})
        except mcp_client.MCPError as exc:
            return True, "JSON-RPC error %s: %s" % (exc.code, exc.message)
        return result.get("isError") is True, "isError result: %s" % text_of(result)
    step("unknown tool", unknown_tool)

    if spec.get("expire"):
        def expired():
            old = client.session_id
            deleted = raw_post(server.url, old, None)
            result = client.call_tool(*spec["text"][:2])
            renewed = client.session_id not in (None, old)
            return renewed and spec["text"][2] in text_of(result), \
                "session deleted behind the client's back (DELETE %d); the call re-initialized " \
                "(new session %s) and succeeded" % (deleted, "yes" if renewed else "NO")
        step("404 -> re-initialize (C10)", expired)

    def close():
        old = client.session_id
        client.close()
        if not spec.get("expire") or old is None:
            return client.session_id is None, "closed (DELETE %s)" % ("sent" if old else "not needed")
        status = raw_post(server.url, old, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
        return status == 404, "DELETE sent; the old session id now gets HTTP %d (S49)" % status
    step("close", close)
    print("  ---- %s: %.2fs" % (label, time.monotonic() - t0), flush=True)


def sdk_spec(session=True, expire=False, progress=3, era="legacy"):
    return {"session": session, "expire": expire, "tools": ["echo", "add", "count", "fail"],
            "era": era, "version": "2026-07-28" if era == "modern" else "2025-11-25",
            "text": ("echo", {"message": "hello"}, "Echo: hello"),
            "structured": ("add", {"a": 2, "b": 3},
                           lambda r: (r.get("structuredContent") or {}).get("sum") == 5),
            "progress": ("count", {"n": 3}, progress),
            "error": ("fail", {})}


EVERYTHING_SPEC = {
    "session": True, "tools": ["echo", "get-sum", "trigger-long-running-operation",
                               "get-structured-content"],
    "text": ("echo", {"message": "hello"}, "Echo: hello"),
    "structured": ("get-structured-content", {"location": "New York"},
                   lambda r: isinstance(r.get("structuredContent"), dict) and not r.get("isError")),
    "progress": ("trigger-long-running-operation", {"duration": 0.6, "steps": 3}, 3),
    "error": ("get-sum", {"a": "not a number", "b": 1})}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sdk-python", required=True, help="python of the venv that has mcp 2.x")
    ap.add_argument("--node", help="Node 22+, for server-everything")
    ap.add_argument("--everything", help="dist/index.js of @modelcontextprotocol/server-everything")
    ap.add_argument("--only", action="append", help="sdk, sdk-stateless, sdk-json, sdk-2026, everything")
    ap.add_argument("--verbose", "-v", action="store_true", help="show the client's log")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="       client-log %(levelname)s %(message)s")
    report = Report(args.verbose)
    sdk = [args.sdk_python, os.path.join(HERE, "sdk_server.py"), "--port", "0"]
    plan = [("sdk", lambda: ServerProcess(sdk), sdk_spec(expire=True)),
            ("sdk-stateless", lambda: ServerProcess(sdk + ["--stateless"]), sdk_spec(session=False)),
            ("sdk-json", lambda: ServerProcess(sdk + ["--json"]), sdk_spec(progress=0)),
            ("sdk-2026", lambda: ServerProcess(sdk), sdk_spec(session=False, era="modern"))]
    if args.node and args.everything:
        port = free_port()
        plan.append(("everything", lambda: ServerProcess(
            [args.node, args.everything, "streamableHttp"], env={"PORT": str(port)},
            ready=re.compile(r"listening on port (\d+)"), port=port), EVERYTHING_SPEC))
    t0 = time.monotonic()
    for label, start, spec in plan:
        if args.only and label not in args.only:
            continue
        try:
            server = start()
        except (OSError, RuntimeError) as exc:
            report.line("FAIL", label, "start the server", exc)
            continue
        try:
            check_server(label, server, spec, report)
        finally:
            server.stop()
        if args.verbose or any(f.startswith(label + ":") for f in report.failures):
            print("  server output (last lines):\n    " + "\n    ".join(server.lines[-15:]))
    print("\nclient_check: mcp_client.py %s against %d server(s) in %.1fs"
          % (mcp_client.__version__, len(plan), time.monotonic() - t0))
    if report.failures:
        print("FAILED steps:\n  - " + "\n  - ".join(report.failures))
    print("client: %d passed, %d failed, %d skipped" % (report.counts["PASS"], report.counts["FAIL"],
                                                        report.counts["SKIP"]))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
