"""Sessions (S45-S52, B-5): Mcp-Session-Id, expiry, the cap on sessions,
and --stateless (B-1, S52) with the tutorial's client."""

import json
import time

from tests.support import (ACCEPT_SSE, LATEST, ServerTestCase,
                           initialize_message, iter_lines, parse_sse,
                           sse_messages, wait_for)


###############################################################################
# Tests: sessions (S45-S52, B-5) #############################################
###############################################################################

class SessionTests(ServerTestCase):
    """ Missing, unknown and deleted session ids; DELETE; default node id. """

    def test_missing_session_id_is_400(self):
        """ S48: 400, with a message naming the header and --stateless. """
        self.initialize()
        for body in ({"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                     {"jsonrpc": "2.0", "id": 1, "method": "ping"},
                     {"jsonrpc": "2.0", "method": "notifications/initialized"},
                     [{"jsonrpc": "2.0", "id": 1, "method": "ping"}]):
            with self.subTest(body=body):
                reply = self.post(body)
                message = self.assertRPCError(
                    reply, 400, -32600,
                    1 if isinstance(body, dict) and "id" in body else None)
                text = message["error"]["message"]
                self.assertIn("Mcp-Session-Id", text)
                self.assertIn("--stateless", text)

    def test_unknown_session_id_is_404(self):
        """ S49: unknown or never-issued ids are 404. """
        sid = self.initialize()
        for bogus in ("nope", sid + "x", sid.split(".")[0] + ".AAAA",
                      sid[:-1]):
            with self.subTest(session=bogus):
                reply = self.rpc("ping", None, bogus, 1)
                message = self.assertRPCError(reply, 404, -32600, 1)
                self.assertIn("initialize", message["error"]["message"])
        for method in ("DELETE", "GET"):
            with self.subTest(method=method):
                reply = self.request(method, None, {
                    "Mcp-Session-Id": "nope", "Accept": ACCEPT_SSE})
                self.assertRPCError(reply, 404, -32600)

    def test_delete_ends_the_session(self):
        """ S50: DELETE is 204; afterwards the id is 404 (S49). """
        sid = self.initialize()
        other = self.initialize()
        before = len(self.dispatcher.sessions)
        reply = self.request("DELETE", None, {"Mcp-Session-Id": sid,
                                              "MCP-Protocol-Version": LATEST})
        self.assertEqual((reply.status, reply.body), (204, b""))
        self.assertEqual(len(self.dispatcher.sessions), before - 1)
        self.assertRPCError(self.rpc("ping", None, sid, 1), 404, -32600, 1)
        reply = self.request("DELETE", None, {"Mcp-Session-Id": sid})
        self.assertEqual(reply.status, 404)
        self.assertEqual(self.rpc("ping", None, other, 1).status, 200)

    def test_delete_without_session_is_400(self):
        self.assertRPCError(self.request("DELETE"), 400, -32600)

    def test_default_node_id(self):
        """ Without --node-id every session id has the same short random
        prefix (B-2). """
        prefixes = set()
        for _ in range(3):
            sid = self.initialize(initialized=False)
            node, dot, rest = sid.partition(".")
            self.assertRegex(node, r"^[A-Za-z0-9_-]{1,32}$")
            self.assertGreaterEqual(len(rest) * 6, 128)
            prefixes.add(node)
        self.assertEqual(len(prefixes), 1)

    def test_initialize_with_a_stale_session_id(self):
        """ S51: initialize carrying an old id starts a new session. """
        old = self.initialize()
        reply = self.post(initialize_message(), {"Mcp-Session-Id": old})
        self.assertEqual(reply.status, 200)
        new = reply.headers.get("Mcp-Session-Id")
        self.assertTrue(new)
        self.assertNotEqual(new, old)

    def test_version_is_fixed_per_session(self):
        """ 1.2: each session keeps the version it negotiated. """
        old = self.initialize("2025-03-26")
        new = self.initialize("2025-11-25")
        reply = self.call_tool("get_weather", {}, old)
        self.assertRPCError(reply, 200, -32602, 7)
        reply = self.call_tool("get_weather", {}, new)
        self.assertIs(self.result_of(reply)["result"]["isError"], True)


class SessionExpiryTests(ServerTestCase):
    """ --session-ttl: an idle session expires and then is 404 (B-5). """

    settings = {"session_ttl": 0.3}

    def test_idle_session_expires(self):
        sid = self.initialize()
        self.assertEqual(self.rpc("ping", None, sid, 1).status, 200)
        last_used = time.monotonic()    # after the server's last_seen
        wait_for(lambda: time.monotonic() - last_used > 0.45, 5)
        reply = self.rpc("ping", None, sid, 1)
        self.assertRPCError(reply, 404, -32600, 1)


class SessionUseTests(ServerTestCase):
    """ --session-ttl counts from the last use: a session in use lives on
    past it (B-5).  Its own class, with a ttl long enough that a busy
    machine's scheduling gap between two pings cannot pass for idleness. """

    settings = {"session_ttl": 1.0}

    def test_use_keeps_a_session_alive(self):
        sid = self.initialize()
        deadline = time.monotonic() + 1.6
        while time.monotonic() < deadline:      # well past the ttl in all
            self.assertEqual(self.rpc("ping", None, sid, 1).status, 200)
            time.sleep(0.05)


class MaxSessionsTests(ServerTestCase):
    """ --max-sessions: the least recently used idle session is evicted
    (B-5). """

    settings = {"max_sessions": 2}

    def test_least_recently_used_is_evicted(self):
        self.dispatcher.sessions.close_all()
        first = self.initialize()
        second = self.initialize()
        self.assertEqual(self.rpc("ping", None, first, 1).status, 200)
        third = self.initialize()
        self.assertEqual(len(self.dispatcher.sessions), 2)
        self.assertRPCError(self.rpc("ping", None, second, 1), 404, -32600,
                            1)
        self.assertEqual(self.rpc("ping", None, first, 1).status, 200)
        self.assertEqual(self.rpc("ping", None, third, 1).status, 200)


    def test_full_of_busy_sessions_is_503_and_mints_nothing(self):
        """ B-5, B-6: when every session is busy (calls in flight), a new
        initialize is 503 with Retry-After and no session is minted; once
        the calls end, initialize works again. """
        self.dispatcher.sessions.close_all()
        gate = self.upstream.hold("geocoding")
        streams = []
        try:
            for _ in range(2):
                sid = self.initialize()
                streams.append(self.open_post(
                    {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": {"name": "get_weather",
                                "arguments": {"city": "Hangzhou"}}},
                    {"Accept": ACCEPT_SSE, "Mcp-Session-Id": sid,
                     "MCP-Protocol-Version": LATEST}))
            self.upstream.wait_requests(2, "geocoding")
            reply = self.post(initialize_message())
            self.assertRPCError(reply, 503, -32603, 0)
            self.assertEqual(reply.headers.get("Retry-After"), "5")
            self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
            self.assertEqual(len(self.dispatcher.sessions), 2)
            gate.set()
            for conn, resp in streams:
                self.assertEqual(sse_messages(parse_sse(resp.read()))[-1][
                    "id"], 1)
        finally:
            gate.set()
            for conn, resp in streams:
                conn.close()
        self.assertTrue(self.initialize())
        self.assertEqual(len(self.dispatcher.sessions), 2)


