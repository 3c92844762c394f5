"""The framing of an answer chosen from Accept: JSON, SSE or NDJSON (S17,
S19, S30, S31, checklist 8), and the keep-alive comments of a waiting SSE
stream (B-13, S30)."""

import json

from tests.support import (ACCEPT_BOTH, ACCEPT_JSON, ACCEPT_NDJSON,
                           ACCEPT_SSE, LATEST, ServerTestCase, iter_lines,
                           iter_sse, parse_ndjson, sse_messages,
                           visible_ascii)


###############################################################################
# Tests: framing chosen from Accept (S17, S19, S30, S31, checklist 8) ########
###############################################################################

class FramingTests(ServerTestCase):
    """ One endpoint, three framings, chosen per request from Accept
    (B-9, B-10, B-11), and the exact shape of SSE and NDJSON answers. """

    PROGRESS = {"progressToken": "tok"}

    def call(self, accept, meta=None, version=LATEST, city="Hangzhou"):
        sid = self.initialize(version)
        return self.call_tool("get_weather", {"city": city}, sid,
                              accept=accept, meta=meta)

    def assertSSEHeaders(self, reply):
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.headers.get("Content-Type"),
                         "text/event-stream")
        self.assertEqual(reply.headers.get("Cache-Control"),
                         "no-cache, no-transform")
        self.assertEqual(reply.headers.get("X-Accel-Buffering"), "no")
        self.assertEqual(reply.headers.get("Transfer-Encoding"), "chunked")
        self.assertIsNone(reply.headers.get("Content-Length"))

    def assertJSONAnswer(self, reply):
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.headers.get("Content-Type"),
                         "application/json")
        self.assertTrue(reply.body.endswith(b"\n"))
        message = reply.json()
        self.assertIsInstance(message, dict)
        self.assertEqual(message["id"], 7)
        self.assertIn("result", message)
        return message

    def test_json_only_never_streams(self):
        """ Accept application/json alone: one JSON object even with a
        progressToken; the notifications are dropped, not sent. """
        self.assertJSONAnswer(self.call(ACCEPT_JSON, self.PROGRESS))

    def test_sse_only(self):
        """ Accept text/event-stream alone: SSE even without progress. """
        reply = self.call(ACCEPT_SSE)
        self.assertSSEHeaders(reply)
        messages = reply.messages()
        self.assertEqual([m.get("id") for m in messages], [7])

    def test_both_without_progress_is_json(self):
        """ B-11: JSON unless something must be streamed first. """
        self.assertJSONAnswer(self.call(ACCEPT_BOTH))

    def test_both_with_progress_upgrades_to_sse(self):
        """ B-11: lazy upgrade: a notification before the result switches
        the answer to SSE; progress first, the response last. """
        reply = self.call(ACCEPT_BOTH, self.PROGRESS)
        self.assertSSEHeaders(reply)
        messages = reply.messages()
        self.assertEqual([m.get("method") for m in messages],
                         ["notifications/progress"] * 3 + [None])
        self.assertEqual(messages[-1]["id"], 7)
        self.assertIn("result", messages[-1])

    def test_ndjson(self):
        """ Checklist 8: application/x-ndjson on request: chunked lines,
        the same JSON-RPC messages as SSE, progress first, response last;
        no nonstandard "stream" member. """
        reply = self.call(ACCEPT_NDJSON, self.PROGRESS)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.headers.get("Content-Type"),
                         "application/x-ndjson")
        self.assertEqual(reply.headers.get("Transfer-Encoding"), "chunked")
        self.assertEqual(reply.headers.get("X-Accel-Buffering"), "no")
        self.assertTrue(reply.body.endswith(b"\n"))
        lines = [line for line in reply.body.split(b"\n") if line]
        messages = [json.loads(line.decode("utf-8")) for line in lines]
        self.assertEqual(len(messages), 4)
        for note in messages[:3]:
            self.assertEqual(note["method"], "notifications/progress")
            self.assertEqual(note["params"]["progressToken"], "tok")
        self.assertEqual(messages[-1]["id"], 7)
        self.assertIn("result", messages[-1])
        for message in messages:
            self.assertNotIn("stream", message)
            self.assertEqual(message["jsonrpc"], "2.0")

    def test_ndjson_without_progress(self):
        reply = self.call(ACCEPT_NDJSON)
        self.assertEqual(reply.headers.get("Content-Type"),
                         "application/x-ndjson")
        self.assertEqual([m["id"] for m in parse_ndjson(reply.body)], [7])

    def test_accept_variants(self):
        """ B-9: q-values and wildcards are parsed; 406 only when nothing
        acceptable is offered. """
        cases = [
            ("*/*", "application/json"),
            ("application/*", "application/json"),
            ("text/*", "text/event-stream"),
            ("application/json;q=0, text/event-stream", "text/event-stream"),
            ("application/json, text/event-stream;q=0", "application/json"),
            ("text/event-stream;q=0.1, application/json;q=0.9",
             "application/json"),
            ("application/x-ndjson;q=0, application/json",
             "application/json"),
            ("application/x-ndjson, application/json", "application/x-ndjson"),
            ("APPLICATION/JSON", "application/json"),
            ("text/html, */*;q=0.1", "application/json"),
            (None, "application/json"),
        ]
        for accept, media in cases:
            with self.subTest(accept=accept):
                sid = self.initialize()
                reply = self.post({"jsonrpc": "2.0", "id": 2,
                                   "method": "ping"},
                                  {"Accept": accept, "Mcp-Session-Id": sid})
                self.assertEqual(reply.status, 200, reply.body)
                self.assertEqual(reply.media_type, media)
                self.assertEqual(reply.messages()[-1],
                                 {"jsonrpc": "2.0", "id": 2, "result": {}})

    def test_not_acceptable(self):
        """ 406 when neither JSON, SSE nor NDJSON is acceptable. """
        sid = self.initialize()
        for accept in ("text/html", "application/xml, text/plain",
                       "application/json;q=0, text/event-stream;q=0",
                       "image/*"):
            with self.subTest(accept=accept):
                reply = self.post({"jsonrpc": "2.0", "id": 2,
                                   "method": "ping"},
                                  {"Accept": accept, "Mcp-Session-Id": sid})
                self.assertRPCError(reply, 406, -32600, 2)

    def test_sse_events_2025_11_25(self):
        """ S19, S21, S31, S39: the first event primes (an id, empty data,
        a retry field); every message event has event: message, an id
        unique in the stream, and one data line. """
        reply = self.call(ACCEPT_SSE, self.PROGRESS)
        self.assertSSEHeaders(reply)
        events = reply.events()
        self.assertEqual(len(events), 5, events)
        priming = events[0]
        self.assertEqual(priming["data"], "")
        self.assertTrue(priming["id"])
        self.assertEqual(priming["retry"], 1000)
        for event in events[1:]:
            self.assertEqual(event["event"], "message")
            self.assertTrue(event["id"], event)
            self.assertTrue(visible_ascii(event["id"]), event)
            self.assertEqual(event["data_lines"], 1)
            self.assertIsNone(event["retry"])
        ids = [e["id"] for e in events]
        self.assertEqual(len(set(ids)), len(ids))
        self.assertEqual(events.comments, [])
        last = json.loads(events[-1]["data"])
        self.assertEqual(last["id"], 7)

    def test_event_ids_unique_across_streams(self):
        """ S39: ids are unique across all streams of a session. """
        sid = self.initialize()
        ids = []
        for request_id in (1, 2, 3):
            reply = self.rpc("ping", None, sid, request_id, ACCEPT_SSE)
            ids.extend(e["id"] for e in reply.events())
        self.assertEqual(len(ids), 6)
        self.assertEqual(len(set(ids)), 6)

    def test_no_priming_event_before_2025_11_25(self):
        """ S19 [SDK]: older clients cannot handle empty data: no priming
        event, no retry field. """
        for version in ("2025-06-18", "2025-03-26"):
            with self.subTest(version=version):
                reply = self.call(ACCEPT_SSE, self.PROGRESS, version)
                self.assertSSEHeaders(reply)
                events = reply.events()
                self.assertEqual(len(events), 4, events)
                for event in events:
                    self.assertEqual(event["event"], "message")
                    self.assertTrue(event["id"])
                    self.assertEqual(event["data_lines"], 1)
                    self.assertTrue(event["data"])
                    self.assertIsNone(event["retry"])

    def test_unicode_in_sse_data(self):
        """ Non-ASCII text travels as UTF-8 in one data line. """
        reply = self.call(ACCEPT_SSE, city="São Paulo")
        (event,) = [e for e in reply.events() if e["data"]]
        self.assertEqual(event["data_lines"], 1)
        self.assertIn("4.8 °C", json.loads(event["data"])["result"][
            "content"][0]["text"])

    def test_events_are_written_as_produced(self):
        """ Every event is flushed as it is produced: the first progress
        notifications arrive while the forecast request is still held
        upstream; the response comes once it is released. """
        gate = self.upstream.hold("forecast")
        sid = self.initialize()
        conn, resp = self.open_post(
            {"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": {
                "name": "get_weather", "arguments": {"city": "Hangzhou"},
                "_meta": {"progressToken": "live"}}},
            {"Accept": ACCEPT_SSE, "Mcp-Session-Id": sid,
             "MCP-Protocol-Version": LATEST})
        try:
            self.assertEqual(resp.status, 200)
            seen = []
            events = iter_sse(resp)
            for event in events:
                if event.get("data"):
                    seen.append(json.loads(event["data"]))
                if len(seen) == 2:
                    break
            self.assertEqual([m["params"]["progress"] for m in seen],
                             [1, 2])
            self.upstream.wait_requests(1, "forecast")
            self.assertFalse(gate.is_set())
            gate.set()
            rest = [json.loads(e["data"]) for e in events if e.get("data")]
            self.assertEqual(rest[-1]["id"], 11)
            self.assertEqual(rest[0]["params"]["progress"], 3)
        finally:
            gate.set()
            conn.close()

    def test_ndjson_lines_are_written_as_produced(self):
        gate = self.upstream.hold("geocoding")
        sid = self.initialize()
        conn, resp = self.open_post(
            {"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {
                "name": "get_forecast", "arguments": {"city": "Hangzhou"},
                "_meta": {"progressToken": 5}}},
            {"Accept": ACCEPT_NDJSON, "Mcp-Session-Id": sid})
        try:
            lines = iter_lines(resp)
            first = json.loads(next(lines).decode("utf-8"))
            self.assertEqual(first["params"]["progress"], 1)
            self.upstream.wait_requests(1, "geocoding")
            self.assertEqual(self.upstream.of("forecast"), [])
            gate.set()
            rest = [json.loads(line.decode("utf-8")) for line in lines
                    if line]
            self.assertEqual(len(rest), 3)
            self.assertEqual(rest[-1]["id"], 12)
        finally:
            gate.set()
            conn.close()


