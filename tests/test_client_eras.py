"""Issue 16: one client for every protocol era (checklist 1.1-1.3, C17,
C18): server/discover with per-request _meta and headers, the fall back
to the 2025 handshake and the other way round, 2024-11-05, resultType,
multi-round input_required (MRTR, SEP-2322), Mcp-Param-* headers from
x-mcp-header (SEP-2243), and a broken stream issued again under a new id.
"""

import base64
import io
import json
import logging
import queue
import threading
import unittest

import mcp_client
from tests.support import (DISCOVER, INITIALIZE, ScriptedServer, TIMEOUT,
                           _UpstreamTestCase, error, loopback_http_server,
                           result)

MODERN = "2026-07-28"
META = "io.modelcontextprotocol/"


class _ErasTestCase(unittest.TestCase):

    def scripted(self, respond, **options):
        server = ScriptedServer(respond, **options)
        self.addCleanup(server.stop)
        return server

    def client(self, url, **knobs):
        knobs.setdefault("timeout", 10.0)
        client = mcp_client.MCPClient(url, "s", **knobs)
        self.addCleanup(client.close)
        return client


class ModernEraTests(_ErasTestCase, _UpstreamTestCase):
    """ Against mcp_weather, which speaks both eras: the client chooses
    2026-07-28 and every request is self-contained (C17). """

    with_weather = True

    def setUp(self):
        del self.weather.recorded[:]

    def test_discover_meta_and_headers_on_every_request(self):
        """ C17, 1.3, S58: server/discover first, no initialize and no
        session; each request carries _meta (protocolVersion,
        clientCapabilities, clientInfo) and MCP-Protocol-Version,
        Mcp-Method and, for tools/call, Mcp-Name; close sends no DELETE. """
        client = self.client(self.weather.url)
        client.connect()
        self.assertTrue(client.modern)
        self.assertEqual(client.version, MODERN)
        self.assertEqual(client.describe_server().split()[0], "mcp-weather")
        client.list_tools()
        answer = client.call_tool("get_weather", {"city": "Hangzhou"})
        self.assertIn("overcast", mcp_client.result_text(answer))
        client.close()
        records = self.weather.recorded
        self.assertEqual([(r["method"], r["body"]["method"])
                          for r in records],
                         [("POST", "server/discover"), ("POST", "tools/list"),
                          ("POST", "tools/call")])
        for record in records:
            headers, body = record["headers"], record["body"]
            meta = body["params"]["_meta"]
            self.assertEqual(meta[META + "protocolVersion"], MODERN)
            self.assertIsInstance(meta[META + "clientCapabilities"], dict)
            self.assertEqual(meta[META + "clientInfo"]["name"],
                             "mcp-weather-client")
            self.assertEqual(headers["mcp-protocol-version"], MODERN)
            self.assertEqual(headers["mcp-method"], body["method"])
            self.assertNotIn("mcp-session-id", headers)
            self.assertEqual(record["status"], 200)
        self.assertEqual(records[2]["headers"]["mcp-name"], "get_weather")

    def test_verbose_log_names_the_era(self):
        """ -v says which era was chosen. """
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        logger = logging.getLogger("mcp_client")
        logger.addHandler(handler)
        old = logger.level
        logger.setLevel(logging.INFO)
        self.addCleanup(logger.setLevel, old)
        self.addCleanup(logger.removeHandler, handler)
        self.client(self.weather.url).connect()
        self.assertIn("MCP 2026-07-28 (stateless: server/discover)",
                      stream.getvalue())

    def test_legacy_knob_uses_the_handshake(self):
        """ era="legacy" starts with initialize, and the server, which
        speaks both, keeps the 2025 era. """
        client = self.client(self.weather.url, era="legacy")
        client.connect()
        self.assertFalse(client.modern)
        self.assertEqual(client.version, "2025-11-25")
        self.assertEqual(self.weather.recorded[0]["body"]["method"],
                         "initialize")


