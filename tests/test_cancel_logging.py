"""notifications/cancelled (checklist 6.2) and logging (6.3): a cancelled
call's stream ends promptly; log messages go to the caller's stream at the
level it set."""

import threading

from tests.support import (ACCEPT_SSE, TIMEOUT, _PROMPT, _StreamTestCase,
                           _is_method, _is_response, _messages, _progress)


###############################################################################
# Issue 3: cancellation (checklist 6.2) #######################################
###############################################################################

class CancellationTests(_StreamTestCase):
    """ notifications/cancelled stops an in-flight request: 202 for the
    notification, no response, the stream ends promptly (6.2). """

    def cancel(self, sid, request_id, reason="test"):
        return self.notify("notifications/cancelled",
                           {"requestId": request_id, "reason": reason}, sid)

    def test_cancel_in_flight_call(self):
        """ 6.2: 202 with no body; the tool observes call.cancelled; the
        call's SSE stream ends cleanly without a response. """
        tool = self.gated()
        sid = self.initialize()
        call = self.open_call(sid, tool.name, meta=_progress(),
                              request_id="req-1")
        call.until_message(_is_method("notifications/progress"))
        reply = self.cancel(sid, "req-1")
        self.assertEqual((reply.status, reply.body), (202, b""))
        call.rest(_PROMPT)
        tool.wait("cancelled_runs", 1)
        self.assertEqual(tool.finished_runs, 0)
        self.assertFalse(any(_is_response(m) for m in _messages(call.events)))
        self.assertEqual(self.session_of(sid).inflight, {})

    def test_cancel_abandons_the_upstream_wait(self):
        """ 6.2 (issue 3): a weather call waiting for a held upstream stops
        when cancelled: its stream (which ends only once the call's worker
        has returned) ends while the upstream still has not answered. """
        gate = self.upstream.hold("geocoding")
        self.addCleanup(gate.set)
        sid = self.initialize()
        call = self.open_call(sid, "get_weather", {"city": "Hangzhou"},
                              meta=_progress(), request_id=41)
        call.until_message(_is_method("notifications/progress"))
        self.upstream.wait_requests(1, "geocoding")
        self.assertEqual(self.cancel(sid, 41).status, 202)
        call.rest(_PROMPT)
        self.assertFalse(gate.is_set())
        self.assertFalse(any(_is_response(m) for m in _messages(call.events)))
        self.assertEqual(self.upstream.of("forecast"), [])

    def test_cancel_json_answer(self):
        """ 6.2: a call answered as JSON (no progress, so nothing streamed)
        gets no JSON-RPC response once cancelled: an empty 202. """
        tool = self.gated()
        sid = self.initialize()
        done = {}

        def call():
            done["reply"] = self.call_tool(tool.name, {}, sid,
                                           request_id=55)

        worker = threading.Thread(target=call)
        worker.start()
        self.addCleanup(worker.join, TIMEOUT)
        tool.wait("runs", 1)
        self.assertEqual(self.cancel(sid, 55).status, 202)
        worker.join(_PROMPT)
        self.assertIn("reply", done, "the cancelled call did not end")
        self.assertEqual((done["reply"].status, done["reply"].body),
                         (202, b""))
        tool.wait("cancelled_runs", 1)

    def test_cancel_unknown_id_is_harmless(self):
        """ 6.2: unknown ids, finished ids, ids of another session and
        malformed cancellations are ignored (202); the running call is
        not disturbed and still answers. """
        tool = self.gated()
        sid, other = self.initialize(), self.initialize()
        call = self.open_call(sid, tool.name, meta=_progress(),
                              request_id=8)
        call.until_message(_is_method("notifications/progress"))
        for session, params in ((sid, {"requestId": 12345}),
                                (sid, {"requestId": "8"}),
                                (other, {"requestId": 8}),
                                (sid, {"requestId": None}),
                                (sid, {}),
                                (sid, {"requestId": [8]})):
            with self.subTest(params=params):
                reply = self.notify("notifications/cancelled", params,
                                    session)
                self.assertEqual((reply.status, reply.body), (202, b""))
        tool.gate.set()
        rest = call.rest()
        self.assertEqual(_messages(rest)[-1]["result"]["content"][0]["text"],
                         "done ")
        self.assertEqual(tool.cancelled_runs, 0)
        # a finished id
        self.assertEqual(self.cancel(sid, 8).status, 202)
        self.assertServing()


###############################################################################
# Issue 3: logging (checklist 6.3) ############################################
###############################################################################

