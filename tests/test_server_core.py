"""The server core: the fixtures themselves, initialize and the lifecycle
(checklist 1.2, 4.1, 4.2), batches and the MCP-Protocol-Version header
(S11-S13, S53-S55), HTTP transport details (S10, B-15, B-21, body limits),
the access log, the command line and the registration API."""

import json
import os
import re
import subprocess
import sys
import unittest

import mcp_weather
from tests.support import (ACCEPT_BOTH, ACCEPT_JSON, ACCEPT_NDJSON,
                           ACCEPT_SSE, HERE, LATEST, SERVER_FILE,
                           ServerProcess, ServerTestCase, TIMEOUT, VERSIONS,
                           clean_environment, http_request,
                           initialize_message, parse_ndjson, parse_sse,
                           raw_exchange, raw_post, sse_messages, status_of,
                           visible_ascii, wait_for)


###############################################################################
# Tests: the fixtures themselves ##############################################
###############################################################################

class FixtureTests(unittest.TestCase):
    """ The parsers the other tests rely on. """

    def test_parse_sse_fields_comments_and_line_ends(self):
        body = (b": keep-alive\n\nid: s.1.0\nretry: 1000\ndata: \n\n"
                b"event: message\r\nid: s.1.1\r\ndata: {\"a\":1}\r\n\r\n"
                b"data: x\rdata: y\r\r")
        events = parse_sse(body)
        self.assertEqual(events.comments, [" keep-alive"])
        self.assertEqual([e["id"] for e in events], ["s.1.0", "s.1.1", None])
        self.assertEqual(events[0]["data"], "")
        self.assertEqual(events[0]["retry"], 1000)
        self.assertEqual(events[1]["event"], "message")
        self.assertEqual(sse_messages(events[:2]), [{"a": 1}])
        self.assertEqual((events[2]["data"], events[2]["data_lines"]),
                         ("x\ny", 2))

    def test_parse_ndjson_skips_blank_lines(self):
        self.assertEqual(parse_ndjson(b'{"a":1}\n\n{"b":2}\n'),
                         [{"a": 1}, {"b": 2}])


###############################################################################
# Tests: initialize and the lifecycle (checklist 1.2, 4.1, 4.2) ##############
###############################################################################

