"""The 2026-07-28 era on the same endpoint (issue 4, checklist 1.3, 2.8):
per-request _meta instead of a session, its headers and streams, a client
that disconnects, both eras side by side, and InputRequiredResult (S24,
S62, MRTR)."""

import base64
import json
import threading

import mcp_weather
from tests.support import (ACCEPT_SSE, LATEST, TIMEOUT, _Issue6TestCase,
                           _META_CAPS, _META_LOG, _META_VERSION, _MODERN,
                           _PROMPT, _StreamTestCase, _is_method, _messages,
                           _text_of, wait_for)


###############################################################################
# Issue 4: the 2026-07-28 era (checklist 1.3, 2.8) ############################
###############################################################################

class ModernEraTests(_StreamTestCase):
    """ Stateless 2026-07-28 requests: server/discover, tools/list and
    tools/call with resultType, cache hints and serverInfo (S63, S64). """

    def test_server_discover(self):
        """ 4.3, S63, S64: resultType, supportedVersions, capabilities,
        ttlMs, cacheScope, serverInfo in _meta; no session (S52). """
        reply = self.modern("server/discover")
        result = self.assertModernResult(reply)
        self.assertIn(_MODERN, result["supportedVersions"])
        self.assertIn(LATEST, result["supportedVersions"])
        self.assertEqual(result["capabilities"], {
            "tools": {"listChanged": True}, "logging": {},
            "resources": {"listChanged": True, "subscribe": True},
            "prompts": {"listChanged": True}, "completions": {},
            "extensions": {"io.modelcontextprotocol/tasks": {}}})
        self.assertIsInstance(result["ttlMs"], int)
        self.assertGreaterEqual(result["ttlMs"], 0)
        self.assertIn(result["cacheScope"], ("public", "private"))
        self.assertEqual(reply.media_type, "application/json")

    def test_tools_list(self):
        """ 5.1, S63: tools in a deterministic order with ttlMs and
        cacheScope; title and outputSchema are there (2025-06-18+). """
        result = self.assertModernResult(self.modern("tools/list"))
        names = [t["name"] for t in result["tools"]]
        self.assertEqual(names, ["get_weather", "get_forecast",
                                 "get_forecasts"])
        self.assertEqual(result["tools"][0]["title"], "Current weather")
        self.assertIn("outputSchema", result["tools"][0])
        self.assertIsInstance(result["ttlMs"], int)
        self.assertIn(result["cacheScope"], ("public", "private"))
        again = self.assertModernResult(self.modern("tools/list"))
        self.assertEqual(again["tools"], result["tools"])

    def test_tools_call(self):
        """ 5.3: a weather call with resultType and serverInfo; invalid
        arguments are an isError result, not a protocol error. """
        result = self.assertModernResult(self.modern("tools/call", {
            "name": "get_weather", "arguments": {"city": "Hangzhou"}}))
        self.assertNotIn("isError", result)
        self.assertEqual(result["structuredContent"]["temperature"], 4.8)
        for arguments in ({"city": ""}, {}, {"city": "x", "extra": 1}):
            with self.subTest(arguments=arguments):
                bad = self.assertModernResult(self.modern("tools/call", {
                    "name": "get_weather", "arguments": arguments}))
                self.assertIs(bad["isError"], True)
                self.assertIn("Invalid arguments",
                              bad["content"][0]["text"])

    def test_unknown_tool_is_an_error(self):
        """ 5.3: an unknown tool is a -32602 protocol error. """
        reply = self.modern("tools/call", {"name": "nope", "arguments": {}},
                            request_id=5)
        self.assertRPCError(reply, 200, -32602, 5)

    def test_no_session_is_minted_or_needed(self):
        """ S52: modern requests never get Mcp-Session-Id and need none;
        the server holds no session for them. """
        before = len(self.dispatcher.sessions)
        for method in ("server/discover", "tools/list"):
            reply = self.modern(method)
            self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
        self.assertEqual(len(self.dispatcher.sessions), before)

    def test_get_needs_a_legacy_session(self):
        """ S37, 1.3 rule 5: GET belongs to legacy sessions: with modern
        headers and no session it is 400, not a stream. """
        reply = self.get(None, headers={"MCP-Protocol-Version": _MODERN})
        self.assertEqual(reply.status, 400)
        self.assertNotEqual(reply.media_type, "text/event-stream")

    def test_last_event_id_is_ignored(self):
        """ S44: resumption does not exist in 2026-07-28; a POST carrying
        Last-Event-ID is simply served. """
        reply = self.modern("tools/list",
                            headers={"Last-Event-ID": "abc.1.2"})
        self.assertModernResult(reply)


