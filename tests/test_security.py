"""Security defaults and hostile input: malformed requests (section 7) and
--trace under them, Origin and Host checks (S2-S7, B-16), the allow-list
and bearer tokens."""

import json

from tests.support import (ACCEPT_BOTH, ACCEPT_JSON, ACCEPT_SSE, LATEST,
                           ServerTestCase, initialize_message, raw_exchange,
                           raw_post, status_of, sweep_nesting, wait_for)


###############################################################################
# Tests: hostile and malformed input (section 7) #############################
###############################################################################

class MalformedInputTests(ServerTestCase):
    """ Section 7: parse errors are 400 with an id-less -32700; bad
    envelopes 400 with -32600 (id echoed when readable); hostile input of
    every kind gets a clean 4xx or JSON-RPC error, never a 5xx or a
    traceback, and the server keeps serving. """

    def setUp(self):
        ServerTestCase.setUp(self)
        self.sid = self.initialize()

    def send(self, body, headers=None):
        merged = {"Mcp-Session-Id": self.sid,
                  "MCP-Protocol-Version": LATEST}
        merged.update(headers or {})
        return self.post(body, merged)

    def assertClean(self, reply):
        self.assertLess(reply.status, 500, reply.body)
        self.assertNotIn(b"Traceback", reply.body)
        if reply.status != 202:
            self.assertEqual(reply.media_type, "application/json")
            self.assertIn("error" if reply.status >= 400 else "jsonrpc",
                          reply.json())

    def test_parse_errors(self):
        """ 7.2: not JSON -> 400 and -32700 without an id. """
        cases = [b"", b"{", b"not json", b'{"jsonrpc":"2.0","id":1,}',
                 b'{"jsonrpc":"2.0","id":1,"method":"ping"} trailing',
                 b"\xff\xfe{}", b'{"city":"\xed\xa0\x80"}',
                 b'{"x":NaN}', b'{"x":Infinity}', b'{"x":-Infinity}',
                 b'{"x":1e999}', b'{"x":-1e999}',
                 b'{"jsonrpc":"2.0","id":' + b"9" * 100000 + b',"method":'
                 b'"ping"}']
        for body in cases:
            with self.subTest(body=body[:40]):
                self.assertRPCError(self.send(body), 400, -32700)
        self.assertServing()

    def test_deep_nesting(self):
        """ 100000 '[' (and '{"a":' nesting) is a parse error, not a
        crashed thread. """
        for body in (b"[" * 100000, b'{"a":' * 100000,
                     b'{"jsonrpc":"2.0","id":1,"method":"ping","params":'
                     b'{"x":' + b"[" * 100000 + b"]" * 100000 + b"}}"):
            with self.subTest(body=body[:20]):
                self.assertRPCError(self.send(body), 400, -32700)
        self.assertServing()

    def test_nesting_just_below_the_parser_limit(self):
        """ Every depth up to the parser's limit is answered: the server
        never drops the connection, whatever the nesting. """
        sweep_nesting(self, self.send)

    def test_bad_envelopes(self):
        """ 7.1, 4.0: -32600 with status 400; the id is echoed when it is a
        usable id, omitted otherwise. """
        cases = [
            ({"id": 7, "method": "ping"}, 7),
            ({"jsonrpc": "1.0", "id": 7, "method": "ping"}, 7),
            ({"jsonrpc": 2.0, "id": 7, "method": "ping"}, 7),
            ({"jsonrpc": "2.0", "id": None, "method": "ping"}, None),
            ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"}, None),
            ({"jsonrpc": "2.0", "id": True, "method": "ping"}, None),
            ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"}, None),
            ({"jsonrpc": "2.0", "id": [1], "method": "ping"}, None),
            ({"jsonrpc": "2.0", "id": 3, "method": 5}, 3),
            ({"jsonrpc": "2.0", "id": 3, "method": None}, 3),
            ({"jsonrpc": "2.0", "id": "s", "method": "ping",
              "params": [1, 2]}, "s"),
            ({"jsonrpc": "2.0", "id": "s", "method": "ping",
              "params": "x"}, "s"),
            ({"jsonrpc": "2.0", "id": 4}, 4),
            ({"jsonrpc": "2.0", "id": 4, "result": 1, "error": {}}, 4),
            ({}, None), ("ping", None), (5, None), (None, None),
            (True, None),
        ]
        for body, request_id in cases:
            with self.subTest(body=body):
                self.assertRPCError(self.send(json.dumps(body)), 400,
                                    -32600, request_id)
        self.assertServing()

    def test_wrong_types_in_initialize(self):
        """ Every field of initialize with a wrong type: -32602, no
        session. """
        before = len(self.dispatcher.sessions)
        for field in ("protocolVersion", "capabilities", "clientInfo"):
            for value in (None, 5, "x", [], True, {"a": [1]}):
                if field == "protocolVersion" and value == "x":
                    continue            # a string: negotiated, not an error
                if field != "protocolVersion" and isinstance(value, dict):
                    continue
                with self.subTest(field=field, value=value):
                    reply = self.post(initialize_message(**{field: value}))
                    self.assertRPCError(reply, 200, -32602, 0)
                    self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
        self.assertEqual(len(self.dispatcher.sessions), before)
        for params in (None, [], "x"):
            with self.subTest(params=params):
                body = initialize_message()
                body["params"] = params
                reply = self.post(body)
                self.assertEqual(reply.status, 400, reply.body)
                self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
        self.assertServing()

    def test_odd_but_valid_json(self):
        """ Valid JSON with odd content: a UTF-8 BOM, a 4000-digit integer
        id, unicode escapes, duplicate keys: all answered. """
        big = int("9" * 4000)
        cases = [
            (b"\xef\xbb\xbf" + json.dumps({"jsonrpc": "2.0", "id": 1,
                                           "method": "ping"}).encode(), 1),
            (json.dumps({"jsonrpc": "2.0", "id": big,
                         "method": "ping"}).encode(), big),
            (b'{"jsonrpc":"2.0","id":"\\u0000\\ud83d\\ude00","method":'
             b'"ping"}', "\x00\U0001F600"),
            (b'{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}', 2),
        ]
        for body, request_id in cases:
            with self.subTest(body=body[:30]):
                reply = self.send(body, {"Accept": ACCEPT_JSON})
                self.assertEqual(reply.status, 200, reply.body)
                self.assertEqual(reply.json(), {"jsonrpc": "2.0",
                                                "id": request_id,
                                                "result": {}})

    def test_lone_surrogates_in_requests(self):
        """ Lone surrogates in ids and methods: answered with valid JSON
        (the surrogate escaped), never a crash. """
        cases = [({"jsonrpc": "2.0", "id": "\ud800", "method": "ping"},
                  200, None),
                 ({"jsonrpc": "2.0", "id": 1, "method": "\udc00"}, 200,
                  -32601),
                 ({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                   "params": {"cursor": "\ud800"}}, 200, -32602)]
        for body, status, code in cases:
            with self.subTest(body=body):
                reply = self.send(body, {"Accept": ACCEPT_JSON})
                self.assertEqual(reply.status, status, reply.body)
                reply.body.decode("utf-8")
                message = reply.json()
                self.assertEqual(message["id"], body["id"])
                if code:
                    self.assertEqual(message["error"]["code"], code)
        self.assertServing()

    def test_wrong_types_for_other_fields(self):
        """ ping, tools/list and logging/setLevel params of wrong types. """
        cases = [("ping", {"_meta": 5}, None),
                 ("tools/list", {"cursor": None}, None),
                 ("logging/setLevel", {"level": 5}, -32602),
                 ("logging/setLevel", {"level": "loud"}, -32602),
                 ("logging/setLevel", {}, -32602),
                 ("logging/setLevel", {"level": []}, -32602)]
        for method, params, code in cases:
            with self.subTest(method=method, params=params):
                reply = self.send({"jsonrpc": "2.0", "id": 1,
                                   "method": method, "params": params})
                self.assertEqual(reply.status, 200, reply.body)
                message = reply.json()
                if code is None:
                    self.assertIn("result", message)
                else:
                    self.assertEqual(message["error"]["code"], code)

    # -- malformed HTTP: each gets a 4xx answer, never a dropped line ------
    # (These found real bugs, fixed in de0b37e; now they guard against
    # regressions.)

    def assertAnswered4xx(self, raw, request, status=None):
        got = status_of(raw)
        self.assertIsNotNone(got, "no HTTP answer to %r (got %r)"
                             % (request[:120], raw[:200]))
        self.assertTrue(400 <= got < 500, raw[:300])
        if status is not None:
            self.assertEqual(got, status, raw[:300])
        self.assertNotIn(b"Traceback", raw)

    def test_non_ascii_digit_content_length(self):
        """ "²" (byte 0xB2) passes str.isdigit() but is no length: 400
        (RFC 9112 6.3), not a dropped connection. """
        request = raw_post(b"{}", [b"Content-Length: \xb2"])
        self.assertAnswered4xx(raw_exchange(self.port, request), request, 400)

    def test_bad_content_length(self):
        for value in (b"abc", b"-1", b"+2", b"1 2", b"", b"\xd9\xa3"):
            with self.subTest(value=value):
                request = raw_post(b"{}", [b"Content-Length: " + value])
                self.assertAnswered4xx(raw_exchange(self.port, request),
                                       request)

    def test_origin_with_unbalanced_bracket(self):
        """ S3: an Origin urlsplit() cannot parse is a bad Origin: 403. """
        request = raw_post(b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
                           [b"Origin: http://[::1"])
        self.assertAnswered4xx(raw_exchange(self.port, request), request, 403)

    def test_request_target_with_unbalanced_bracket(self):
        request = raw_post(b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
                           target=b"http://[x/mcp")
        self.assertAnswered4xx(raw_exchange(self.port, request), request, 400)

    def test_non_ascii_last_event_id(self):
        """ S41: an event id with non-ASCII bytes is just an unknown id. """
        request = (b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: "
                   b"text/event-stream\r\nConnection: close\r\n"
                   b"Mcp-Session-Id: " + self.sid.encode() +
                   b"\r\nMCP-Protocol-Version: 2025-11-25\r\n"
                   b"Last-Event-ID: \xe9.1.1\r\n\r\n")
        self.assertAnswered4xx(raw_exchange(self.port, request), request, 400)

    def test_unknown_last_event_id_is_400(self):
        reply = self.request("GET", headers={
            "Accept": ACCEPT_SSE, "Mcp-Session-Id": self.sid,
            "MCP-Protocol-Version": LATEST, "Last-Event-ID": "zz.1.1"})
        self.assertRPCError(reply, 400, -32600)

    def test_negative_chunk_size(self):
        """ B-21: a chunk size of "-1" is malformed: 400 at once (it used to
        make the server read until the client hung up). """
        ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
        request = raw_post(b"-1\r\n" + ping + b"\r\n0\r\n\r\n",
                           [b"Transfer-Encoding: chunked",
                            b"Mcp-Session-Id: " + self.sid.encode()])
        self.assertAnswered4xx(raw_exchange(self.port, request), request, 400)

    def test_bad_chunk_size(self):
        for size in (b"zz", b"", b"0x", b"+5", b"1_0", b"\xb2"):
            with self.subTest(size=size):
                request = raw_post(size + b"\r\n{}\r\n0\r\n\r\n",
                                   [b"Transfer-Encoding: chunked"])
                self.assertAnswered4xx(raw_exchange(self.port, request),
                                       request, 400)

    def test_garbage_request_line(self):
        raw = raw_exchange(self.port, b"\x16\x03\x01\x02\x00\x01\x00\r\n\r\n")
        self.assertEqual(status_of(raw), 400, raw)
        self.assertServing()

    # -- HTTP/1.1 message framing (RFC 9112 section 6.3) --------------------

    def test_conflicting_content_lengths(self):
        """ Two different Content-Lengths are invalid framing (RFC 9112
        6.3): one 400 and a closed connection, so the rest of the body
        cannot be served as a second, smuggled request. """
        smuggled = (b"DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Length: 0\r\n\r\n")
        body = b"{}\n" + smuggled
        request = raw_post(body, [b"Content-Length: 3",
                                  b"Content-Length: %d" % len(body)])
        request = request.replace(b"Connection: close\r\n", b"")
        raw = raw_exchange(self.port, request, 1.0)
        self.assertEqual(raw.count(b"HTTP/1.1 "), 1, raw)
        self.assertEqual(status_of(raw), 400, raw)

    def test_content_length_with_chunked_closes(self):
        """ Transfer-Encoding: chunked with a Content-Length is decoded as
        chunked, and the connection is closed after the answer (RFC 9112
        6.3, a smuggling defence behind proxies). """
        ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(ping), ping)
        request = raw_post(body, [b"Content-Length: 5",
                                  b"Transfer-Encoding: chunked",
                                  b"Mcp-Session-Id: " + self.sid.encode()])
        request = request.replace(b"Connection: close\r\n", b"")
        raw = raw_exchange(self.port, request, 1.0)
        self.assertEqual(status_of(raw), 200, raw)
        head = raw.split(b"\r\n\r\n", 1)[0]
        self.assertIn(b"\r\nConnection: close", head)

    def test_unknown_transfer_coding_is_400(self):
        """ "Transfer-Encoding: gzip" leaves the body length unknown: 400
        and a closed connection (RFC 9112 6.3), never a guess. """
        ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
        request = raw_post(ping, [b"Content-Length: %d" % len(ping),
                                  b"Transfer-Encoding: gzip",
                                  b"Mcp-Session-Id: " + self.sid.encode()])
        raw = raw_exchange(self.port, request)
        self.assertEqual(status_of(raw), 400, raw)