class FallbackTests(_ErasTestCase):
    """ C18: the era is found from the server's answers. """

    def test_legacy_server_gets_the_handshake(self):
        """ A 2025-only server answers server/discover with 400 and a
        session error: the client sends initialize and stays there. """
        def respond(record):
            method = record["body"]["method"]
            if method == "server/discover":
                return error(record, 400, -32000,
                             "Bad Request: No valid session ID provided")
            if method == "initialize":
                status, headers, body = result(record, INITIALIZE)
                return status, {"Mcp-Session-Id": "s-1"}, body
            return result(record, {"tools": []})
        server = self.scripted(respond)
        client = self.client(server.url)
        client.connect()
        client.list_tools()
        self.assertFalse(client.modern)
        self.assertEqual(client.session_id, "s-1")
        self.assertEqual([b["method"] for b in server.posts()],
                         ["server/discover", "initialize",
                          "notifications/initialized", "tools/list"])
        last = server.records[-1]["headers"]
        self.assertEqual(last["mcp-session-id"], "s-1")
        self.assertEqual(last["mcp-protocol-version"], "2025-11-25")
        self.assertNotIn("_meta", server.posts("tools/list")[0].get(
            "params") or {})

    def test_discover_answered_with_something_else_falls_back(self):
        """ A server that answers any method with a result (as some toy
        servers do) has not said it speaks 2026-07-28: a result without
        supportedVersions is not a DiscoverResult. """
        def respond(record):
            if record["body"]["method"] == "initialize":
                return result(record, INITIALIZE)
            return result(record, {"content": []})
        client = self.client(self.scripted(respond).url)
        client.connect()
        self.assertFalse(client.modern)

    def client_of_version(self, version):
        """ A client of a scripted server that knows only initialize, and
        answers it with ``version``. """
        def respond(record):
            if record["body"]["method"] == "initialize":
                return result(record, dict(INITIALIZE,
                                           protocolVersion=version))
            return error(record, 200, -32601, "Method not found")
        return self.client(self.scripted(respond).url)

    def test_2024_11_05_is_accepted(self):
        """ Many published servers still negotiate 2024-11-05. """
        client = self.client_of_version("2024-11-05")
        client.connect()
        self.assertEqual(client.version, "2024-11-05")

    def test_unknown_legacy_version_is_refused(self):
        client = self.client_of_version("1999-01-01")
        with self.assertRaises(mcp_client.TransportError) as caught:
            client.connect()
        self.assertIn("1999-01-01", str(caught.exception))

    def test_modern_only_server_when_legacy_comes_first(self):
        """ The other way round: era="legacy" sends initialize; a
        2026-only server answers 400 with -32022 and its versions (VER26:
        154-157); the client goes on with server/discover. """
        def respond(record):
            if record["body"]["method"] == "initialize":
                return error(record, 400, -32022, "Unsupported protocol "
                             "version", {"supported": [MODERN],
                                         "requested": "2025-11-25"})
            if record["body"]["method"] == "server/discover":
                return result(record, DISCOVER)
            return result(record, {"tools": []})
        server = self.scripted(respond)
        client = self.client(server.url, era="legacy")
        client.connect()
        self.assertTrue(client.modern)
        self.assertEqual(client.describe_server(), "scripted 9")
        self.assertEqual([b["method"] for b in server.posts()],
                         ["initialize", "server/discover"])

    def test_unsupported_version_is_retried_with_a_supported_one(self):
        """ 1.3: a -32022 listing a 2026 version we speak: retry with it
        (the conformance scenario request-metadata rejects the first). """
        seen = []

        def respond(record):
            seen.append(record)
            if len(seen) == 1:
                return error(record, 400, -32022, "Unsupported protocol "
                             "version", {"supported": [MODERN],
                                         "requested": MODERN})
            return result(record, DISCOVER)
        server = self.scripted(respond)
        client = self.client(server.url)
        client.connect()
        self.assertTrue(client.modern)
        self.assertEqual([b["method"] for b in server.posts()],
                         ["server/discover", "server/discover"])
        ids = [b["id"] for b in server.posts()]
        self.assertNotEqual(ids[0], ids[1])

    def test_modern_refusal_is_not_a_fallback(self):
        """ C18: -32020 (and -32021) come only from a 2026-07-28 server;
        the error stands instead of a try at the handshake. """
        def respond(record):
            return error(record, 400, -32020, "Mcp-Method header missing")
        server = self.scripted(respond)
        client = self.client(server.url)
        with self.assertRaises(mcp_client.MCPError) as caught:
            client.connect()
        self.assertEqual(caught.exception.code, -32020)
        self.assertEqual([b["method"] for b in server.posts()],
                         ["server/discover"])

    def test_unreachable_server_is_not_a_fallback(self):
        """ A refused connection is an error, not a reason to try the
        other era. """
        server = self.scripted(lambda record: None)
        url = server.url
        server.stop()
        client = self.client(url)
        with self.assertRaises(mcp_client.TransportError) as caught:
            client.connect()
        self.assertIn("cannot reach", str(caught.exception))

    def test_modern_only_knob_does_not_fall_back(self):
        def respond(record):
            return error(record, 400, -32000, "no session")
        server = self.scripted(respond)
        client = self.client(server.url, era="modern")
        with self.assertRaises(mcp_client.MCPError):
            client.connect()
        self.assertEqual([b["method"] for b in server.posts()],
                         ["server/discover"])