###############################################################################
# Tests: --stateless (B-1, S52) and the tutorial's client ####################
###############################################################################

class StatelessTests(ServerTestCase):
    """ --stateless: no session ids issued or needed; GET, DELETE 405. """

    settings = {"stateless": True}

    def test_no_session_issued(self):
        reply = self.post(initialize_message())
        self.assertEqual(reply.status, 200, reply.body)
        self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
        self.assertEqual(reply.json()["result"]["protocolVersion"], LATEST)
        self.assertEqual(len(self.dispatcher.sessions), 0)

    def test_requests_without_session(self):
        reply = self.rpc("tools/list", {}, None, 1)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(len(reply.json()["result"]["tools"]), 3)
        reply = self.rpc("ping", None, "made-up-id", 2)
        self.assertEqual(reply.json(), {"jsonrpc": "2.0", "id": 2,
                                        "result": {}})

    def test_get_and_delete_are_405(self):
        for method in ("GET", "DELETE"):
            with self.subTest(method=method):
                reply = self.request(method, None, {"Accept": ACCEPT_SSE})
                self.assertRPCError(reply, 405, -32600)
                self.assertEqual(reply.headers.get("Allow"), "POST")

    def test_version_from_header_or_2025_03_26(self):
        """ S54: without a session the header says the version; absent,
        2025-03-26 is assumed (so invalid arguments are -32602). """
        reply = self.call_tool("get_weather", {}, protocol_version=LATEST)
        self.assertIs(self.result_of(reply)["result"]["isError"], True)
        reply = self.call_tool("get_weather", {}, protocol_version=None)
        self.assertRPCError(reply, 200, -32602, 7)
        reply = self.call_tool("get_weather", {"city": "Hangzhou"},
                               protocol_version="2025-06-18")
        self.assertIn("structuredContent", self.result_of(reply)["result"])
        reply = self.rpc("ping", None, None, 1,
                         protocol_version="2025-05-16")
        self.assertRPCError(reply, 400, -32600, 1)

    def test_progress_streams_without_a_session(self):
        """ B-3: stateless still streams progress on the POST's SSE. """
        reply = self.call_tool("get_weather", {"city": "Hangzhou"},
                               accept=ACCEPT_SSE, meta={"progressToken": 1},
                               protocol_version=LATEST)
        self.assertEqual(reply.media_type, "text/event-stream")
        events = reply.events()
        self.assertEqual([e["event"] for e in events], ["message"] * 4)
        self.assertEqual([m.get("method") for m in sse_messages(events)],
                         ["notifications/progress"] * 3 + [None])

    def test_tutorial_client_flow(self):
        """ Issue 2: the tutorial's client end to end: Accept
        application/json only, protocolVersion "2025-05-16", no
        Mcp-Session-Id, initialized, tools/list, then tools/call read line
        by line (each line is JSON, the last has "result"). """
        accept = {"Accept": "application/json"}
        reply = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                           "params": {"protocolVersion": "2025-05-16",
                                      "capabilities": {}, "clientInfo": {
                                          "name": "Streamable HTTP Client "
                                                  "Demo", "version": "0.1"}}},
                          accept)
        self.assertEqual(reply.status, 200, reply.body)
        result = reply.json()
        self.assertNotIn("error", result)
        self.assertEqual(result["result"]["protocolVersion"], LATEST)
        reply = self.post({"jsonrpc": "2.0",
                           "method": "notifications/initialized"}, accept)
        self.assertTrue(200 <= reply.status < 300)
        self.assertEqual(reply.status, 202)
        self.assertEqual(reply.body, b"")
        reply = self.post({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                           "params": {}}, accept)
        self.assertEqual(reply.status, 200)
        names = [t["name"] for t in reply.json()["result"]["tools"]]
        self.assertIn("get_weather", names)
        conn, resp = self.open_post(
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
             "params": {"name": "get_weather",
                        "arguments": {"city": "Hangzhou"}}}, accept)
        try:
            self.assertEqual(resp.status, 200)
            lines = [json.loads(line.decode("utf-8"))
                     for line in iter_lines(resp) if line]
        finally:
            conn.close()
        self.assertTrue(lines)
        self.assertIn("result", lines[-1])
        self.assertEqual(lines[-1]["id"], 3)
        texts = [item["text"] for item in lines[-1]["result"]["content"]
                 if item["type"] == "text"]
        self.assertIn("Hangzhou", "\n".join(texts))