class TraceModeTests(ServerTestCase):
    """ --trace logs every message; it must not change what clients get. """

    settings = {"trace": True}

    def test_trace_logs_messages_in_and_out(self):
        with self.assertLogs("mcp_weather", "INFO") as logs:
            sid = self.initialize()
            self.rpc("ping", None, sid, "traced")
            wait_for(lambda: any('"id":"traced","result"' in line
                                 for line in logs.output))
        self.assertTrue(any('"id":"traced","method":"ping"' in line
                            for line in logs.output), logs.output)

    def test_trace_mode_survives_deep_nesting(self):
        """ A body nested just below the parser's limit is traced without
        killing the request (on CPython 3.7-3.11 encoding it for the log
        used to raise RecursionError and drop the connection; fixed in
        de0b37e). """
        sid = self.initialize()
        sweep_nesting(self, lambda b: self.post(b, {
            "Mcp-Session-Id": sid, "MCP-Protocol-Version": LATEST}))


###############################################################################
# Tests: security defaults (S2-S7, B-16) #####################################
###############################################################################

class HostOriginTests(ServerTestCase):
    """ DNS-rebinding protection on a loopback bind (S2, S3, S6). """

    PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}

    def test_foreign_host_is_403(self):
        with self.assertLogs("mcp_weather", "WARNING") as logs:
            reply = self.post(initialize_message(),
                              {"Host": "evil.example.com"})
        self.assertRPCError(reply, 403, -32600)
        self.assertTrue(any("evil.example.com" in line
                            for line in logs.output), logs.output)
        for host in ("evil.example.com:%d" % self.port, "10.0.0.1",
                     "localhost.evil.example.com", "127.0.0.1.nip.io"):
            with self.subTest(host=host):
                self.assertRPCError(self.post(initialize_message(),
                                              {"Host": host}), 403, -32600)

    def test_loopback_hosts_are_fine(self):
        for host in ("localhost", "localhost:%d" % self.port,
                     "127.0.0.1:%d" % self.port, "[::1]:%d" % self.port,
                     "LOCALHOST"):
            with self.subTest(host=host):
                reply = self.post(initialize_message(), {"Host": host})
                self.assertEqual(reply.status, 200, reply.body)

    def test_foreign_origin_is_403(self):
        """ S3: a present, invalid Origin is 403, and the value is
        logged. """
        for origin in ("http://evil.example.com", "null",
                       "http://localhost.evil.example.com",
                       "https://127.0.0.1.evil.example.com"):
            with self.subTest(origin=origin):
                with self.assertLogs("mcp_weather", "WARNING") as logs:
                    reply = self.post(initialize_message(),
                                      {"Origin": origin})
                self.assertRPCError(reply, 403, -32600)
                self.assertIn(origin, "\n".join(logs.output))

    def test_loopback_origins_are_fine(self):
        for origin in ("http://localhost:3000", "http://127.0.0.1:5173",
                       "http://[::1]:8080", "http://localhost"):
            with self.subTest(origin=origin):
                reply = self.post(initialize_message(), {"Origin": origin})
                self.assertEqual(reply.status, 200, reply.body)
                self.assertEqual(reply.headers.get(
                    "Access-Control-Allow-Origin"), origin)

    def test_checks_apply_to_every_method(self):
        sid = self.initialize()
        for method in ("GET", "DELETE", "POST"):
            with self.subTest(method=method):
                reply = self.request(method, json.dumps(self.PING), {
                    "Origin": "http://evil.example.com",
                    "Mcp-Session-Id": sid, "Accept": ACCEPT_BOTH,
                    "Content-Type": "application/json"})
                self.assertEqual(reply.status, 403)
        self.assertEqual(self.rpc("ping", None, sid, 1).status, 200)


