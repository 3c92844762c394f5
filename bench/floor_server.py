#!/usr/bin/env python3
"""The floor under mcp_weather.py: the least an MCP server built on
http.server can be (dev only, standard library).

It answers just enough of Streamable HTTP for bench.py to time its start-up
and read its idle RSS the way it does ours: POST initialize (200, a JSON
result and an Mcp-Session-Id), POST notifications (202), DELETE (204).  No
tools, no checks, no logging, no threads of its own.  Whatever a server on
http.server costs at start and at rest, this costs too, so ours can never
be below it: bench.py prints it beside ours as the bound of the start-up
and idle-RSS targets.

    python floor_server.py --port 8001
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

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        message = json.loads(body)
        if "id" not in message:                     # a notification
            return self.answer(202, b"")
        result = {"protocolVersion": message["params"]["protocolVersion"],
                  "capabilities": {}, "serverInfo": {"name": "floor",
                                                     "version": "1"}}
        self.answer(200, json.dumps({"jsonrpc": "2.0", "id": message["id"],
                                     "result": result}).encode(),
                    [("Content-Type", "application/json"),
                     ("Mcp-Session-Id", os.urandom(8).hex())])

    def do_DELETE(self):
        self.answer(204, b"")

    def answer(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
    args = parser.parse_args()
    server = FloorServer((args.host, args.port), FloorHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    main()
