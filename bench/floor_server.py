#!/usr/bin/env python3
"""The floor under mcp_weather.py: the least an MCP server built on
http.server can be (dev only, standard library).

It answers just enough of Streamable HTTP for bench.py to time its start-up,
read its idle RSS and load it the way it does ours: POST initialize (200, a
JSON result and an Mcp-Session-Id), POST notifications (202, no body), POST
tools/list (200, JSON: the very bytes ours answers, given by --tools-list)
and DELETE (204).  Each answer goes out in one write; connections are kept
alive (HTTP/1.1), one thread each (ThreadingHTTPServer).  No checks, no
sessions, no logging, no Date header, no threads of its own.  Whatever a
server on http.server costs at start, at rest and per request, this costs
too, so ours can never be below it: bench.py prints it beside ours as the
bound of the start-up, idle-RSS and CPU-per-request figures (issue 19).

    python floor_server.py --port 8001 [--tools-list FILE]

FILE is JSON, {"before": TEXT, "after": TEXT}: ours' tools/list answer cut
at its id (bench.py fetches it from ours at the start of its floor phase),
so that the floor sends the same body, with the request's id between.  It
imports nothing from the project.
"""

import argparse
import http.server
import json
import os
import signal
import socketserver
import sys


class FloorHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    tools_list = None           # (bytes before the id, bytes after it)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        message = json.loads(body)
        if "id" not in message:                     # a notification
            return self.answer(b"202 Accepted", b"")
        if message.get("method") == "tools/list" and self.tools_list:
            before, after = self.tools_list
            return self.answer(b"200 OK", before + json.dumps(
                message["id"]).encode() + after)
        result = {"protocolVersion": message["params"]["protocolVersion"],
                  "capabilities": {}, "serverInfo": {"name": "floor",
                                                     "version": "1"}}
        self.answer(b"200 OK", json.dumps({
            "jsonrpc": "2.0", "id": message["id"], "result": result}).encode(),
            b"Mcp-Session-Id: %s\r\n" % os.urandom(8).hex().encode())

    def do_DELETE(self):
        self.answer(b"204 No Content", None)

    def answer(self, status, body, extra=b""):
        """ The whole response in one write: status line, headers, body
        (none for 204; Content-Length: 0 for 202). """
        head = b"HTTP/1.1 " + status + b"\r\n" + extra
        if body:
            head += b"Content-Type: application/json\r\n"
        if body is not None:
            head += b"Content-Length: %d\r\n" % len(body)
        self.wfile.write(head + b"\r\n" + (body or b""))

    def log_message(self, format, *args):
        pass


class FloorServer(http.server.ThreadingHTTPServer):

    def server_bind(self):          # no FQDN lookup: ours skips it too
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--tools-list", metavar="FILE",
                        help="ours' tools/list answer, cut at its id (JSON "
                             "{\"before\": ..., \"after\": ...})")
    args = parser.parse_args()
    if args.tools_list:
        with open(args.tools_list, encoding="utf-8") as f:
            cut = json.load(f)
        FloorHandler.tools_list = (cut["before"].encode("utf-8"),
                                   cut["after"].encode("utf-8"))
    server = FloorServer((args.host, args.port), FloorHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