def modern_server(test, tools_call, tools=None):
    """ A scripted 2026-07-28 server: discover, tools/list (``tools``)
    and tools/call answered by ``tools_call(record, calls_so_far)``. """
    calls = []

    def respond(record):
        method = record["body"]["method"]
        if method == "server/discover":
            return result(record, DISCOVER)
        if method == "tools/list":
            return result(record, {"resultType": "complete",
                                   "tools": tools or [], "ttlMs": 0,
                                   "cacheScope": "private"})
        calls.append(record)
        return tools_call(record, len(calls))
    return test.scripted(respond)


def elicit(message):
    return {"method": "elicitation/create", "params": {
        "message": message, "requestedSchema": {
            "type": "object", "properties": {"ok": {"type": "boolean"}}}}}


class InputRequiredTests(_ErasTestCase):
    """ MRTR (SEP-2322): input_required answered, the request retried. """

    def test_server_that_asks_twice(self):
        """ Two input_required rounds, then complete: each retry has a new
        JSON-RPC id, this round's inputResponses, and the requestState of
        the round before echoed exactly; the answers come from the same
        handlers as 2025 requests from servers. """
        def tools_call(record, count):
            if count == 1:
                return result(record, {
                    "resultType": "input_required",
                    "inputRequests": {"confirm": elicit("Sure?")},
                    "requestState": "opaque-1=="})
            if count == 2:
                return result(record, {
                    "resultType": "input_required",
                    "inputRequests": {"where": {"method": "roots/list",
                                                "params": {}}},
                    "requestState": "opaque-2=="})
            return result(record, {"resultType": "complete", "content": [
                {"type": "text", "text": "done"}]})
        asked = []

        def on_elicitation(params, client):
            asked.append(params["message"])
            return {"action": "accept", "content": {"ok": True}}
        server = modern_server(self, tools_call)
        client = self.client(server.url, on_elicitation=on_elicitation,
                             roots=[{"uri": "file:///srv", "name": "srv"}])
        answer = client.call_tool("t", {"x": 1})
        self.assertEqual(mcp_client.result_text(answer), "done")
        self.assertEqual(asked, ["Sure?"])
        calls = server.posts("tools/call")
        self.assertEqual(len(calls), 3)
        self.assertEqual(len(set(c["id"] for c in calls)), 3)
        first, second, third = [c["params"] for c in calls]
        self.assertNotIn("inputResponses", first)
        self.assertNotIn("requestState", first)
        self.assertEqual(second["inputResponses"], {"confirm": {
            "action": "accept", "content": {"ok": True}}})
        self.assertEqual(second["requestState"], "opaque-1==")
        self.assertEqual(third["inputResponses"], {"where": {"roots": [
            {"uri": "file:///srv", "name": "srv"}]}})
        self.assertEqual(third["requestState"], "opaque-2==")
        for params in (first, second, third):
            self.assertEqual(params["arguments"], {"x": 1})
        capabilities = first["_meta"][META + "clientCapabilities"]
        self.assertEqual(capabilities["elicitation"], {"form": {}, "url": {}})
        self.assertNotIn("sampling", capabilities)

    def test_no_request_state_is_sent_when_none_was_given(self):
        def tools_call(record, count):
            if count == 1:
                return result(record, {
                    "resultType": "input_required",
                    "inputRequests": {"confirm": elicit("Go?")}})
            return result(record, {"content": []})
        server = modern_server(self, tools_call)
        client = self.client(server.url, on_elicitation=lambda p, c: {
            "action": "decline"})
        client.call_tool("t")
        retry = server.posts("tools/call")[1]["params"]
        self.assertNotIn("requestState", retry)
        self.assertEqual(retry["inputResponses"],
                         {"confirm": {"action": "decline"}})

    def test_absent_result_type_is_complete_and_unknown_is_invalid(self):
        """ C17: absent means complete (no retry); unknown is an error. """
        def tools_call(record, count):
            if count == 1:
                return result(record, {"content": [{"type": "text",
                                                    "text": "plain"}]})
            return result(record, {"resultType": "partial", "content": []})
        server = modern_server(self, tools_call)
        client = self.client(server.url)
        self.assertEqual(mcp_client.result_text(client.call_tool("t")),
                         "plain")
        self.assertEqual(len(server.posts("tools/call")), 1)
        with self.assertRaises(mcp_client.MCPError) as caught:
            client.call_tool("t")
        self.assertIn("'partial'", str(caught.exception))

    def test_endless_input_required_stops(self):
        def tools_call(record, count):
            return result(record, {
                "resultType": "input_required",
                "inputRequests": {"r": {"method": "roots/list"}}})
        server = modern_server(self, tools_call)
        client = self.client(server.url, max_input_rounds=3)
        with self.assertRaises(mcp_client.MCPError) as caught:
            client.call_tool("t")
        self.assertIn("3 times", str(caught.exception))
        self.assertEqual(len(server.posts("tools/call")), 4)

    def test_broken_stream_is_issued_again_under_a_new_id(self):
        """ C17: no resumption in 2026-07-28; a stream that ends before
        its response is sent again, once, with a new id. """
        def tools_call(record, count):
            if count == 1:
                return 200, {"Content-Type": "text/event-stream"}, \
                    b"id: 1\ndata: \n\n"
            return result(record, {"content": [{"type": "text",
                                                "text": "again"}]})
        server = modern_server(self, tools_call)
        client = self.client(server.url)
        answer = client.call_tool("t")
        self.assertEqual(mcp_client.result_text(answer), "again")
        ids = [c["id"] for c in server.posts("tools/call")]
        self.assertEqual(len(ids), 2)
        self.assertNotEqual(ids[0], ids[1])
        self.assertEqual([r["method"] for r in server.records
                          if r["method"] != "POST"], [])     # no GET


    def test_cancelling_closes_the_stream(self):
        """ C17: in 2026-07-28 a call is cancelled by closing its stream;
        no notifications/cancelled is sent (clients send no responses and
        that era has no such POST). """
        closed = threading.Event()

        def tools_call(record, count):
            def stream(out):
                try:
                    while not closed.is_set():
                        out.write(b": waiting\n\n")
                        out.flush()
                        closed.wait(0.05)       # a fake's heartbeat
                except OSError:
                    closed.set()
            return 200, {"Content-Type": "text/event-stream"}, stream
        server = modern_server(self, tools_call)
        self.addCleanup(closed.set)
        client = self.client(server.url)
        client.list_tools()
        with self.assertRaises(mcp_client.CallTimeout):
            client.call_tool("t", timeout=0.3)
        self.assertTrue(closed.wait(TIMEOUT), "the stream stayed open")
        self.assertEqual(server.posts("notifications/cancelled"), [])