class InitializeTests(ServerTestCase):
    """ initialize: negotiation (1.2), InitializeResult (4.1), session ids
    (S45, S46), and no session for a rejected initialize (B-6). """

    settings = {"node_id": "node7"}

    def test_supported_versions_are_echoed(self):
        """ 1.2: a version the server supports is answered with itself. """
        for version in VERSIONS:
            with self.subTest(version=version):
                reply = self.post(initialize_message(version))
                self.assertEqual(reply.status, 200, reply.body)
                result = self.result_of(reply, 0)["result"]
                self.assertEqual(result["protocolVersion"], version)

    def test_unknown_versions_get_the_latest(self):
        """ 1.2: an unknown version (the tutorial's 2025-05-16, the modern
        2026-07-28 through initialize) is a success with 2025-11-25. """
        for version in ("2025-05-16", "2026-07-28", "2024-11-05", "1.0.0"):
            with self.subTest(version=version):
                reply = self.post(initialize_message(version))
                self.assertEqual(reply.status, 200, reply.body)
                message = self.result_of(reply, 0)
                self.assertNotIn("error", message)
                self.assertEqual(message["result"]["protocolVersion"],
                                 LATEST)

    def test_server_info_title_only_from_2025_06_18(self):
        """ 4.1: Implementation.title exists from 2025-06-18 on. """
        expected = {"name": "mcp-weather",
                    "version": mcp_weather.__version__}
        for version in VERSIONS:
            with self.subTest(version=version):
                result = self.result_of(self.post(
                    initialize_message(version)))["result"]
                info = dict(expected)
                if version >= "2025-06-18":
                    info["title"] = "MCP Weather"
                self.assertEqual(result["serverInfo"], info)

    def test_capabilities_and_instructions(self):
        """ 4.1: capabilities for exactly what is implemented (tools,
        resources and prompts with list_changed, resource subscriptions,
        logging, completions), and human instructions. """
        result = self.result_of(self.post(initialize_message()))["result"]
        self.assertEqual(result["capabilities"],
                         {"tools": {"listChanged": True}, "logging": {},
                          "resources": {"listChanged": True,
                                        "subscribe": True},
                          "prompts": {"listChanged": True},
                          "completions": {},
                          "tasks": {"list": {}, "cancel": {}, "requests": {
                              "tools": {"call": {}}}}})
        self.assertIsInstance(result["instructions"], str)
        self.assertIn("get_weather", result["instructions"])
        self.assertIn("get_forecast", result["instructions"])
        self.assertEqual(set(result), {"protocolVersion", "capabilities",
                                       "serverInfo", "instructions"})

    def test_session_id_shape(self):
        """ S45, S46: Mcp-Session-Id is <node-id>.<random>, visible ASCII,
        at least 128 random bits; the node_id setting is the prefix. """
        ids = set()
        for _ in range(20):
            reply = self.post(initialize_message())
            self.assertEqual(reply.status, 200)
            sid = reply.headers.get("Mcp-Session-Id")
            self.assertTrue(visible_ascii(sid), sid)
            node, dot, rest = sid.partition(".")
            self.assertEqual((node, dot), ("node7", "."), sid)
            # base64url alphabet: 6 bits per character
            self.assertRegex(rest, r"^[A-Za-z0-9_-]+$")
            self.assertGreaterEqual(len(rest) * 6, 128, sid)
            ids.add(sid)
        self.assertEqual(len(ids), 20)

    def test_session_header_is_readable_by_browsers(self):
        """ With an allowed Origin, Mcp-Session-Id is exposed to scripts
        (a browser client cannot read it otherwise). """
        reply = self.post(initialize_message(),
                          {"Origin": "http://localhost:6274"})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.headers.get("Access-Control-Allow-Origin"),
                         "http://localhost:6274")
        self.assertIn("Mcp-Session-Id",
                      reply.headers.get("Access-Control-Expose-Headers"))

    def test_rejected_initialize_mints_no_session(self):
        """ B-6: validate everything first; a refused initialize (bad
        params, 406, 415, 403, bad envelope) registers no session and
        returns no Mcp-Session-Id. """
        good = json.dumps(initialize_message())
        cases = [
            ("protocolVersion missing", initialize_message(
                protocolVersion=None), {}, 200),
            ("protocolVersion a number", initialize_message(
                protocolVersion=20251125), {}, 200),
            ("capabilities a string", initialize_message(
                capabilities="all"), {}, 200),
            ("clientInfo a list", initialize_message(clientInfo=[]), {},
             200),
            ("Accept text/html", good, {"Accept": "text/html"}, 406),
            ("Content-Type text/plain", good,
             {"Content-Type": "text/plain"}, 415),
            ("Origin evil", good, {"Origin": "http://evil.example.com"},
             403),
            ("Host evil", good, {"Host": "evil.example.com"}, 403),
            ("id null", dict(initialize_message(), id=None), {}, 400),
        ]
        for name, body, headers, status in cases:
            with self.subTest(case=name):
                before = len(self.dispatcher.sessions)
                reply = self.post(body, headers)
                self.assertEqual(reply.status, status, reply.body)
                self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
                message = reply.json()
                self.assertIn("error", message)
                if status == 200:
                    self.assertEqual(message["error"]["code"], -32602)
                self.assertEqual(len(self.dispatcher.sessions), before)

    def test_initialized_notification_is_202_without_body(self):
        """ S15: a POST of only notifications or responses is 202 Accepted
        with no body (not 200, not 204). """
        sid = self.initialize(initialized=False)
        bodies = [
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "method": "notifications/cancelled",
             "params": {"requestId": 99, "reason": "test"}},
            {"jsonrpc": "2.0", "method": "notifications/whatever"},
            {"jsonrpc": "2.0", "id": 5, "result": {}},
            {"jsonrpc": "2.0", "id": 6,
             "error": {"code": -1, "message": "no"}},
        ]
        for body in bodies:
            with self.subTest(body=body):
                reply = self.post(body, {"Mcp-Session-Id": sid,
                                         "MCP-Protocol-Version": LATEST})
                self.assertEqual(reply.status, 202, reply.body)
                self.assertEqual(reply.body, b"")
                self.assertEqual(reply.headers.get("Content-Length"), "0")

    def test_ping(self):
        """ 4.2: ping answers an empty result, with the request's id. """
        sid = self.initialize()
        for request_id in ("abc", 0, -5, 2 ** 53):
            reply = self.rpc("ping", None, sid, request_id)
            self.assertEqual(reply.status, 200)
            self.assertEqual(reply.json(), {"jsonrpc": "2.0",
                                            "id": request_id, "result": {}})

    def test_json_body_ends_with_newline(self):
        """ Checklist 8: a JSON body is also one line of NDJSON. """
        sid = self.initialize()
        reply = self.rpc("ping", None, sid, accept=ACCEPT_JSON)
        self.assertEqual(reply.headers.get("Content-Type"),
                         "application/json")
        self.assertTrue(reply.body.endswith(b"}\n"), reply.body)
        self.assertEqual(reply.body.count(b"\n"), 1)
        self.assertEqual(int(reply.headers.get("Content-Length")),
                         len(reply.body))

    def test_unknown_method_is_32601(self):
        """ 7.1: an unknown method is -32601 with status 200 (7.2). """
        sid = self.initialize()
        reply = self.rpc("weather/radar", {}, sid, 4)
        self.assertRPCError(reply, 200, -32601, 4)
        self.assertIn("weather/radar", reply.json()["error"]["message"])


