"""Fakes shared by the client tests of issue 16 (tests/test_client_*.py):
a scripted Streamable HTTP server and stdio child scripts."""

import json
import threading

from test_mcp import loopback_http_server


class ScriptedServer(object):
    """ An HTTP MCP endpoint on loopback whose every answer comes from
    ``respond(record)``, a function returning (status, headers, body):
    body is a dict (sent as application/json), bytes (sent as is), None,
    or a function given the response's file to write a stream as it goes.
    ``records`` holds each request: "method", "headers" (lower-case
    names), "body" (parsed JSON or None).  Notifications and responses
    (no "method" or no "id") get 202 unless ``respond`` handles them:
    it is called only for requests, or for everything (GET and DELETE
    too) when ``all_posts``; otherwise GET gets 405 and DELETE 204.
    """

    def __init__(self, respond, all_posts=False):
        self.respond, self.all_posts = respond, all_posts
        self.records = []
        self.lock = threading.Lock()
        self.server, _ = loopback_http_server(
            "scripted-mcp", do_POST=self.handle, do_GET=self.handle,
            do_DELETE=self.handle)
        self.url = "http://127.0.0.1:%d/mcp" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def posts(self, method=None):
        """ The bodies of the POSTed messages (of ``method`` only). """
        with self.lock:
            bodies = [r["body"] for r in self.records
                      if r["method"] == "POST" and isinstance(r["body"],
                                                              dict)]
        return [b for b in bodies if method is None or
                b.get("method") == method]

    def handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            body = None
        record = {"method": handler.command, "body": body,
                  "headers": dict((k.lower(), v)
                                  for k, v in handler.headers.items())}
        with self.lock:
            self.records.append(record)
        is_request = isinstance(body, dict) and "method" in body and \
            "id" in body
        if handler.command != "POST" and not self.all_posts:
            status, headers, payload = \
                (204 if handler.command == "DELETE" else 405), {}, None
        elif not is_request and not self.all_posts:
            status, headers, payload = 202, {}, None
        else:
            status, headers, payload = self.respond(record)
        if callable(payload):       # a stream written as it goes
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.close_connection = True
            payload(handler.wfile)
            return
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode("utf-8")
            headers = dict({"Content-Type": "application/json"}, **headers)
        payload = payload or b""
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)


def result(record, value):
    """ (200, {}, a JSON-RPC result for the recorded request). """
    return 200, {}, {"jsonrpc": "2.0", "id": record["body"]["id"],
                     "result": value}


def error(record, status, code, message, data=None):
    body = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    return status, {}, {"jsonrpc": "2.0", "id": record["body"].get("id"),
                        "error": body}


DISCOVER = {"resultType": "complete", "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {}}, "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {"io.modelcontextprotocol/serverInfo": {
                "name": "scripted", "version": "9"}}}

INITIALIZE = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
              "serverInfo": {"name": "scripted-legacy", "version": "1"}}