HEADER_TOOL = {"name": "h", "inputSchema": {"type": "object", "properties": {
    "region": {"type": "string", "x-mcp-header": "Region"},
    "priority": {"type": "integer", "x-mcp-header": "Priority"},
    "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
    "label": {"type": "string", "x-mcp-header": "Label"},
    "query": {"type": "string"}}}}


def bad_tool(name, schema):
    return {"name": name, "inputSchema": {"type": "object",
                                          "properties": schema}}


BAD_TOOLS = [
    bad_tool("empty", {"v": {"type": "string", "x-mcp-header": ""}}),
    bad_tool("object", {"v": {"type": "object", "x-mcp-header": "V"}}),
    bad_tool("number", {"v": {"type": "number", "x-mcp-header": "V"}}),
    bad_tool("twice", {"a": {"type": "string", "x-mcp-header": "Same"},
                       "b": {"type": "string", "x-mcp-header": "same"}}),
    bad_tool("space", {"v": {"type": "string", "x-mcp-header": "A B"}}),
    bad_tool("colon", {"v": {"type": "string", "x-mcp-header": "A:B"}}),
    bad_tool("accent", {"v": {"type": "string", "x-mcp-header": "R\xe9"}}),
]


class CustomHeaderTests(_ErasTestCase):
    """ SEP-2243: x-mcp-header parameters mirrored as Mcp-Param-*. """

    def test_values_are_mirrored_and_encoded(self):
        server = modern_server(
            self, lambda record, count: result(record, {"content": []}),
            tools=[HEADER_TOOL])
        client = self.client(server.url)
        client.call_tool("h", {"region": "us-west1", "priority": 42,
                               "verbose": None, "label": " Hello, \u4e16 ",
                               "query": "SELECT 1"})
        headers = [r["headers"] for r in server.records
                   if r["body"]["method"] == "tools/call"][0]
        self.assertEqual(headers["mcp-param-region"], "us-west1")
        self.assertEqual(headers["mcp-param-priority"], "42")
        self.assertNotIn("mcp-param-verbose", headers)      # null: none
        self.assertNotIn("mcp-param-query", headers)        # unannotated
        label = headers["mcp-param-label"]
        self.assertTrue(label.startswith("=?base64?") and
                        label.endswith("?="), label)
        self.assertEqual(base64.b64decode(label[9:-2]).decode("utf-8"),
                         " Hello, \u4e16 ")
        self.assertEqual(headers["mcp-name"], "h")
        client.call_tool("h", {"region": "eu", "verbose": False})
        headers = [r["headers"] for r in server.records
                   if r["body"]["method"] == "tools/call"][1]
        self.assertEqual(headers["mcp-param-verbose"], "false")

    def test_tools_whose_annotations_cannot_be_honoured_are_refused(self):
        """ Each malformed tool is left out of list_tools and is never
        called; the valid one stays. """
        server = modern_server(
            self, lambda record, count: result(record, {"content": []}),
            tools=[HEADER_TOOL] + BAD_TOOLS)
        client = self.client(server.url)
        self.assertEqual([t["name"] for t in client.list_tools()], ["h"])
        self.assertEqual(sorted(client.refused_tools),
                         sorted(t["name"] for t in BAD_TOOLS))
        for tool in BAD_TOOLS:
            with self.assertRaises(mcp_client.MCPError):
                client.call_tool(tool["name"], {"v": "x"})
        self.assertEqual(server.posts("tools/call"), [])

    def test_header_value_rules(self):
        value = mcp_client.header_value
        self.assertEqual(value(True), "true")
        self.assertEqual(value(7), "7")
        self.assertEqual(value("us west 1"), "us west 1")
        for text in ("line1\nline2", "\tx", "x ", "\u00e9"):
            encoded = value(text)
            self.assertEqual(base64.b64decode(encoded[9:-2]).decode("utf-8"),
                             text)