class ModernHeaderTests(_StreamTestCase):
    """ The header rules of 2026-07-28 (S56-S62): 400 with -32020 for a
    missing or mismatching header, -32022 for an unsupported version,
    -32602 for missing _meta, 404 with -32601 for unknown methods. """

    def post_modern(self, message, **overrides):
        return self.post(message, self.modern_headers(message, **overrides))

    def test_missing_protocol_version_header(self):
        """ S56, S57: MCP-Protocol-Version is required. """
        message = self.modern_message("tools/list", request_id=2)
        reply = self.post_modern(message, MCP_Protocol_Version=None)
        self.assertRPCError(reply, 400, -32020, 2)

    def test_protocol_version_header_must_match_meta(self):
        """ S56: header and _meta must agree. """
        for header in (LATEST, "2026-07-29", " "):
            with self.subTest(header=header):
                message = self.modern_message("tools/list", request_id=2)
                reply = self.post_modern(message,
                                         MCP_Protocol_Version=header)
                self.assertRPCError(reply, 400, -32020, 2)

    def test_mcp_method_missing_or_wrong(self):
        """ S58, S59: Mcp-Method is required and must equal method. """
        for value in (None, "tools/call", "TOOLS/LIST", ""):
            with self.subTest(mcp_method=value):
                message = self.modern_message("tools/list", request_id=2)
                reply = self.post_modern(message, Mcp_Method=value)
                self.assertRPCError(reply, 400, -32020, 2)

    def test_mcp_name_missing_or_wrong(self):
        """ S58, S59: tools/call needs Mcp-Name equal to params.name; values
        compare case-sensitively. """
        for value in (None, "get_forecast", "GET_WEATHER", ""):
            with self.subTest(mcp_name=value):
                message = self.modern_message("tools/call", {
                    "name": "get_weather", "arguments": {"city": "Hangzhou"}
                }, request_id=2)
                reply = self.post_modern(message, Mcp_Name=value)
                self.assertRPCError(reply, 400, -32020, 2)
        self.assertEqual(self.upstream.requests, [])

    def test_base64_header_values_are_decoded(self):
        """ S59: =?base64?...?= values are decoded before comparing: a tool
        name and a method sent base64-encoded match; a bad encoding or a
        different name does not. """
        def b64(text):
            return "=?base64?%s?=" % base64.b64encode(
                text.encode("utf-8")).decode("ascii")

        message = self.modern_message("tools/call", {
            "name": "get_weather", "arguments": {"city": "Hangzhou"}})
        reply = self.post_modern(message, Mcp_Name=b64("get_weather"),
                                 Mcp_Method=b64("tools/call"))
        result = self.assertModernResult(reply)
        self.assertNotIn("isError", result)
        for value in (b64("get_forecast"), "=?base64?!!!?=",
                      "=?BASE64?%s?=" % b64("get_weather")[9:-2]):
            with self.subTest(mcp_name=value):
                reply = self.post_modern(message, Mcp_Name=value)
                self.assertRPCError(reply, 400, -32020, 1)

    def test_unsupported_version(self):
        """ 1.3, S56: a version the server does not implement, the same in
        header and _meta, is 400 with -32022, data.supported and
        data.requested. """
        for version in ("2099-01-01", LATEST):
            with self.subTest(version=version):
                message = self.modern_message("tools/list", request_id=4,
                                              **{_META_VERSION: version})
                reply = self.post_modern(message)
                error = self.assertRPCError(reply, 400, -32022, 4)["error"]
                self.assertEqual(error["data"]["requested"], version)
                self.assertIn(_MODERN, error["data"]["supported"])

    def test_missing_client_capabilities(self):
        """ 1.3, IDX26: clientCapabilities is required: 400, -32602. """
        for value in (None, "all", []):
            with self.subTest(capabilities=value):
                message = self.modern_message("tools/list", request_id=6,
                                              **{_META_CAPS: value})
                reply = self.post_modern(message)
                self.assertRPCError(reply, 400, -32602, 6)

    def test_unknown_and_removed_methods_are_404(self):
        """ S61: an unknown method, and the legacy-only ping,
        logging/setLevel and resources/subscribe, are 404 with -32601. """
        for method in ("weather/radar", "ping", "logging/setLevel",
                       "resources/subscribe", "initialize"):
            # initialize too: with 2026 _meta and headers it is routed the
            # stateless way, where it does not exist
            with self.subTest(method=method):
                params = {"level": "debug"} if method.startswith("log") \
                    else None
                message = self.modern_message(method, params, request_id=8)
                sessions = len(self.dispatcher.sessions)
                reply = self.post_modern(message)
                self.assertRPCError(reply, 404, -32601, 8)
                self.assertIsNone(reply.headers.get("Mcp-Session-Id"))
                self.assertEqual(len(self.dispatcher.sessions), sessions)

    def test_invalid_log_level(self):
        """ 6.3 (2026): _meta logLevel must be a known level: 400, -32602. """
        for level in ("verbose", "DEBUG", 3):
            with self.subTest(level=level):
                message = self.modern_message("tools/list", request_id=9,
                                              **{_META_LOG: level})
                reply = self.post_modern(message)
                self.assertRPCError(reply, 400, -32602, 9)