class AllowListTests(ServerTestCase):
    """ --allow-origin and --allow-host let listed values in (B-16). """

    settings = {"allow_origin": ("https://app.example.com",),
                "allow_host": ("mcp.example.com",)}

    def test_listed_origin(self):
        reply = self.post(initialize_message(),
                          {"Origin": "https://app.example.com"})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.headers.get("Access-Control-Allow-Origin"),
                         "https://app.example.com")
        for origin in ("https://other.example.com",
                       "http://app.example.com"):
            with self.subTest(origin=origin):
                self.assertRPCError(self.post(initialize_message(),
                                              {"Origin": origin}), 403,
                                    -32600)

    def test_listed_host(self):
        for host in ("mcp.example.com", "mcp.example.com:443"):
            with self.subTest(host=host):
                reply = self.post(initialize_message(), {"Host": host})
                self.assertEqual(reply.status, 200, reply.body)
        self.assertRPCError(self.post(initialize_message(),
                                      {"Host": "evil.example.com"}), 403,
                            -32600)
        self.assertEqual(self.post(initialize_message()).status, 200)


class TokenTests(ServerTestCase):
    """ --token: Authorization: Bearer on every request (S5, S7, S70). """

    settings = {"token": ("s3cret",)}
    AUTH = {"Authorization": "Bearer s3cret"}

    def test_missing_or_wrong_token_is_401(self):
        for value in (None, "Bearer wrong", "Bearer", "Basic czNjcmV0",
                      "s3cret", "Bearer s3cret2", "Bearer s3cre"):
            with self.subTest(authorization=value):
                before = len(self.dispatcher.sessions)
                reply = self.post(initialize_message(),
                                  {"Authorization": value})
                self.assertRPCError(reply, 401, -32600)
                self.assertTrue(reply.headers.get(
                    "WWW-Authenticate").startswith("Bearer"))
                self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
                self.assertEqual(len(self.dispatcher.sessions), before)

    def test_right_token_works(self):
        for value in ("Bearer s3cret", "bearer s3cret"):
            with self.subTest(authorization=value):
                sid = self.initialize(headers={"Authorization": value})
                reply = self.call_tool("get_weather", {"city": "Hangzhou"},
                                       sid, headers={"Authorization": value})
                self.assertEqual(reply.status, 200)
                self.assertIn("result", self.result_of(reply))

    def test_token_checked_before_session(self):
        """ No token and no session: 401, not 400. """
        sid = self.initialize(headers=self.AUTH)
        self.assertEqual(self.rpc("ping").status, 401)
        self.assertEqual(self.rpc("ping", None, sid).status, 401)
        self.assertEqual(self.request("DELETE", None, {
            "Mcp-Session-Id": sid}).status, 401)
        self.assertEqual(self.rpc("ping", None, sid, headers=self.AUTH
                                  ).status, 200)


class TwoTokenTests(ServerTestCase):
    """ A session is bound to the token that made it (S47). """

    settings = {"token": ("a", "b")}

    def test_session_bound_to_its_token(self):
        sid = self.initialize(headers={"Authorization": "Bearer a"})
        reply = self.rpc("ping", None, sid, 1,
                         headers={"Authorization": "Bearer b"})
        self.assertRPCError(reply, 404, -32600, 1)
        reply = self.request("DELETE", None, {
            "Mcp-Session-Id": sid, "Authorization": "Bearer b"})
        self.assertEqual(reply.status, 404)
        reply = self.rpc("ping", None, sid, 1,
                         headers={"Authorization": "Bearer a"})
        self.assertEqual(reply.status, 200, reply.body)
        other = self.initialize(headers={"Authorization": "Bearer b"})
        self.assertEqual(self.rpc("ping", None, other, 1, headers={
            "Authorization": "Bearer b"}).status, 200)