class OldSSEServer(object):
    """ A 2024-11-05 HTTP+SSE server: GET /sse opens the stream, whose
    first event names the endpoint; POSTs there get 202 and their answers
    come on the stream.  POST /sse gets 405, as such servers answer a
    Streamable HTTP client. """

    def __init__(self):
        self.outbox = queue.Queue()
        self.posts, self.gets = [], []
        self.server, _ = loopback_http_server(
            "old-sse", do_GET=self.get, do_POST=self.post)
        self.url = "http://127.0.0.1:%d/sse" % self.server.server_address[1]

    def stop(self):
        self.outbox.put(None)
        self.server.shutdown()
        self.server.server_close()

    def get(self, handler):
        self.gets.append(dict(handler.headers.items()))
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        handler.wfile.write(b"event: endpoint\ndata: /messages?s=1\n\n")
        handler.wfile.flush()
        while True:
            message = self.outbox.get()
            if message is None:
                return
            handler.wfile.write(b"event: message\ndata: " +
                                json.dumps(message).encode() + b"\n\n")
            handler.wfile.flush()

    def post(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length).decode("utf-8"))
        if handler.path == "/sse":
            handler.send_response(405)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        self.posts.append((handler.path, body))
        handler.send_response(202)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        if "id" not in body or "method" not in body:
            return
        if body["method"] == "initialize":
            value = {"protocolVersion": "2024-11-05", "capabilities": {
                "tools": {}}, "serverInfo": {"name": "old", "version": "0"}}
        elif body["method"] == "tools/list":
            value = {"tools": [{"name": "echo", "inputSchema": {
                "type": "object"}}]}
        elif body["method"] == "tools/call":
            value = {"content": [{"type": "text", "text": json.dumps(
                body["params"]["arguments"])}]}
        else:
            self.outbox.put({"jsonrpc": "2.0", "id": body["id"], "error": {
                "code": -32601, "message": "Method not found"}})
            return
        self.outbox.put({"jsonrpc": "2.0", "id": body["id"],
                         "result": value})