###############################################################################
# Tests: batches and the MCP-Protocol-Version header (S11-S13, S53-S55) ######
###############################################################################

class BatchTests(ServerTestCase):
    """ JSON-RPC batches: accepted in 2025-03-26 sessions (S11, S12),
    400/-32600 in later ones (S13); initialize never in a batch (S12). """

    def test_batch_in_2025_03_26_session(self):
        sid = self.initialize("2025-03-26")
        batch = [
            {"jsonrpc": "2.0", "id": 1, "method": "ping"},
            {"jsonrpc": "2.0", "method": "notifications/whatever"},
            {"jsonrpc": "2.0", "id": "two", "method": "tools/list"},
            {"jsonrpc": "2.0", "id": 3, "method": "nope"},
            {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
                "name": "get_weather", "arguments": {"city": "Hangzhou"}}},
        ]
        reply = self.post(batch, {"Mcp-Session-Id": sid,
                                  "Accept": ACCEPT_JSON})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.media_type, "application/json")
        responses = reply.json()
        self.assertIsInstance(responses, list)
        self.assertEqual(sorted(str(r["id"]) for r in responses),
                         ["1", "3", "4", "two"])
        by_id = dict((r["id"], r) for r in responses)
        self.assertEqual(by_id[1]["result"], {})
        self.assertEqual(len(by_id["two"]["result"]["tools"]), 3)
        self.assertEqual(by_id[3]["error"]["code"], -32601)
        self.assertIn("4.8", by_id[4]["result"]["content"][0]["text"])

    def test_batch_as_sse_in_2025_03_26_session(self):
        """ S22: on SSE, one response per request in the batch. """
        sid = self.initialize("2025-03-26")
        batch = [{"jsonrpc": "2.0", "id": i, "method": "ping"}
                 for i in (1, 2)]
        reply = self.post(batch, {"Mcp-Session-Id": sid,
                                  "Accept": ACCEPT_SSE})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(sorted(m["id"] for m in reply.messages()), [1, 2])

    def test_batch_of_notifications_is_202(self):
        """ S15 holds for a batch with only notifications and responses. """
        sid = self.initialize("2025-03-26")
        reply = self.post([
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 9, "result": {}}],
            {"Mcp-Session-Id": sid})
        self.assertEqual((reply.status, reply.body), (202, b""))

    def test_invalid_member_of_a_batch(self):
        """ A bad member gets its own error response; the rest are served. """
        sid = self.initialize("2025-03-26")
        reply = self.post([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, 5,
                           {"jsonrpc": "1.0", "id": 2, "method": "ping"}],
                          {"Mcp-Session-Id": sid, "Accept": ACCEPT_JSON})
        self.assertEqual(reply.status, 200, reply.body)
        responses = reply.json()
        self.assertEqual(len(responses), 3)
        self.assertEqual(responses[0], {"jsonrpc": "2.0", "id": 1,
                                        "result": {}})
        self.assertEqual(responses[1]["error"]["code"], -32600)
        self.assertNotIn("id", responses[1])
        self.assertEqual(responses[2]["error"]["code"], -32600)
        self.assertEqual(responses[2]["id"], 2)

    def test_batch_rejected_after_2025_03_26(self):
        """ S13: 2025-06-18 and 2025-11-25 sessions get 400 and -32600. """
        for version in ("2025-06-18", "2025-11-25"):
            with self.subTest(version=version):
                sid = self.initialize(version)
                reply = self.post([{"jsonrpc": "2.0", "id": 1,
                                    "method": "ping"}],
                                  {"Mcp-Session-Id": sid,
                                   "MCP-Protocol-Version": version})
                message = self.assertRPCError(reply, 400, -32600)
                self.assertIn("batch", message["error"]["message"])

    def test_initialize_in_a_batch_is_400(self):
        """ S12: initialize MUST NOT be part of a batch; no session. """
        before = len(self.dispatcher.sessions)
        reply = self.post([initialize_message("2025-03-26")])
        self.assertRPCError(reply, 400, -32600)
        self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
        self.assertEqual(len(self.dispatcher.sessions), before)

    def test_empty_batch_is_400(self):
        sid = self.initialize("2025-03-26")
        self.assertRPCError(self.post([], {"Mcp-Session-Id": sid}), 400,
                            -32600)


