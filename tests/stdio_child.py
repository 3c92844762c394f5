"""A small stdio MCP server for the client tests (issue 16), run as
``python stdio_child.py MODE [FILE]``.  It speaks the 2025 handshake and
prints a banner on stderr, as real servers do.  Modes:

    plain       tools "echo" and "env" (its environment as JSON)
    garbage     also prints lines that are not JSON-RPC on stdout
    crash       tool "crash" exits the process mid-call
    grandchild  starts a grandchild that sleeps, writes both pids to FILE,
                and ignores the end of stdin (a careless wrapper)
    ask         tool "ask" sends the client the request named in its
                arguments ({"method", "params"}) and returns the answer

In every mode tool "hang" never answers, and notifications/cancelled and
notifications/roots/list_changed are reported on stderr.
"""

import json
import os
import subprocess
import sys
import time

MODE = sys.argv[1] if len(sys.argv) > 1 else "plain"
pending = {}


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def result(message, value):
    send({"jsonrpc": "2.0", "id": message["id"], "result": value})


def text(value):
    return {"content": [{"type": "text", "text": value}]}


def call(message):
    params = message.get("params") or {}
    name, arguments = params.get("name"), params.get("arguments") or {}
    if name == "echo":
        return result(message, text(json.dumps(arguments, sort_keys=True)))
    if name == "env":
        return result(message, text(json.dumps(dict(os.environ))))
    if name == "crash":
        sys.stderr.write("about to crash\n")
        sys.stderr.flush()
        os._exit(3)
    if name == "hang":             # never answers; see cancellations
        return
    if name == "ask":
        pending["ask-1"] = message
        send({"jsonrpc": "2.0", "id": "ask-1",
              "method": arguments["method"],
              "params": arguments.get("params") or {}})
        return
    send({"jsonrpc": "2.0", "id": message["id"], "error": {
        "code": -32602, "message": "Unknown tool: %s" % name}})


def main():
    sys.stderr.write("Starting %s stdio server...\n" % MODE)
    sys.stderr.flush()
    if MODE == "grandchild":
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c",
                                  "import time; time.sleep(600)"])
        with open(sys.argv[2], "w") as handle:
            handle.write("%d %d" % (os.getpid(), child.pid))
    for line in sys.stdin:
        if MODE == "garbage":
            sys.stdout.write("debug: got a line\n")
            sys.stdout.flush()
        message = json.loads(line)
        method = message.get("method")
        if method is None:          # our answer to "ask"
            asked = pending.pop(message.get("id"), None)
            if asked is not None:
                result(asked, text(json.dumps(message, sort_keys=True)))
        elif "id" not in message:
            if method == "notifications/cancelled":
                params = message.get("params") or {}
                sys.stderr.write("cancelled %s: %s\n" % (
                    params.get("requestId"), params.get("reason")))
                sys.stderr.flush()
            elif method == "notifications/roots/list_changed":
                sys.stderr.write("roots changed\n")
                sys.stderr.flush()
            continue
        elif method == "initialize":
            result(message, {"protocolVersion": "2024-11-05",
                             "capabilities": {"tools": {}},
                             "serverInfo": {"name": "child", "version": "1"}})
        elif method == "tools/list":
            result(message, {"tools": [
                {"name": n, "inputSchema": {"type": "object"}}
                for n in ("echo", "env", "crash", "ask", "hang")]})
        elif method == "tools/call":
            call(message)
        else:
            send({"jsonrpc": "2.0", "id": message["id"], "error": {
                "code": -32601, "message": "Method not found"}})
    if MODE == "grandchild":
        time.sleep(600)     # ignores the end of stdin and SIGTERM


if __name__ == "__main__":
    main()