class ModernStreamTests(_StreamTestCase):
    """ 2026-07-28 streams: progress and logs only on the request's own
    stream, logs only when _meta asks for a level (6.3), and closing the
    stream cancels the request (S29). """

    def test_progress_and_logs_on_own_stream(self):
        """ S24, 6.1, 6.3: with progressToken and logLevel info, the stream
        carries progress and the info message (not debug), then the
        result; a GET stream of a legacy session and a concurrent modern
        call get none of it. """
        tool = self.gated(steps=2)
        sid = self.initialize()
        listen = self.open_get(sid)
        listen.until(lambda e: e.get("id"))
        other = self.open_modern("tools/call", {
            "name": tool.name, "arguments": {"tag": "other"},
            "_meta": {"progressToken": "other"}}, request_id=2)
        other.until_message(_is_method("notifications/progress"))
        tool.wait("runs", 1)
        tool.gate.set()
        reply = self.modern("tools/call", {
            "name": tool.name, "arguments": {"tag": "mine"},
            "_meta": {"progressToken": "mine"}}, request_id=1,
            **{_META_LOG: "info"})
        self.assertEqual(reply.media_type, "text/event-stream")
        messages = reply.messages()
        self.assertEqual([m.get("method") for m in messages], [
            "notifications/message", "notifications/progress",
            "notifications/progress", None])
        self.assertEqual(messages[0]["params"]["data"], "info gated mine")
        self.assertEqual([m["params"]["progressToken"]
                          for m in messages[1:3]], ["mine", "mine"])
        self.assertEqual(messages[-1]["result"]["resultType"], "complete")
        # no ids on stateless events: nothing can be resumed (S43, S44)
        self.assertEqual([e["id"] for e in reply.events()],
                         [None] * len(reply.events()))
        rest = other.rest()
        tokens = [m["params"]["progressToken"] for m in _messages(
            other.events) if m.get("method") == "notifications/progress"]
        self.assertEqual(tokens, ["other", "other"])
        self.assertFalse(any(m.get("method") == "notifications/message"
                             for m in _messages(rest)))
        self.add_tool("marker2", "A marker.", lambda a, c: "ok")
        listen.until_message(_is_method("notifications/tools/list_changed"))
        self.assertEqual([m["method"] for m in _messages(listen.events)],
                         ["notifications/tools/list_changed"])

    def test_no_log_level_no_log_messages(self):
        """ 6.3 (2026): without _meta logLevel the server MUST NOT send
        notifications/message; with no progressToken either, the answer is
        plain JSON. """
        tool = self.gated(steps=2)
        tool.gate.set()
        reply = self.modern("tools/call", {"name": tool.name,
                                           "arguments": {}})
        self.assertEqual(reply.media_type, "application/json", reply.body)
        self.assertModernResult(reply)
        reply = self.modern("tools/call", {
            "name": tool.name, "arguments": {},
            "_meta": {"progressToken": 5}})
        methods = [m.get("method") for m in reply.messages()]
        self.assertEqual(methods, ["notifications/progress"] * 2 + [None])

    def test_weather_call_logs_at_debug(self):
        """ 6.3 (2026): _meta logLevel debug shows the upstream URLs. """
        reply = self.modern("tools/call", {
            "name": "get_weather", "arguments": {"city": "Hangzhou"}},
            **{_META_LOG: "debug"})
        logs = [m["params"] for m in reply.messages()
                if m.get("method") == "notifications/message"]
        urls = [p["data"] for p in logs if p["level"] == "debug"]
        self.assertEqual(len(urls), 2, logs)
        self.assertTrue(urls[0].startswith("GET " +
                                           self.upstream.geocoding_url))
        self.assertTrue(urls[1].startswith("GET " +
                                           self.upstream.forecast_url))

    def test_closing_the_stream_cancels(self):
        """ S29: when the client closes the response stream, the call sees
        call.cancelled within a deadline, whether the answer was an SSE
        stream (progress sent) or a JSON answer not yet begun. """
        tool = self.gated()
        for meta in ({"progressToken": "p"}, {}):
            with self.subTest(streamed=bool(meta)):
                before_runs, before = tool.runs, tool.cancelled_runs
                call = self.open_modern("tools/call", {
                    "name": tool.name, "arguments": {}, "_meta": meta},
                    request_id=3, wait_head=bool(meta))
                tool.wait("runs", before_runs + 1)
                if meta:
                    call.until_message(_is_method("notifications/progress"))
                call.cut()
                tool.wait("cancelled_runs", before + 1, _PROMPT)
                self.assertEqual(tool.finished_runs, 0)

    # Regression test.  Until 1767a64, a failed write (the client's TCP
    # stack answered with a reset: it closed with unread data, or with
    # SO_LINGER 0) left pump() and deliver() through the OSError without
    # setting the request's Cancellation: the tool ran on, and kept waiting
    # for its upstream, with nobody to answer.
    def test_reset_during_a_write_cancels(self):
        """ S29, B-4: the server is writing a large (8 MiB) progress event
        to a client that reads nothing; the client resets the connection;
        the write fails, and that too must cancel the call. """
        pushed, release = threading.Event(), threading.Event()
        seen = threading.Event()

        def bulky_waiter(arguments, call):
            call.progress(1, 2, "x" * (8 << 20))
            pushed.set()
            while not release.is_set():
                if call.cancelled.wait(0.01):
                    seen.set()
                    return "cancelled"
            return "released"

        self.add_tool("bulky_waiter", "Big event, then waits.", bulky_waiter)
        self.addCleanup(release.set)
        message = self.modern_message("tools/call", {
            "name": "bulky_waiter", "arguments": {},
            "_meta": {"progressToken": "b"}})
        headers = self.modern_headers(message, accept=ACCEPT_SSE)
        headers["Content-Type"] = "application/json"
        call = self.stream("POST", message, headers, receive_buffer=4096)
        self.assertEqual(call.status, 200)
        self.assertTrue(pushed.wait(TIMEOUT))
        call.reset()
        self.assertTrue(seen.wait(_PROMPT), "the call was not cancelled")

    def test_closing_the_stream_abandons_the_upstream_wait(self):
        """ S29, B-4: a 2026-07-28 weather call waiting for a held upstream
        stops when its client closes the stream, as a legacy cancel does
        (CancellationTests.test_cancel_abandons_the_upstream_wait): the
        call's worker is free again while the upstream still has not
        answered. """
        gate = self.upstream.hold("geocoding")
        self.addCleanup(gate.set)
        workers = self.dispatcher.workers
        before = workers.busy
        call = self.open_modern("tools/call", {
            "name": "get_weather", "arguments": {"city": "Hangzhou"},
            "_meta": {"progressToken": "p"}})
        call.until_message(_is_method("notifications/progress"))
        self.upstream.wait_requests(1, "geocoding")
        self.assertEqual(workers.busy, before + 1)    # the call
        call.cut()
        wait_for(lambda: workers.busy == before, _PROMPT,
                 message="the call still waits for the upstream")
        self.assertFalse(gate.is_set())