class ProtocolVersionHeaderTests(ServerTestCase):
    """ MCP-Protocol-Version (S53-S55, B-20). """

    def test_unsupported_value_is_400(self):
        """ S55: an invalid or unsupported value MUST be 400; the body
        names the supported versions. """
        sid = self.initialize()
        for value in ("2025-05-16", "2026-07-28", "garbage", ""):
            with self.subTest(value=value):
                reply = self.rpc("ping", None, sid, 1,
                                 protocol_version=value)
                message = self.assertRPCError(reply, 400, -32600, 1)
                self.assertEqual(message["error"]["data"]["supported"],
                                 list(VERSIONS))

    def test_absent_header_is_fine(self):
        """ S54: absent, the session's negotiated version applies: a
        2025-11-25 session still gets isError for bad arguments. """
        sid = self.initialize()
        reply = self.rpc("ping", None, sid, 1, protocol_version=None)
        self.assertEqual(reply.json(), {"jsonrpc": "2.0", "id": 1,
                                        "result": {}})
        reply = self.call_tool("get_weather", {}, sid, protocol_version=None)
        self.assertIs(self.result_of(reply)["result"]["isError"], True)

    def test_supported_values_are_fine(self):
        sid = self.initialize()
        for value in VERSIONS:
            with self.subTest(value=value):
                reply = self.rpc("ping", None, sid, 1,
                                 protocol_version=value)
                self.assertEqual(reply.status, 200, reply.body)

    def test_header_not_needed_on_initialize(self):
        """ [SDK]: initialize itself is not checked against the header. """
        reply = self.post(initialize_message(),
                          {"MCP-Protocol-Version": "2025-05-16"})
        self.assertEqual(reply.status, 200, reply.body)


###############################################################################
# Tests: HTTP transport details (S10, B-15, B-21) ############################
###############################################################################