class OldTransportTests(unittest.TestCase):
    """ C15: a server that speaks only the HTTP+SSE transport of
    2024-11-05 is reached through it, as the spec's backwards
    compatibility section describes. """

    def test_fall_back_to_http_sse(self):
        old = OldSSEServer()
        self.addCleanup(old.stop)
        client = mcp_client.MCPClient(old.url, "old", timeout=10.0)
        client = mcp_client.connect_client(client)
        self.addCleanup(client.close)
        self.assertIsInstance(client, mcp_client.LegacySSEClient)
        self.assertEqual(client.version, "2024-11-05")
        self.assertEqual([t["name"] for t in client.list_tools()], ["echo"])
        answer = client.call_tool("echo", {"a": 1})
        self.assertEqual(mcp_client.result_text(answer), '{"a": 1}')
        self.assertEqual([p for p, _ in old.posts],
                         ["/messages?s=1"] * 4)
        self.assertEqual([b.get("method") for _, b in old.posts],
                         ["initialize", "notifications/initialized",
                          "tools/list", "tools/call"])
        self.assertEqual(old.gets[0]["Accept"], "text/event-stream")

    def test_streamable_server_is_not_taken_for_an_old_one(self):
        """ A 404 from a server with no SSE stream either stays an
        error. """
        def respond(record):
            return 404, {}, b"no"
        server = ScriptedServer(respond, all_posts=True)
        self.addCleanup(server.stop)
        client = mcp_client.MCPClient(server.url, "s", timeout=5.0)
        self.addCleanup(client.close)
        with self.assertRaises(mcp_client.TransportError) as caught:
            mcp_client.connect_client(client)
        self.assertEqual(caught.exception.status, 404)


if __name__ == "__main__":
    unittest.main()