class KeepAliveTests(ServerTestCase):
    """ B-13, S30: ':' keep-alive comments every --keepalive seconds while a
    stream waits, so idle proxies do not cut a slow call. """

    settings = {"keepalive": 0.2}

    def slow_call(self, accept, meta=None):
        self.upstream.delay["forecast"] = 1.0
        sid = self.initialize()
        return self.call_tool("get_weather", {"city": "Hangzhou"}, sid,
                              accept=accept, meta=meta)

    def test_sse_keepalive_comments_before_the_result(self):
        reply = self.slow_call(ACCEPT_SSE)
        self.assertEqual(reply.status, 200, reply.body)
        lines = reply.body.decode("utf-8").split("\n")
        comment = [i for i, l in enumerate(lines) if l.startswith(":")]
        result = [i for i, l in enumerate(lines) if '"result"' in l]
        self.assertTrue(comment, reply.body)
        self.assertEqual(len(result), 1)
        self.assertLess(comment[0], result[0])
        events = reply.events()
        self.assertTrue(events.comments)
        self.assertEqual(sse_messages(events)[-1]["id"], 7)

    def test_silent_lazy_answer_upgrades_to_sse(self):
        """ B-13: a client that accepts both gets SSE with keep-alives for
        a call that stays silent longer than --keepalive. """
        reply = self.slow_call(ACCEPT_BOTH)
        self.assertEqual(reply.media_type, "text/event-stream")
        self.assertTrue(reply.events().comments)
        self.assertEqual(reply.messages()[-1]["id"], 7)

    def test_ndjson_keepalive_blank_lines(self):
        reply = self.slow_call(ACCEPT_NDJSON)
        self.assertEqual(reply.media_type, "application/x-ndjson")
        self.assertIn(b"\n\n", b"\n" + reply.body)
        self.assertEqual(parse_ndjson(reply.body)[-1]["id"], 7)

    def test_json_only_waits_quietly(self):
        """ A JSON-only client still gets one JSON object. """
        reply = self.slow_call(ACCEPT_JSON, {"progressToken": 1})
        self.assertEqual(reply.media_type, "application/json")
        self.assertEqual(reply.json()["id"], 7)