class TransportTests(ServerTestCase):
    """ Content types, chunked bodies, paths, methods, keep-alive. """

    PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}

    def setUp(self):
        ServerTestCase.setUp(self)
        self.sid = self.initialize()

    def headers(self, **extra):
        headers = {"Mcp-Session-Id": self.sid, "MCP-Protocol-Version":
                   LATEST}
        headers.update(extra)
        return headers

    def test_unsupported_media_type(self):
        """ S10: a non-JSON content type is 415. """
        for content_type in ("text/plain", "application/x-www-form-urlencoded",
                             "application/json; charset=latin-1",
                             "application/jsonx", None):
            with self.subTest(content_type=content_type):
                reply = self.post(self.PING, self.headers(**{
                    "Content-Type": content_type}))
                self.assertRPCError(reply, 415, -32600)

    def test_json_content_type_variants(self):
        for content_type in ("application/json; charset=utf-8",
                             "Application/JSON", "application/json;"
                             "charset=\"UTF-8\""):
            with self.subTest(content_type=content_type):
                reply = self.post(self.PING, self.headers(**{
                    "Content-Type": content_type}))
                self.assertEqual(reply.status, 200, reply.body)

    def test_chunked_request_body(self):
        """ B-21: a body sent with Transfer-Encoding: chunked is decoded. """
        conn = self.connect()
        try:
            parts = [b'{"jsonrpc":"2.0",', b'"id":"chunked",',
                     b'"method":"ping"}']
            conn.request("POST", self.path, body=iter(parts),
                         headers=dict(self.headers(), **{
                             "Content-Type": "application/json",
                             "Accept": ACCEPT_JSON}),
                         encode_chunked=True)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(json.loads(resp.read().decode()),
                             {"jsonrpc": "2.0", "id": "chunked",
                              "result": {}})
        finally:
            conn.close()

    def test_chunked_body_with_extensions_and_trailers(self):
        body = json.dumps(self.PING).encode()
        chunked = (b"%x;ext=1\r\n%s\r\n0\r\nX-Trailer: yes\r\n\r\n"
                   % (len(body), body))
        request = raw_post(chunked, [b"Transfer-Encoding: chunked",
                                     b"Mcp-Session-Id: " + self.sid.encode()])
        raw = raw_exchange(self.port, request)
        self.assertEqual(status_of(raw), 200, raw)
        self.assertTrue(raw.endswith(b'{"jsonrpc":"2.0","id":1,'
                                     b'"result":{}}\n'), raw)

    def test_trailing_slash_is_the_endpoint(self):
        """ B-15: /mcp/ works like /mcp, never a redirect. """
        reply = self.post(initialize_message(), path="/mcp/")
        self.assertEqual(reply.status, 200, reply.body)
        sid = reply.headers.get("Mcp-Session-Id")
        for path in ("/mcp/", "/mcp", "/mcp?x=1", "/mcp/?"):
            with self.subTest(path=path):
                reply = self.post(self.PING, {"Mcp-Session-Id": sid},
                                  path=path)
                self.assertEqual(reply.status, 200, reply.body)
                self.assertIsNone(reply.headers.get("Location"))

    def test_other_paths_are_404(self):
        for path in ("/", "/mcpx", "/mcp/tools", "/MCP", "/sse",
                     "/mcp//"):
            with self.subTest(path=path):
                reply = self.post(self.PING, self.headers(), path=path)
                self.assertRPCError(reply, 404, -32600)
                self.assertIn("/mcp", reply.json()["error"]["message"])

    def test_put_is_405(self):
        for method in ("PUT", "PATCH"):
            with self.subTest(method=method):
                reply = self.request(method, b"{}", self.headers())
                self.assertRPCError(reply, 405, -32600)
                self.assertEqual(reply.headers.get("Allow"),
                                 "GET, POST, DELETE")

    def test_connection_is_kept_alive(self):
        """ HTTP/1.1 keep-alive: several requests on one connection. """
        conn = self.connect()
        try:
            sockets = set()
            for request_id in range(3):
                conn.request("POST", self.path, body=json.dumps(dict(
                    self.PING, id=request_id)), headers=dict(
                    self.headers(), **{"Content-Type": "application/json",
                                       "Accept": ACCEPT_BOTH}))
                resp = conn.getresponse()
                self.assertEqual(json.loads(resp.read().decode())["id"],
                                 request_id)
                self.assertEqual(resp.getheader("Connection"), None)
                sockets.add(id(conn.sock))
            self.assertEqual(len(sockets), 1)
        finally:
            conn.close()

    def test_stream_then_json_on_one_connection(self):
        """ A chunked SSE answer ends cleanly: the next answer on the same
        connection is intact. """
        conn = self.connect()
        try:
            for accept, request_id in ((ACCEPT_SSE, 1), (ACCEPT_NDJSON, 2),
                                       (ACCEPT_JSON, 3)):
                conn.request("POST", self.path, body=json.dumps(dict(
                    self.PING, id=request_id)), headers=dict(
                    self.headers(), **{"Content-Type": "application/json",
                                       "Accept": accept}))
                resp = conn.getresponse()
                body = resp.read()
                self.assertIn(b'"id":%d' % request_id, body)
        finally:
            conn.close()

    def test_http_1_0_client(self):
        """ An HTTP/1.0 client cannot read chunked bodies: a stream comes
        as raw bytes ended by closing the connection; JSON has a
        Content-Length. """
        ping = json.dumps(self.PING).encode()
        for accept, media in ((ACCEPT_SSE, b"text/event-stream"),
                              (ACCEPT_NDJSON, b"application/x-ndjson"),
                              (ACCEPT_JSON, b"application/json")):
            with self.subTest(accept=accept):
                request = (b"POST /mcp HTTP/1.0\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: application/json\r\nAccept: " +
                           accept.encode() + b"\r\nMcp-Session-Id: " +
                           self.sid.encode() + b"\r\nContent-Length: %d"
                           b"\r\n\r\n" % len(ping) + ping)
                raw = raw_exchange(self.port, request)
                head, _, body = raw.partition(b"\r\n\r\n")
                self.assertEqual(status_of(raw), 200, raw)
                self.assertIn(b"\r\nContent-Type: " + media, head)
                self.assertNotIn(b"chunked", head.lower())
                self.assertIn(b'{"jsonrpc":"2.0","id":1,"result":{}}', body)
                if accept == ACCEPT_SSE:
                    self.assertEqual(sse_messages(parse_sse(body)),
                                     [{"jsonrpc": "2.0", "id": 1,
                                       "result": {}}])

    def test_options_preflight(self):
        reply = self.request("OPTIONS", None, {
            "Origin": "http://localhost:6274",
            "Access-Control-Request-Method": "POST"})
        self.assertEqual(reply.status, 204)
        self.assertIn("Mcp-Session-Id",
                      reply.headers.get("Access-Control-Allow-Headers"))
        self.assertIn("POST",
                      reply.headers.get("Access-Control-Allow-Methods"))

    def test_head_response_has_no_body(self):
        """ A response to HEAD has no content (RFC 9110 9.3.2): what
        follows its headers on a kept-alive connection is the next status
        line.  (It used to carry a 73-byte JSON body; fixed in de0b37e.) """
        ping = json.dumps(self.PING).encode()
        request = (b"HEAD /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" +
                   raw_post(ping, [b"Mcp-Session-Id: " +
                                   self.sid.encode()]))
        raw = raw_exchange(self.port, request)
        self.assertEqual(status_of(raw), 405, raw)
        rest = raw.split(b"\r\n\r\n", 1)[1]
        self.assertTrue(rest.startswith(b"HTTP/1.1 200 "), raw)

    def test_unread_body_of_a_rejected_request(self):
        """ A body the server does not read (PUT here) must not be parsed
        as the next request: the next request on that client connection
        gets its own answer.  (It used to get "501 Unsupported method
        ('{"x":1}POST')"; fixed in de0b37e.) """
        conn = self.connect()
        try:
            conn.request("PUT", self.path, body=b'{"x":1}')
            resp = conn.getresponse()
            self.assertEqual(resp.status, 405)
            resp.read()
            conn.request("POST", self.path, body=json.dumps(self.PING),
                         headers=dict(self.headers(), **{
                             "Content-Type": "application/json",
                             "Accept": ACCEPT_JSON}))
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()),
                             (200, b'{"jsonrpc":"2.0","id":1,'
                                   b'"result":{}}\n'))
        finally:
            conn.close()

    def test_expect_100_continue(self):
        """ curl sends Expect: 100-continue for bodies over 1 KiB. """
        body = json.dumps(dict(self.PING, params={"_meta": {
            "pad": "x" * 2000}})).encode()
        raw = raw_exchange(self.port, raw_post(body, [
            b"Expect: 100-continue", b"Mcp-Session-Id: " +
            self.sid.encode()]))
        self.assertIn(b'{"jsonrpc":"2.0","id":1,"result":{}}\n', raw)