class ModernDisconnectTests(_StreamTestCase):
    """ S29 with keepalive=0.1: while a 2026-07-28 call waits, a keep-alive
    is due at every turn of the server's loop, so the server notices a
    vanished client when it is about to write a keep-alive. """

    settings = {"keepalive": 0.1}

    # Regression test.  In de0b37e, pump() asked peer_gone() before each
    # keep-alive and, if the client was gone, left the loop with `break`
    # before its S29 check, so the request was never cancelled whenever the
    # vanished client was noticed at keep-alive time (every time here).
    # Fixed in 1767a64.
    def test_close_noticed_at_keepalive_cancels(self):
        """ S29: a client that closes its stream cancels the call, also
        when the server notices it at keep-alive time. """
        tool = self.gated()
        call = self.open_modern("tools/call", {
            "name": tool.name, "arguments": {},
            "_meta": {"progressToken": "w"}})
        call.until_message(_is_method("notifications/progress"))
        call.cut()
        tool.wait("cancelled_runs", 1, _PROMPT)
        self.assertEqual(tool.finished_runs, 0)


class DualEraTests(_StreamTestCase):
    """ One endpoint, both eras (checklist 1.3): the routing rules. """

    def test_both_eras_interleaved(self):
        """ 1.3: a legacy session and stateless modern requests take turns
        on one server; each gets its own behaviour. """
        sid = self.initialize()
        modern = self.assertModernResult(self.modern("server/discover"))
        self.assertIn("supportedVersions", modern)
        legacy = self.result_of(self.rpc("tools/list", {}, sid))["result"]
        self.assertNotIn("resultType", legacy)
        self.assertNotIn("ttlMs", legacy)
        self.assertEqual(self.set_level(sid).status, 200)
        result = self.assertModernResult(self.modern("tools/call", {
            "name": "get_weather", "arguments": {"city": "Hangzhou"}}))
        self.assertEqual(result["structuredContent"]["temperature"], 4.8)
        # the legacy session's log level does not reach modern requests
        reply = self.modern("tools/call", {
            "name": "get_weather", "arguments": {"city": "Hangzhou"}})
        self.assertEqual(reply.media_type, "application/json")
        legacy_call = self.call_tool("get_weather", {"city": "Hangzhou"},
                                     sid)
        self.assertEqual(legacy_call.media_type, "text/event-stream")
        response = self.result_of(legacy_call, 7)
        self.assertNotIn("resultType", response["result"])
        self.assertNotIn("_meta", response["result"])
        self.assertEqual(self.rpc("ping", None, sid).json()["result"], {})
        self.assertModernResult(self.modern("tools/list"))
        # the legacy-only methods stay legacy-only
        self.assertRPCError(self.modern("ping", request_id=3), 404, -32601,
                            3)

    def set_level(self, sid):
        return self.rpc("logging/setLevel", {"level": "debug"}, sid)

    def test_modern_request_with_stale_session_id(self):
        """ S52, 1.3 rule 3: a modern request whose Mcp-Session-Id names no
        live session (here: one deleted) is served statelessly. """
        sid = self.initialize()
        deleted = self.request("DELETE", None, self.headers_for(sid))
        self.assertIn(deleted.status, (200, 204))
        for stale in (sid, "nonode.bm90LWEtc2Vzc2lvbg"):
            with self.subTest(session=stale):
                reply = self.modern("server/discover",
                                    headers={"Mcp-Session-Id": stale})
                self.assertModernResult(reply)

    def test_modern_request_with_live_session_goes_legacy(self):
        """ 1.3 rule 1: a live legacy session id wins: the request is served
        the 2025 way (no resultType, no cache hints; server/discover is
        not a legacy method, -32601 in a 200). """
        sid = self.initialize()
        session = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": LATEST}
        reply = self.modern("tools/list", headers=session)
        self.assertEqual(reply.status, 200, reply.body)
        result = self.result_of(reply, 1)["result"]
        self.assertNotIn("resultType", result)
        self.assertNotIn("ttlMs", result)
        self.assertNotIn("_meta", result)
        reply = self.modern("server/discover", request_id=2, headers=session)
        self.assertRPCError(reply, 200, -32601, 2)
        # the modern era's own header is not a legacy version (S55)
        reply = self.modern("tools/list", request_id=3,
                            headers={"Mcp-Session-Id": sid})
        self.assertRPCError(reply, 400, -32600, 3)
        self.assertEqual(reply.json()["error"]["data"]["requested"], _MODERN)