class LoggingTests(_StreamTestCase):
    """ logging/setLevel and notifications/message on the call's stream,
    with a Seniverse key that must never show (6.3). """

    KEY = "SK-logging-test-0ddba11"
    settings = {"seniverse_key": KEY, "cache_ttl": 600}

    def set_level(self, sid, level, request_id=3):
        return self.rpc("logging/setLevel", {"level": level}, sid,
                        request_id)

    def logs(self, reply):
        return [m["params"] for m in reply.messages()
                if m.get("method") == "notifications/message"]

    def test_initialize_declares_logging(self):
        """ 6.3: servers that emit logs MUST declare logging. """
        self.initialize()
        self.assertEqual(self.init_result["capabilities"]["logging"], {})

    def test_debug_level_shows_upstream_url_and_cache(self):
        """ 6.3: at debug, a weather call's SSE stream carries the upstream
        URL (debug) with the key redacted, and the cache miss (info);
        the next call for the same city logs a cache hit and no URL. """
        sid = self.initialize()
        reply = self.set_level(sid, "debug")
        self.assertEqual(reply.json(), {"jsonrpc": "2.0", "id": 3,
                                        "result": {}})
        first = self.call_tool("get_weather", {"city": "Debugtown"}, sid)
        self.assertEqual(first.status, 200, first.body)
        self.assertEqual(first.media_type, "text/event-stream")
        logs = dict((p["level"], p) for p in self.logs(first))
        self.assertEqual(len(self.logs(first)), 2, self.logs(first))
        self.assertEqual(sorted(logs), ["debug", "info"])
        self.assertIn("cache miss", logs["info"]["data"])
        self.assertIn("Debugtown", logs["info"]["data"])
        url = logs["debug"]["data"]
        self.assertTrue(url.startswith("GET " + self.upstream.seniverse_url
                                       + "?"), url)
        self.assertIn("key=***", url)
        self.assertIn("location=Debugtown", url)
        for log in logs.values():
            self.assertEqual(log["logger"], "mcp-weather")
        # the key did go upstream, and nowhere else
        (sent,) = self.upstream.of("seniverse")
        self.assertEqual(sent["query"]["key"], self.KEY)
        self.assertNotIn(self.KEY.encode(), first.body)
        self.assertNotIn("error", self.result_of(first, 7))
        second = self.call_tool("get_weather", {"city": "Debugtown"}, sid)
        (hit,) = self.logs(second)          # no upstream URL this time
        self.assertEqual(hit["level"], "info")
        self.assertIn("cache hit", hit["data"])
        self.assertEqual(len(self.upstream.of("seniverse")), 1)

    def test_error_level_hides_debug_and_info(self):
        """ 6.3: only messages at or above the level; at error, none of a
        successful call's messages, so the answer stays JSON. """
        sid = self.initialize()
        self.assertEqual(self.set_level(sid, "error").status, 200)
        reply = self.call_tool("get_weather", {"city": "Errortown"}, sid)
        self.assertEqual(reply.media_type, "application/json", reply.body)
        self.assertEqual(self.logs(reply), [])
        self.assertNotIn("error", self.result_of(reply, 7))
        self.assertEqual(len(self.upstream.of("seniverse")), 1)

    def test_warning_level_shows_a_failing_upstream(self):
        """ 6.3: at warning, a failing upstream is reported (warning),
        without the debug and info messages. """
        sid = self.initialize()
        self.set_level(sid, "warning")
        self.upstream.fail["seniverse"] = 403
        reply = self.call_tool("get_weather", {"city": "Warntown"}, sid)
        logs = self.logs(reply)
        self.assertEqual([p["level"] for p in logs], ["warning"], logs)
        self.assertIn("403", logs[0]["data"])
        self.assertNotIn(self.KEY.encode(), reply.body)
        self.assertIs(self.result_of(reply, 7)["result"]["isError"], True)

    def test_level_is_per_session(self):
        """ 6.3: setLevel changes its own session only. """
        loud, quiet = self.initialize(), self.initialize()
        self.set_level(loud, "debug")
        reply = self.call_tool("get_weather", {"city": "Quietville"}, quiet)
        self.assertEqual(reply.media_type, "application/json")
        self.assertEqual(self.logs(reply), [])

    def test_invalid_level_is_32602(self):
        """ 6.3: an invalid level SHOULD be -32602. """
        sid = self.initialize()
        for level in ("verbose", "DEBUG", "", 3, None, ["debug"]):
            with self.subTest(level=level):
                reply = self.set_level(sid, level, request_id=9)
                self.assertRPCError(reply, 200, -32602, 9)
        reply = self.rpc("logging/setLevel", {}, sid, 10)
        self.assertRPCError(reply, 200, -32602, 10)

    def test_no_set_level_no_messages_and_plain_json(self):
        """ 6.3: without setLevel the server sends no log messages, so a
        client accepting JSON and SSE gets plain JSON (B-11). """
        sid = self.initialize()
        reply = self.call_tool("get_weather", {"city": "Silentburg"}, sid)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.media_type, "application/json", reply.body)
        message = reply.json()
        self.assertEqual(message["id"], 7)
        self.assertNotIn("isError", message["result"])
        # and with SSE forced, still no log messages on the stream
        reply = self.call_tool("get_weather", {"city": "Silentburg"}, sid,
                               accept=ACCEPT_SSE)
        self.assertEqual(reply.media_type, "text/event-stream")
        self.assertEqual(self.logs(reply), [])

    def test_tool_logs_go_on_the_call_stream_not_the_get_stream(self):
        """ 6.3, S23, S34: a log message of a call goes on that call's
        stream; the GET stream gets none of it. """
        tool = self.gated()
        tool.gate.set()
        sid = self.initialize()
        self.set_level(sid, "info")
        listen = self.open_get(sid)
        listen.until(lambda e: e.get("id"))
        reply = self.call_tool(tool.name, {"tag": "x"}, sid)
        self.assertEqual([(p["level"], p["data"]) for p in self.logs(reply)],
                         [("info", "info gated x")])
        # a marker on the GET stream: nothing came before it
        self.add_tool("marker", "A marker.", lambda a, c: "ok")
        listen.until_message(_is_method("notifications/tools/list_changed"))
        self.assertEqual([m["method"] for m in _messages(listen.events)],
                         ["notifications/tools/list_changed"])