class BodyLimitTests(ServerTestCase):
    """ --max-body: larger bodies are 413, however they are sent. """

    settings = {"max_body": 1024}

    def padded(self, size):
        body = {"jsonrpc": "2.0", "id": 1, "method": "ping",
                "params": {"_meta": {"pad": ""}}}
        pad = size - len(json.dumps(body))
        body["params"]["_meta"]["pad"] = "x" * pad
        data = json.dumps(body).encode()
        self.assertEqual(len(data), size)
        return data

    def test_limit(self):
        sid = self.initialize()
        headers = {"Mcp-Session-Id": sid}
        self.assertEqual(self.post(self.padded(1024), headers).status, 200)
        reply = self.post(self.padded(1025), headers)
        message = self.assertRPCError(reply, 413, -32600)
        self.assertIn("1024", message["error"]["message"])

    def test_limit_for_chunked_bodies(self):
        sid = self.initialize()
        data = self.padded(1500)
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 500]),
                                              data[i:i + 500])
                           for i in range(0, len(data), 500)) + b"0\r\n\r\n"
        raw = raw_exchange(self.port, raw_post(chunked, [
            b"Transfer-Encoding: chunked", b"Mcp-Session-Id: " +
            sid.encode()]))
        self.assertEqual(status_of(raw), 413, raw)

    def test_limit_checked_before_reading(self):
        """ A huge Content-Length is refused from the header alone. """
        raw = raw_exchange(self.port, raw_post(b"{}", [
            b"Content-Length: 99999999999"]))
        self.assertEqual(status_of(raw), 413, raw)


###############################################################################
# Tests: logs, the command line, the registration API ########################
###############################################################################

ACCESS_LINE = re.compile(r"^(?P<client>\S+) (?P<method>[A-Z]+) (?P<path>\S+) "
                         r"(?P<status>\d{3}|-) (?P<ms>[\d.]+)ms "
                         r"(?P<rpc>\S+) sid=(?P<sid>\S+)$")