###############################################################################
# Issue 6: 2026-07-28, InputRequiredResult (S24, S62, MRTR) ###################
###############################################################################

class InputRequiredTests(_Issue6TestCase):
    """ In 2026-07-28 the same tool code yields an InputRequiredResult; the
    client retries with inputResponses and the sealed requestState. """

    def setUp(self):
        super(InputRequiredTests, self).setUp()

        def greet(call):
            call.state.setdefault("first_round", True)
            answer = call.elicit("Your name?", {"type": "object"},
                                 key="name")
            return {"hello": answer["content"]["name"],
                    "state": call.state}
        self.asking_tool("greet", greet)

        def two_steps(call):
            first = call.elicit("Step 1", {"type": "object"}, key="a")
            second = call.sample(["Step 2"], 10, key="b")
            return [first["action"], second["content"]["text"]]
        self.asking_tool("two_steps", two_steps)

    def input_required(self, reply):
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.media_type, "application/json")
        result = self.result_of(reply)["result"]
        self.assertEqual(result["resultType"], "input_required")
        self.assertNotIn("content", result)
        self.assertIsInstance(result["requestState"], str)
        return result

    def test_two_rounds(self):
        caps = {"elicitation": {}}
        first = self.input_required(self.modern_call("greet", {}, caps))
        self.assertEqual(first["inputRequests"], {"name": {
            "method": "elicitation/create",
            "params": {"message": "Your name?",
                       "requestedSchema": {"type": "object"}}}})
        reply = self.modern_call("greet", {}, caps, 2, inputResponses={
            "name": {"action": "accept", "content": {"name": "Ada"}},
            "extra": {"ignored": True}},
            requestState=first["requestState"])
        result = self.assertModernResult(reply, 2)
        self.assertEqual(json.loads(_text_of(result)), {
            "hello": "Ada", "state": {"first_round": True}})

    def test_answers_are_carried_across_rounds(self):
        """ Round 3 sends only the answer of round 2; the answer of round 1
        comes back from requestState. """
        caps = {"elicitation": {}, "sampling": {}}
        first = self.input_required(self.modern_call("two_steps", {}, caps))
        self.assertEqual(list(first["inputRequests"]), ["a"])
        second = self.input_required(self.modern_call(
            "two_steps", {}, caps, 2, requestState=first["requestState"],
            inputResponses={"a": {"action": "decline"}}))
        self.assertEqual(list(second["inputRequests"]), ["b"])
        self.assertEqual(second["inputRequests"]["b"]["params"][
            "maxTokens"], 10)
        reply = self.modern_call("two_steps", {}, caps, 3,
                                 requestState=second["requestState"],
                                 inputResponses={"b": {"content": {
                                     "type": "text", "text": "done"}}})
        self.assertEqual(json.loads(_text_of(self.assertModernResult(
            reply, 3))), ["decline", "done"])

    def test_tampered_or_foreign_state_is_32602(self):
        """ requestState is attacker-controlled: an altered one, or one from
        a call with other arguments, fails the integrity check. """
        caps = {"elicitation": {}}
        state = self.input_required(self.modern_call(
            "greet", {}, caps))["requestState"]
        answers = {"name": {"action": "accept", "content": {"name": "X"}}}
        for arguments, sealed in (({}, state[:-2] + "AA"),
                                  ({}, "e30." + state.split(".")[1]),
                                  ({"other": 1}, state), ({}, 42)):
            with self.subTest(sealed=sealed, arguments=arguments):
                reply = self.modern_call("greet", arguments, caps, 5,
                                         inputResponses=answers,
                                         requestState=sealed)
                message = self.assertRPCError(reply, 200, -32602, 5)
                self.assertIn("requestState", message["error"]["message"])

    def test_malformed_input_responses_are_32602(self):
        caps = {"elicitation": {}}
        for responses in (None, [], {"name": 12345},
                          {"name": {"action": "perhaps"}}):
            with self.subTest(responses=responses):
                reply = self.modern_call("greet", {}, caps, 6,
                                         inputResponses=responses)
                self.assertRPCError(reply, 200, -32602, 6)

    def test_missing_client_capability(self):
        """ S62: a tool that requires a capability the request's _meta does
        not declare is refused before it runs: 400, -32021, with
        requiredCapabilities; asking without it is -32021 too. """
        runs = []

        @self.dispatcher.tool("needs_model", "Needs sampling.",
                              {"type": "object"}, requires=["sampling"])
        def needs_model(arguments, call):
            runs.append(1)
            return call.sample(["Hi"], key="q")["content"]["text"]
        self.register(self.dispatcher.tools, "needs_model")
        reply = self.modern_call("needs_model", {}, {"elicitation": {}})
        message = self.assertRPCError(reply, 400, -32021, 1)
        self.assertEqual(message["error"]["data"],
                         {"requiredCapabilities": {"sampling": {}}})
        self.assertEqual(runs, [])
        self.input_required(self.modern_call("needs_model", {},
                                             {"sampling": {}}))
        reply = self.modern_call("greet", {}, {"sampling": {}}, 2)
        self.assertRPCError(reply, 200, -32021, 2)
        sid = self.initialize_with({})          # legacy: a tool error
        result = self.result_of(self.call_tool("needs_model", {}, sid))
        self.assertTrue(result["result"]["isError"])
        self.assertIn("needs the client capability sampling",
                      _text_of(result["result"]))

    def test_only_three_methods_may_ask(self):
        """ MRTR: only tools/call, prompts/get and resources/read may end
        with an InputRequiredResult; elsewhere asking is -32603. """
        def asking_completer(value, context, call):
            return [call.elicit("Which?", {"type": "object"})["action"]]
        key = ("ref/prompt", "weather_report", "city")
        self.addCleanup(self.dispatcher.completers.__setitem__, key,
                        self.dispatcher.completers[key])
        self.dispatcher.completers[key] = asking_completer
        with self.assertLogs("mcp_weather", "ERROR"):
            reply = self.modern("completion/complete", {
                "ref": {"type": "ref/prompt", "name": "weather_report"},
                "argument": {"name": "city", "value": "x"}},
                **{_META_CAPS: {"elicitation": {}}})
        self.assertRPCError(reply, 200, -32603, 1)

    def test_state_secret_is_shared_by_replicas(self):
        """ --state-secret: a requestState sealed by one process is good on
        another with the same secret, and on no other. """
        def dispatcher(secret):
            core = mcp_weather.MCPDispatcher(mcp_weather.Config(
                state_secret=secret))
            core.tool("greet", "Greets.", {"type": "object"})(
                lambda arguments, call: call.elicit(
                    "Name?", {"type": "object"}, key="n")["action"])
            return core

        def call(core, **params):
            sent = []
            message = self.modern_message("tools/call", dict(
                {"name": "greet", "arguments": {}}, **params),
                **{_META_CAPS: {"elicitation": {}}})
            core.handle(message, sent.append, version=_MODERN)
            return sent[-1]
        first = call(dispatcher("s3cret"))["result"]["requestState"]
        answers = {"n": {"action": "accept", "content": {}}}
        twin = call(dispatcher("s3cret"), requestState=first,
                    inputResponses=answers)
        self.assertEqual(_text_of(twin["result"]), "accept")
        stranger = call(dispatcher("other"), requestState=first,
                        inputResponses=answers)
        self.assertEqual(stranger["error"]["code"], -32602)