class AccessLogTests(ServerTestCase):
    """ One access-log line per request: method, path, status, duration,
    JSON-RPC method, short session id.  Each test tags its request paths
    with a query string of its own, so lines that other tests' threads log
    late are not counted. """

    def access_lines(self, logs, tag):
        lines = []
        for record in logs.records:
            match = ACCESS_LINE.match(record.getMessage())
            if match and match.group("path").endswith("?t=" + tag):
                lines.append(match.groupdict())
        return lines

    def test_one_line_per_request(self):
        """ Each request logs exactly one line; waiting for line k before
        sending request k+1 keeps them in order. """
        path = "/mcp?t=one"
        with self.assertLogs("mcp_weather", "INFO") as logs:
            def then(count):
                wait_for(lambda: len(self.access_lines(logs, "one"))
                         >= count)
            reply = self.post(initialize_message(), path=path)
            sid = reply.headers.get("Mcp-Session-Id")
            then(1)
            session = {"Mcp-Session-Id": sid}
            self.post({"jsonrpc": "2.0", "method":
                       "notifications/initialized"}, session, path)
            then(2)
            self.post({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                      session, path)
            then(3)
            self.post({"jsonrpc": "2.0", "id": 2, "method": "ping"},
                      dict(session, Accept=ACCEPT_SSE), path)
            then(4)
            self.post({"jsonrpc": "2.0", "id": 3, "method": "ping"},
                      None, path)
            then(5)
            self.request("DELETE", None, session, path)
            then(6)
        lines = self.access_lines(logs, "one")
        self.assertEqual(len(lines), 6, logs.output)
        short = sid[-8:]
        self.assertEqual([(l["method"], l["status"], l["rpc"], l["sid"])
                          for l in lines], [
            ("POST", "200", "initialize", short),
            ("POST", "202", "notifications/initialized", short),
            ("POST", "200", "tools/list", short),
            ("POST", "200", "ping", short),
            ("POST", "400", "ping", "-"),
            ("DELETE", "204", "-", short)])
        self.assertEqual(set(l["client"] for l in lines), {"127.0.0.1"})
        self.assertNotIn(sid, "\n".join(logs.output))

    def test_rejected_requests_are_logged_too(self):
        path = "/mcp?t=rejected"
        with self.assertLogs("mcp_weather", "INFO") as logs:
            self.post(b"{", None, path)
            self.post(initialize_message(), {"Accept": "text/html"}, path)
            self.request("PUT", None, None, path)
            wait_for(lambda: len(self.access_lines(logs, "rejected")) >= 3)
        statuses = sorted(l["status"] for l in
                          self.access_lines(logs, "rejected"))
        self.assertEqual(statuses, ["400", "405", "406"])


class CommandLineTests(unittest.TestCase):
    """ python mcp_weather.py: --help, and a real process on --port 0. """

    ENV_VARS = ("MCP_HOST", "MCP_PORT", "MCP_PATH", "MCP_STATELESS",
                "MCP_LOG_LEVEL", "MCP_AUTH_TOKEN", "MCP_ALLOWED_ORIGINS",
                "MCP_ALLOWED_HOSTS", "MCP_SESSION_TTL", "MCP_MAX_SESSIONS",
                "MCP_MAX_BODY", "MCP_KEEPALIVE", "MCP_NODE_ID", "MCP_TRACE",
                "SENIVERSE_KEY", "WEATHER_PROVIDER", "WEATHER_GEOCODING_URL",
                "WEATHER_FORECAST_URL", "SENIVERSE_URL", "WEATHER_TIMEOUT",
                "WEATHER_CACHE_TTL")
    FLAGS = ("--host", "--port", "--path", "--stateless", "--log-level",
             "--token", "--allow-origin", "--session-ttl", "--max-sessions",
             "--max-body", "--keepalive", "--node-id", "--trace")

    def test_help(self):
        env = clean_environment()
        env["COLUMNS"] = "200"
        done = subprocess.run([sys.executable, SERVER_FILE, "--help"],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env,
                              timeout=TIMEOUT)
        self.assertEqual(done.returncode, 0, done.stderr)
        text = done.stdout.decode("utf-8")
        for name in self.ENV_VARS + self.FLAGS:
            self.assertIn(name, text)

    @unittest.skipIf(os.name == "nt", "POSIX signals")
    def test_serve_and_stop_on_sigterm(self):
        """ --port 0 picks a port, logs its URL, serves initialize, and
        exits 0 on SIGTERM. """
        with ServerProcess([sys.executable, SERVER_FILE, "--port", "0",
                            "--node-id", "cli"]) as server:
            self.assertTrue(re.search(
                r"listening on http://127\.0\.0\.1:%d/mcp\b" % server.port,
                "".join(server.lines)), server.lines)
            reply = http_request(server.port, "POST", "/mcp",
                                 initialize_message(),
                                 {"Content-Type": "application/json",
                                  "Accept": ACCEPT_BOTH})
            self.assertEqual(reply.status, 200, reply.body)
            self.assertTrue(reply.headers.get("Mcp-Session-Id")
                            .startswith("cli."))
            self.assertEqual(reply.json()["result"]["serverInfo"]["name"],
                             "mcp-weather")
            self.assertEqual(server.stop(), 0)

    def test_bad_setting_exits_with_a_message(self):
        env = clean_environment()
        env["MCP_PORT"] = "eighty"
        done = subprocess.run([sys.executable, SERVER_FILE],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env,
                              timeout=TIMEOUT)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn(b"MCP_PORT", done.stderr)
        self.assertNotIn(b"Traceback", done.stderr)


class RegistrationTests(ServerTestCase):
    """ The public registration API: dispatcher.tool(...) adds a tool at
    runtime; tools/list and tools/call serve it over HTTP. """

    @classmethod
    def setUpClass(cls):
        super(RegistrationTests, cls).setUpClass()

        @cls.dispatcher.tool("add", "Add two numbers.", {
            "type": "object",
            "properties": {"a": {"type": "number"},
                           "b": {"type": "number"}},
            "required": ["a", "b"], "additionalProperties": False})
        def add(arguments, call):
            return str(arguments["a"] + arguments["b"])

        @cls.dispatcher.tool("stats", "Structured result.", {
            "type": "object"}, title="Stats")
        def stats(arguments, call):
            return {"count": len(arguments)}

        @cls.dispatcher.tool("liar", "Breaks its outputSchema.", {
            "type": "object"}, output_schema={
                "type": "object", "properties": {"n": {"type": "number"}},
                "required": ["n"]})
        def liar(arguments, call):
            return {"n": "not-a-number"}

        @cls.dispatcher.tool("boom", "Always fails.", {"type": "object"})
        def boom(arguments, call):
            raise RuntimeError("secret internal detail")

        @cls.dispatcher.tool("refuse", "A tool error.", {"type": "object"})
        def refuse(arguments, call):
            raise mcp_weather.ToolError("not today")

    def test_tools_are_listed_and_called(self):
        sid = self.initialize()
        reply = self.rpc("tools/list", {}, sid)
        names = [t["name"] for t in self.result_of(reply)["result"]["tools"]]
        self.assertEqual(names, ["get_weather", "get_forecast",
                                 "get_forecasts", "add",
                                 "stats", "liar", "boom", "refuse"])
        result = self.result_of(self.call_tool("add", {"a": 2, "b": 3.5},
                                               sid))["result"]
        self.assertEqual(result, {"content": [{"type": "text",
                                               "text": "5.5"}]})
        result = self.result_of(self.call_tool("stats", {"x": 1}, sid)
                                )["result"]
        self.assertEqual(result["structuredContent"], {"count": 1})
        self.assertEqual(json.loads(result["content"][0]["text"]),
                         {"count": 1})
        result = self.result_of(self.call_tool("add", {"a": "2", "b": 3},
                                               sid))["result"]
        self.assertIs(result["isError"], True)

    def test_output_must_match_output_schema(self):
        """ 5.3: a tool whose structured output breaks its outputSchema
        gets an isError result, not malformed structuredContent. """
        sid = self.initialize()
        reply = self.call_tool("liar", {}, sid)
        result = self.result_of(reply)["result"]
        self.assertIs(result["isError"], True)
        self.assertNotIn("structuredContent", result)
        self.assertNotIn(b"not-a-number", reply.body)

    def test_tool_failures_are_error_results(self):
        """ An exception in a tool is isError without internals; a
        ToolError's text reaches the model. """
        sid = self.initialize()
        reply = self.call_tool("boom", {}, sid)
        result = self.result_of(reply)["result"]
        self.assertIs(result["isError"], True)
        self.assertNotIn(b"secret internal detail", reply.body)
        self.assertNotIn(b"Traceback", reply.body)
        result = self.result_of(self.call_tool("refuse", {}, sid))["result"]
        self.assertEqual(result, {"content": [{"type": "text",
                                               "text": "not today"}],
                                  "isError": True})

    def test_dispatcher_without_http(self):
        """ Cookbook 3: drive the protocol without HTTP. """
        sent = []
        self.dispatcher.handle({"jsonrpc": "2.0", "id": 1,
                                "method": "tools/list"}, sent.append,
                               version="2025-11-25")
        self.assertEqual(len(sent), 1)
        self.assertEqual(sent[0]["id"], 1)
        self.assertEqual(len(sent[0]["result"]["tools"]), 8)

    @unittest.skipIf(os.name == "nt", "POSIX signals")
    def test_cookbook_main_with_setup(self):
        """ The module docstring's cookbook (1 and 2): main(setup=my_tools,
        weather=False) serves only my tools over HTTP. """
        script = (
            "import sys\n"
            "sys.path.insert(0, %r)\n"
            "import mcp_weather\n"
            "def my_tools(dispatcher):\n"
            "    @dispatcher.tool('add', 'Add two numbers.', {\n"
            "        'type': 'object',\n"
            "        'properties': {'a': {'type': 'number'},\n"
            "                       'b': {'type': 'number'}},\n"
            "        'required': ['a', 'b']})\n"
            "    def add(arguments, call):\n"
            "        return str(arguments['a'] + arguments['b'])\n"
            "sys.exit(mcp_weather.main(['--port', '0', '--stateless'],\n"
            "                          setup=my_tools, weather=False))\n"
            % HERE)
        with ServerProcess([sys.executable, "-c", script]) as server:
            headers = {"Content-Type": "application/json",
                       "Accept": ACCEPT_JSON,
                       "MCP-Protocol-Version": LATEST}
            reply = http_request(server.port, "POST", "/mcp", {
                "jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers)
            self.assertEqual([t["name"] for t in reply.json()["result"][
                "tools"]], ["add"])
            reply = http_request(server.port, "POST", "/mcp", {
                "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "add", "arguments": {"a": 2, "b": 3}}},
                headers)
            self.assertEqual(reply.json()["result"]["content"],
                             [{"type": "text", "text": "5"}])
            self.assertEqual(server.stop(), 0)
