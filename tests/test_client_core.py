"""The client mcp_client.py and llm.py (issue 5) against a fake
OpenAI-compatible API and our own server: ask end to end, tools as a model
sees them (B-22, B-23), MCPClient on the wire (checklist section 3),
resumption, timeouts, framings, configuration, tokens and every error a
user may meet."""

import hashlib
import io
import json
import os
import re
import select
import shutil
import sys
import tempfile
import threading
import time
import unittest
import unittest.mock

import llm
import mcp_client
import mcp_weather
from tests.support import (LATEST, SERVER_FILE, ServerProcess, TIMEOUT,
                           _API_KEY, _CHAT_ERROR_401_BODY, _CHAT_FINAL_BODY,
                           _CHAT_STREAM_BODY, _CHAT_TOOL_CALLS_BODY,
                           _ClientTestCase, _FINAL_TEXT, _FakeMCPServer,
                           _GatedTool, _SYSTEM_PROMPT, _chunk, _closed_url,
                           _completion, _own_root_logging, _rpc, _tool_call,
                           wait_for)


###############################################################################
# Issue 5: ask, end to end ####################################################
###############################################################################

class ClientAskTests(_ClientTestCase):
    """ mcp_client.py ask "QUESTION": the model calls tools on the servers,
    several at once and over several rounds, and its answer is printed. """

    QUESTION = "What is the weather in Hangzhou and Berlin?"

    def assertTwoCities(self, stream):
        """ What both ask tests check on the wire: the two tool calls
        reached the upstream with the right cities; the second request to
        the model carries the assistant message with both calls, then one
        role=tool message per call, in the calls' order. """
        names = sorted(r["query"]["name"] for r in self.upstream.of(
            "geocoding"))
        self.assertEqual(names, ["Berlin", "Hangzhou"])
        self.assertEqual(len(self.chat_api.requests), 2)
        for request in self.chat_api.requests:
            self.assertEqual(request["path"], "/v1/chat/completions")
            self.assertEqual(request["headers"]["authorization"],
                             "Bearer " + _API_KEY)
            self.assertEqual(request["body"].get("stream"),
                             True if stream else None)
        first, second = self.chat_api.bodies()
        self.assertEqual(first["model"], "deepseek-chat")
        self.assertEqual(first["messages"], [
            {"role": "system", "content": _SYSTEM_PROMPT},
            {"role": "user", "content": self.QUESTION}])
        self.assertEqual([t["function"]["name"] for t in first["tools"]],
                         ["weather__get_weather", "weather__get_forecast",
                          "weather__get_forecasts"])
        self.assertEqual(second["messages"][:2], first["messages"])
        self.assertEqual(second["messages"][2], {
            "role": "assistant", "content": None, "tool_calls": [
                _tool_call("call_0", "weather__get_weather",
                           city="Hangzhou"),
                _tool_call("call_1", "weather__get_weather",
                           city="Berlin")]})
        results = second["messages"][3:]
        self.assertEqual([(m["role"], m["tool_call_id"]) for m in results],
                         [("tool", "call_0"), ("tool", "call_1")])
        for result in results:
            self.assertIn("overcast, 4.8 °C", result["content"])

    def test_ask_streaming(self):
        """ stream=true, with the sample stream: the tool-call fragments are
        joined by index; both calls run at once (each geocoding request
        waits until both have arrived); the answer's text deltas reach
        stdout as they come (the API holds back the second delta until the
        first is on stdout); progress shows on stderr; exit 0. """
        out = io.StringIO()
        gate = self.upstream.hold("geocoding")
        together = self.release_when(
            lambda: len(self.upstream.of("geocoding")) >= 2, gate)
        head, tail = _FINAL_TEXT[:21], _FINAL_TEXT[21:]
        self.chat_api.stream(_CHAT_STREAM_BODY)
        self.chat_api.stream(
            _chunk({"role": "assistant", "content": head}),
            lambda: wait_for(lambda: head in out.getvalue(),
                             message="the first delta never reached stdout"),
            _chunk({"content": tail}), _chunk({}, "stop"), "data: [DONE]\n\n")
        status, stdout, err = self.run_client(["ask", self.QUESTION],
                                              out=out, stream=True)
        self.assertEqual(status, 0, err)
        self.assertEqual(stdout, _FINAL_TEXT + "\n")
        self.assertEqual(together, [True])
        self.assertEqual(self.chat_api.errors, [])
        self.assertTwoCities(stream=True)
        self.assertIn("[weather__get_weather] 1/3 Finding Berlin", err)
        self.assertIn("[weather__get_weather] 3/3 Done", err)

    def test_ask_without_streaming(self):
        """ stream=false, with the sample answers: the same exchange, no
        "stream" in the requests, the answer on stdout; exit 0. """
        self.chat_api.reply(_CHAT_TOOL_CALLS_BODY)
        self.chat_api.reply(_CHAT_FINAL_BODY)
        status, stdout, err = self.run_client(["ask", self.QUESTION])
        self.assertEqual(status, 0, err)
        self.assertEqual(stdout, _FINAL_TEXT + "\n")
        self.assertTwoCities(stream=False)
        self.assertEqual(self.sleeps, [])

    def test_stream_fragments_are_joined_by_index(self):
        """ llm.py on the wire: fragments of two calls interleaved (the
        second call starts before the first's arguments are complete) are
        joined by index; text deltas reach on_text one by one. """
        def fragment(index, **fields):
            return _chunk({"tool_calls": [dict(fields, index=index)]})
        self.chat_api.stream(
            _chunk({"role": "assistant", "content": "Let me "}),
            _chunk({"content": "check."}),
            fragment(0, id="call_0", type="function", function={
                "name": "weather__get_weather", "arguments": '{"ci'}),
            fragment(1, id="call_1", type="function", function={
                "name": "weather__get_forecast", "arguments": '{"city": '}),
            fragment(0, function={"arguments": 'ty": "Hangzhou"}'}),
            fragment(1, function={"arguments": '"Berlin", "days": 2}'}),
            _chunk({}, "tool_calls"), ": a comment line\n\n",
            "data: [DONE]\n\n")
        model = llm.ChatClient(self.chat_api.base_url, "deepseek-chat",
                               _API_KEY)
        pieces = []
        reply = model.chat([{"role": "user", "content": "Hi"}],
                           stream=True, on_text=pieces.append)
        self.assertEqual(pieces, ["Let me ", "check."])
        self.assertEqual(reply.content, "Let me check.")
        self.assertEqual(reply.finish_reason, "tool_calls")
        self.assertEqual(reply.tool_calls, [
            _tool_call("call_0", "weather__get_weather", city="Hangzhou"),
            _tool_call("call_1", "weather__get_forecast", city="Berlin",
                       days=2)])

    def test_api_that_ignores_stream(self):
        """ An API that answers stream=true with one JSON body: the answer
        is printed all the same. """
        self.chat_api.reply(_completion("Plain."))
        status, stdout, err = self.run_client(["ask", "Hi"], stream=True)
        self.assertEqual(status, 0, err)
        self.assertEqual(stdout, "Plain.\n")
        self.assertIs(self.chat_api.bodies()[0]["stream"], True)

    def test_results_keep_their_tool_call_ids(self):
        """ The calls of one round run concurrently: the server holds the
        first call until it has answered the second, which a client that
        runs them one by one never gets to.  The results still go back in
        the calls' order, each with its own tool_call_id. """
        fake, answered = self.fake_mcp(), []

        def on_call(handler, message):
            text = message["params"]["arguments"]["text"]
            if text == "first":
                try:
                    wait_for(lambda: answered)
                except AssertionError:
                    return handler.send(200, "application/json",
                                        fake.response(message, {
                                            "content": [], "isError": True}))
            fake.echo(handler, message)
            answered.append(text)
        fake.on_call = on_call
        self.chat_api.reply(_completion(calls=[
            _tool_call("call_a", "fake__echo", text="first"),
            _tool_call("call_b", "fake__echo", text="second")]))
        self.chat_api.reply(_completion("Both came back."))
        status, stdout, err = self.run_client(
            ["ask", "Echo twice"], servers={"fake": {"url": fake.url}})
        self.assertEqual(status, 0, err)
        self.assertEqual(stdout, "Both came back.\n")
        results = self.chat_api.bodies()[1]["messages"][3:]
        self.assertEqual(results, [
            {"role": "tool", "tool_call_id": "call_a",
             "content": '{"text": "first"}'},
            {"role": "tool", "tool_call_id": "call_b",
             "content": '{"text": "second"}'}])

    def test_tool_error_goes_back_to_the_model(self):
        """ A tool that fails (isError: no such place) and a tool the model
        made up are both results the model reads, not crashes; it then
        answers and ask exits 0. """
        self.chat_api.reply(_completion(calls=[
            _tool_call("call_0", "weather__get_weather", city="Nowhere"),
            _tool_call("call_1", "weather__make_rain", city="Hangzhou")]))
        self.chat_api.reply(_completion("I could not find Nowhere."))
        status, stdout, err = self.run_client(["ask", "Nowhere?"])
        self.assertEqual(status, 0, err)
        self.assertEqual(stdout, "I could not find Nowhere.\n")
        failed, unknown = self.chat_api.bodies()[1]["messages"][3:]
        self.assertEqual(failed["tool_call_id"], "call_0")
        self.assertIn("No place named 'Nowhere' was found", failed["content"])
        self.assertEqual(unknown["tool_call_id"], "call_1")
        self.assertIn("no tool named 'weather__make_rain'", unknown["content"])
        self.assertIn("[weather__get_weather failed: ", err)
        self.assertNotIn("Traceback", err)

    def test_rounds_are_capped_by_max_tool_rounds(self):
        """ After max_tool_rounds rounds the model is asked without tools;
        if it still calls one, the client says it stopped. """
        call = _completion(calls=[_tool_call("call_0", "weather__get_weather",
                                             city="Hangzhou")])
        self.chat_api.reply(call)
        self.chat_api.reply(call)
        status, stdout, err = self.run_client(["ask", "Loop"],
                                              max_tool_rounds=1)
        self.assertEqual(status, 0, err)
        self.assertIn("(stopped after 1 rounds of tool calls)", stdout)
        first, last = self.chat_api.bodies()
        self.assertIn("tools", first)
        self.assertNotIn("tools", last)
        self.assertEqual(len(_rpc(self.weather.recorded, "tools/call")), 1)


###############################################################################
# Issue 5: tools as a model sees them (B-22, B-23) ############################
###############################################################################

class ClientToolNameTests(_ClientTestCase):
    """ <server>__<tool>, sanitized to ^[a-zA-Z0-9_-]{1,64}$, mapped back
    exactly (field notes B-22). """

    PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

    def test_servers_named_my_weather_and_a_b(self):
        """ Two mcp_weather servers named "my_weather" and "a.b": the model
        sees my_weather__get_weather and a_b__get_weather, and a call to
        each reaches its own server, never the other. """
        other = self.serve()
        servers = {"my_weather": {"url": self.weather.url},
                   "a.b": {"url": other.url}}
        status, stdout, err = self.run_client(["tools"], servers)
        self.assertEqual(status, 0, err)
        self.assertIn("get_weather(city: string)  as my_weather__get_weather",
                      stdout)
        self.assertIn("get_weather(city: string)  as a_b__get_weather",
                      stdout)
        self.chat_api.reply(_completion(calls=[
            _tool_call("call_0", "my_weather__get_weather", city="Hangzhou"),
            _tool_call("call_1", "a_b__get_weather", city="Berlin")]))
        self.chat_api.reply(_completion("Done."))
        status, stdout, err = self.run_client(["ask", "Both?"], servers)
        self.assertEqual(status, 0, err)
        offered = [t["function"]["name"]
                   for t in self.chat_api.bodies()[0]["tools"]]
        self.assertEqual(sorted(offered), [
            "a_b__get_forecast", "a_b__get_forecasts", "a_b__get_weather",
            "my_weather__get_forecast", "my_weather__get_forecasts",
            "my_weather__get_weather"])
        mine = _rpc(self.weather.recorded, "tools/call")
        theirs = _rpc(other.recorded, "tools/call")
        self.assertEqual([m["params"] for m in mine], [
            {"name": "get_weather", "arguments": {"city": "Hangzhou"},
             "_meta": mine[0]["params"]["_meta"]}])
        self.assertEqual([m["params"]["arguments"] for m in theirs],
                         [{"city": "Berlin"}])

    def test_long_names_get_a_hash_within_64(self):
        """ A name over 64 characters keeps its head and ends with a hash
        of the whole name, so tools that differ only at the end stay
        apart. """
        server, head = "s" * 30, "t" * 40
        first = mcp_client.model_tool_name(server, head + "_alpha")
        second = mcp_client.model_tool_name(server, head + "_beta")
        for name in (first, second):
            self.assertRegex(name, self.PATTERN)
            self.assertEqual(len(name), 64)
            self.assertTrue(name.startswith(server + "__" + "t" * 20))
        self.assertNotEqual(first, second)
        digest = hashlib.sha1(("%s__%s_alpha" % (server, head)).encode()
                              ).hexdigest()[:8]
        self.assertTrue(first.endswith("_" + digest), first)
        self.assertEqual(mcp_client.model_tool_name("w", "get_weather"),
                         "w__get_weather")

    def test_names_outside_the_pattern_are_sanitized(self):
        """ Every character outside [a-zA-Z0-9_-] becomes "_". """
        self.assertEqual(mcp_client.model_tool_name("天气 v2", "get.weather"),
                         "___v2__get_weather")
        self.assertEqual(mcp_client.model_tool_name("a.b", "x/y:z"),
                         "a_b__x_y_z")

    def test_collisions_stay_apart_and_map_back(self):
        """ Servers "a.b" and "a_b" both offering get_weather would both be
        a_b__get_weather: the second gets a hash suffix, and each name
        maps back to its own server and the tool's exact name. """
        servers = mcp_client.MultiServerClient({})
        tool = {"name": "get_weather", "inputSchema": {"type": "object"}}
        servers.add_tool("a.b", tool)
        servers.add_tool("a_b", tool)
        servers.add_tool("a_b", {"name": "get.weather",
                                 "inputSchema": {"type": "object"}})
        self.assertEqual(len(servers.tools), 3)
        routes = sorted((t.server, t.tool["name"])
                        for t in servers.tools.values())
        self.assertEqual(routes, [("a.b", "get_weather"),
                                  ("a_b", "get.weather"),
                                  ("a_b", "get_weather")])
        self.assertEqual(servers.tools["a_b__get_weather"].server, "a.b")
        for name in servers.tools:
            self.assertRegex(name, self.PATTERN)


class ClientSchemaTests(_ClientTestCase):
    """ Input schemas fixed for OpenAI-compatible validators; a tool whose
    schema cannot be fixed is left out with a warning (field notes B-23). """

    ODD = {"$schema": "https://json-schema.org/draft/2020-12/schema",
           "type": "object",
           "properties": {"tags": {"type": "array"},
                          "options": {"type": "object"}},
           "required": ["tags"]}
    ODD_FIXED = {"type": "object",
                 "properties": {"tags": {"type": "array", "items": {}},
                                "options": {"type": "object",
                                            "properties": {}}},
                 "required": ["tags"]}

    def test_schemas_are_fixed(self):
        """ $schema stripped at every depth, items added to arrays,
        properties to objects, required limited to known properties; the
        tool's own schema is left untouched. """
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "tags": {"type": "array"},
                "where": {"type": "object", "required": ["city", "zip"],
                          "properties": {"city": {
                              "$schema": "x", "type": "string"}}},
                "either": {"anyOf": [{"type": "array"},
                                     {"type": "null"}]}},
            "required": ["tags", "ghost"]}
        original = json.loads(json.dumps(schema))
        self.assertEqual(mcp_client.model_parameters(schema), {
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {}},
                "where": {"type": "object", "required": ["city"],
                          "properties": {"city": {"type": "string"}}},
                "either": {"anyOf": [{"type": "array", "items": {}},
                                     {"type": "null"}]}},
            "required": ["tags"]})
        self.assertEqual(schema, original)
        self.assertEqual(mcp_client.model_parameters(None),
                         {"type": "object", "properties": {}})
        self.assertEqual(mcp_client.model_parameters({"type": "object"}),
                         {"type": "object", "properties": {}})

    def test_schemas_that_cannot_be_fixed(self):
        for schema in ({"type": "string"}, [], {"type": "object",
                       "properties": {"x": {"type": "tuple"}}},
                       {"type": "object", "properties": {"x": 5}}):
            with self.subTest(schema=schema):
                with self.assertRaises(mcp_client.SchemaProblem):
                    mcp_client.model_parameters(schema)

    def test_unfixable_tool_is_dropped_and_the_rest_work(self):
        """ Over HTTP: "odd" (fixable) is offered fixed, "broken" (a type
        no validator knows) is left out with a warning in `tools` and
        never offered to the model; calls to the rest still work. """
        dispatcher = self.weather.dispatcher
        dispatcher.tool("odd", "Odd but fixable.", self.ODD)(
            lambda arguments, call: json.dumps(arguments, sort_keys=True))
        dispatcher.tool("broken", "Unfixable.", {
            "type": "object", "properties": {"x": {"type": "tuple"}}})(
            lambda arguments, call: "never")
        self.addCleanup(dispatcher.tools.remove, "odd")
        self.addCleanup(dispatcher.tools.remove, "broken")
        status, stdout, err = self.run_client(["tools"])
        self.assertEqual(status, 0, err)
        self.assertIn("odd(tags: array, options?: object)  as weather__odd",
                      stdout)
        self.assertIn("(weather: broken left out: inputSchema.x has unknown "
                      "type 'tuple')", stdout)
        self.assertIn("tool 'broken' left out", err)
        self.chat_api.reply(_completion(calls=[
            _tool_call("call_0", "weather__odd", tags=["a"])]))
        self.chat_api.reply(_completion("Odd."))
        status, stdout, err = self.run_client(["ask", "Odd?"])
        self.assertEqual(status, 0, err)
        tools = dict((t["function"]["name"], t["function"]["parameters"])
                     for t in self.chat_api.bodies()[0]["tools"])
        self.assertEqual(sorted(tools), ["weather__get_forecast",
                                         "weather__get_forecasts",
                                         "weather__get_weather",
                                         "weather__odd"])
        self.assertEqual(tools["weather__odd"], self.ODD_FIXED)
        result = self.chat_api.bodies()[1]["messages"][-1]
        self.assertEqual(result["content"], '{"tags": ["a"]}')


###############################################################################
# Issue 5: MCPClient on the wire (checklist section 3) ########################
###############################################################################

class ClientSessionTests(_ClientTestCase):
    """ Headers on every request, DELETE on close, and a new session after
    a 404 (C2, C9-C12, field notes B-7). """

    def test_headers_on_every_request(self):
        """ C2: every POST accepts JSON and SSE and says it is JSON; C9:
        the session id rides on every request after initialize; C12: so
        does MCP-Protocol-Version, but not on initialize; C11: close()
        DELETEs the session, which the server then no longer has. """
        client = self.client(self.weather.url)
        client.connect()
        session = client.session_id
        self.assertTrue(self.weather.dispatcher.sessions.get(session))
        client.list_tools()
        client.call_tool("get_weather", {"city": "Hangzhou"})
        client.close()
        records = self.weather.recorded
        self.assertEqual(
            [(r["method"], (r["body"] or {}).get("method")) for r in records],
            [("POST", "initialize"), ("POST", "notifications/initialized"),
             ("POST", "tools/list"), ("POST", "tools/call"),
             ("DELETE", None)])
        first = records[0]["headers"]
        self.assertNotIn("mcp-session-id", first)
        self.assertNotIn("mcp-protocol-version", first)
        for record in records:
            headers = record["headers"]
            if record["method"] == "POST":
                self.assertEqual(headers["accept"],
                                 "application/json, text/event-stream")
                self.assertEqual(headers["content-type"], "application/json")
                self.assertIn("content-length", headers)      # B-21
            if record is not records[0]:
                self.assertEqual(headers["mcp-session-id"], session)
                self.assertEqual(headers["mcp-protocol-version"], LATEST)
        self.assertEqual(records[-1]["status"], 204)
        self.assertIsNone(self.weather.dispatcher.sessions.get(session))

    def test_connection_closed_while_idle_is_not_reused(self):
        """ The server closes a kept-alive connection after --idle-timeout
        (a chat user reads an answer for minutes): the next call opens a
        fresh connection instead of failing, and the tool runs once. """
        weather = self.serve(idle_timeout=0.2)
        client = self.client(weather.url)
        client.connect()
        idle = list(client.pool.idle)
        self.assertEqual(len(idle), 1)
        wait_for(lambda: select.select([idle[0].sock], [], [], 0)[0],
                 message="the server never closed the idle connection")
        del weather.recorded[:]
        result = client.call_tool("get_weather", {"city": "Hangzhou"})
        self.assertIn("overcast", mcp_client.result_text(result))
        self.assertEqual([(r["body"] or {}).get("method")
                          for r in weather.recorded], ["tools/call"])

    def test_404_starts_one_new_session_and_retries_once(self):
        """ C10, B-7: the server forgot the session (as after a restart):
        the call gets 404, the client sends one initialize without a
        session id, notifications/initialized, and the call once more,
        which succeeds. """
        client = self.client(self.weather.url)
        client.connect()
        old = client.session_id
        self.weather.dispatcher.sessions.close_all()
        del self.weather.recorded[:]
        result = client.call_tool("get_weather", {"city": "Hangzhou"})
        self.assertIn("overcast", mcp_client.result_text(result))
        records = self.weather.recorded
        self.assertEqual([((r["body"] or {}).get("method"), r["status"],
                           r["headers"].get("mcp-session-id"))
                          for r in records], [
            ("tools/call", 404, old),
            ("initialize", 200, None),
            ("notifications/initialized", 202, client.session_id),
            ("tools/call", 200, client.session_id)])
        self.assertNotEqual(client.session_id, old)

    def test_a_second_404_is_an_error_not_a_loop(self):
        """ C10: a server that answers 404 again after the new initialize
        gets one retry only: the call fails with a clear error. """
        fake = self.fake_mcp()
        fake.on_call = lambda handler, message: handler.send(
            404, "application/json", '{"jsonrpc":"2.0","error":{"code":'
            '-32600,"message":"Session not found"},"id":null}')
        client = self.client(fake.url)
        client.connect()
        with self.assertRaises(mcp_client.SessionExpired) as caught:
            client.call_tool("echo", {"text": "hi"})
        self.assertIn("not found (404)", str(caught.exception))
        self.assertEqual(len(_rpc(fake.requests, "initialize")), 2)
        self.assertEqual(len(_rpc(fake.requests, "tools/call")), 2)

    def test_parallel_calls_share_one_new_session(self):
        """ C10 with the calls of one round running at once: both meet the
        404 together (the server answers them at the same moment), and
        they share one new session, which the server takes 0.2 s to start
        (long enough for a client that does not wait for it to show):
        no second initialize, and no retry sent without a session. """
        fake = self.fake_mcp()
        together = threading.Barrier(2, timeout=TIMEOUT)

        def on_call(handler, message):
            session = handler.request["headers"].get("mcp-session-id")
            if session == "fake-1":
                together.wait()
                return handler.send(404)
            if not session:
                return handler.send(400, "application/json", '{"jsonrpc":'
                                    '"2.0","error":{"code":-32600,'
                                    '"message":"Session required"}}')
            fake.echo(handler, message)
        fake.on_call = on_call
        client = self.client(fake.url)
        client.connect()
        fake.before_initialize = lambda: threading.Event().wait(0.2)
        calls = [self.in_background(client.call_tool, "echo", {"text": text})
                 for text in ("a", "b")]
        for text, outcome in zip("ab", calls):
            self.assertIn("result", outcome(), outcome())
            self.assertEqual(mcp_client.result_text(outcome()["result"]),
                             '{"text": "%s"}' % text)
        self.assertEqual(len(_rpc(fake.requests, "initialize")), 2)
        self.assertEqual([r["headers"].get("mcp-session-id") for r in
                          fake.requests if (r["body"] or {}).get("method")
                          == "tools/call"], ["fake-1"] * 2 + ["fake-2"] * 2)

    @unittest.skipIf(os.name == "nt", "POSIX signals")
    def test_server_restart(self):
        """ B-7 for real: the server process is stopped and a new one
        listens on the same port.  The kept-alive connection is dead and
        the session unknown; the next call still succeeds, after exactly
        one new initialize. """
        argv = [sys.executable, SERVER_FILE, "--port", "0", "--cache-ttl",
                "0", "--geocoding-url", self.upstream.geocoding_url,
                "--forecast-url", self.upstream.forecast_url]
        with ServerProcess(argv) as first:
            client = self.client("http://127.0.0.1:%d/mcp" % first.port)
            client.connect()
            client.call_tool("get_weather", {"city": "Hangzhou"})
            self.assertEqual(first.stop(), 0)
        argv[3] = str(first.port)
        with ServerProcess(argv) as second:
            result = client.call_tool("get_weather", {"city": "Berlin"})
            self.assertIn("overcast", mcp_client.result_text(result))
            self.assertEqual(client.generation, 2)
            client.close()
            self.assertEqual(second.stop(), 0)


class _Clock(object):
    """ The time module as mcp_client sees it, with each sleep() recorded
    in ``sleeps`` (and still slept). """

    def __init__(self):
        self.sleeps = []

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        time.sleep(seconds)


class ClientResumeTests(_ClientTestCase):
    """ A POST stream closed before the response is resumed with GET and
    Last-Event-ID after the server's retry (C5-C7). """

    def test_dropped_stream_is_resumed(self):
        """ The server closes the call's stream after 0.2 s, with the
        priming event (an id, empty data) and retry: 70.  The client waits
        the 70 ms it was told (not its 1 s default), GETs the stream with
        the priming event's id as Last-Event-ID, and gets the result
        there. """
        server = self.serve(sse_poll_after=0.2, sse_retry=70)
        tool = _GatedTool(self, server.dispatcher, steps=1)
        clock = _Clock()
        patcher = unittest.mock.patch.object(mcp_client, "time", clock)
        patcher.start()
        self.addCleanup(patcher.stop)
        lines = []
        client = self.client(server.url, trace=lines.append)
        client.connect()
        outcome = self.in_background(client.call_tool, tool.name,
                                     {"tag": "x"})
        get = wait_for(lambda: [r for r in server.recorded
                                if r["method"] == "GET"])[0]
        tool.gate.set()
        self.assertIn("result", outcome(), outcome())
        self.assertEqual(mcp_client.result_text(outcome()["result"]),
                         "done x")
        self.assertEqual(clock.sleeps[:1], [0.07])
        primed = [line.split("id: ", 1)[1] for line in lines
                  if line.startswith("[weather] < id: ")]
        self.assertEqual(get["headers"]["last-event-id"], primed[0])
        self.assertEqual(get["headers"]["accept"], "text/event-stream")
        self.assertEqual(get["headers"]["mcp-session-id"], client.session_id)
        self.assertEqual(len(_rpc(server.recorded, "tools/call")), 1)


class _Ticker(object):
    """ A tool, registered for one test, that reports progress every
    ``interval`` seconds until it is cancelled; ``cancelled`` is set when
    it was. """

    def __init__(self, test, dispatcher, interval):
        self.interval = interval
        self.cancelled = threading.Event()
        self.stop = threading.Event()
        dispatcher.tool("ticker", "Progress, forever.", {"type": "object"})(
            self.run)
        test.addCleanup(dispatcher.tools.remove, "ticker")
        test.addCleanup(self.stop.set)

    def run(self, arguments, call):
        step, deadline = 0, time.monotonic() + TIMEOUT
        while not call.cancelled.wait(self.interval):
            if self.stop.is_set() or time.monotonic() > deadline:
                raise mcp_weather.ToolError("the test ended first")
            step += 1
            call.progress(step, None, "tick %d" % step)
        self.cancelled.set()
        call.check_cancelled()


class ClientTimeoutTests(_ClientTestCase):
    """ A per-call deadline that progress pushes back, a hard maximum, and
    a cancellation sent when the client gives up (C13, C14, B-14). """

    def cancellations(self):
        return [m["params"] for m in _rpc(self.weather.recorded,
                                          "notifications/cancelled")]

    def test_progress_extends_the_deadline_up_to_max_timeout(self):
        """ C14: a tool reporting progress every 0.35 s outlives a 0.6 s
        timeout, since each notification pushes the deadline back a whole
        timeout, until max_timeout (1.4 s) ends it; the server then gets
        notifications/cancelled for that request (C13) and the tool
        stops. """
        ticker = _Ticker(self, self.weather.dispatcher, 0.35)
        client = self.client(self.weather.url, timeout=0.6, max_timeout=1.4)
        client.connect()
        ticks, started = [], time.monotonic()
        with self.assertRaises(mcp_client.CallTimeout):
            client.call_tool("ticker", {}, lambda *args: ticks.append(args))
        self.assertGreaterEqual(time.monotonic() - started, 1.4)
        self.assertGreaterEqual(len(ticks), 3, ticks)
        self.assertEqual(ticks[0], (1, None, "tick 1"))
        self.assertTrue(ticker.cancelled.wait(TIMEOUT))
        call = _rpc(self.weather.recorded, "tools/call")[0]
        self.assertEqual(self.cancellations(), [
            {"requestId": call["id"], "reason": "timed out"}])

    def test_silent_call_times_out(self):
        """ C14: a call that sends nothing ends after ``timeout``, with a
        cancellation the tool sees; from the command line it is one
        error line and exit 1. """
        tool = _GatedTool(self, self.weather.dispatcher)
        client = self.client(self.weather.url, timeout=0.3)
        client.connect()
        with self.assertRaises(mcp_client.CallTimeout) as caught:
            client.call_tool(tool.name, {})
        self.assertIn("no answer to tools/call within 0.3 s",
                      str(caught.exception))
        tool.wait("cancelled_runs", 1)
        self.assertEqual(self.cancellations()[0]["reason"], "timed out")
        status, stdout, err = self.run_client(
            ["call", "weather", tool.name],
            servers={"weather": {"url": self.weather.url, "timeout": 0.3}})
        self.assertEqual(status, 1)
        self.assertOneErrorLine(err, "no answer to tools/call within 0.3 s")
        tool.wait("cancelled_runs", 2)

    def test_ctrl_c_cancels_the_call(self):
        """ Ctrl-C during a call (here raised by the progress callback):
        the server gets notifications/cancelled, the tool stops, and the
        KeyboardInterrupt goes on to the caller. """
        tool = _GatedTool(self, self.weather.dispatcher)
        client = self.client(self.weather.url)
        client.connect()

        def interrupt(progress, total, message):
            raise KeyboardInterrupt
        with self.assertRaises(KeyboardInterrupt):
            client.call_tool(tool.name, {}, interrupt)
        tool.wait("cancelled_runs", 1)
        call = _rpc(self.weather.recorded, "tools/call")[0]
        self.assertEqual(self.cancellations(), [
            {"requestId": call["id"], "reason": "interrupted by the user"}])
        self.assertEqual(tool.finished_runs, 0)


class ClientFramingTests(_ClientTestCase):
    """ Answers read by their Content-Type (C3), 202 for a request (B-24),
    SSE comments and priming events (C5), and the server's own requests
    on a stream. """

    def call(self, on_call, on_progress=None):
        fake = self.fake_mcp()
        fake.on_call = on_call
        client = self.client(fake.url, timeout=TIMEOUT)
        client.connect()
        return fake, client.call_tool("echo", {"text": "hi"}, on_progress)

    def test_202_for_a_request_is_an_error_at_once(self):
        """ B-24: a request answered with 202 can never get its response:
        an error at once (not a CallTimeout after waiting). """
        with self.assertRaises(mcp_client.TransportError) as caught:
            self.call(lambda handler, message: handler.send(202))
        self.assertNotIsInstance(caught.exception, mcp_client.CallTimeout)
        self.assertIn("HTTP 202 and no body: no response can come",
                      str(caught.exception))

    def test_ndjson_answer(self):
        """ C3: application/x-ndjson, one message per line, blank lines as
        keep-alives: progress is handed on, the response returned. """
        def on_call(handler, message):
            token = message["params"]["_meta"]["progressToken"]
            handler.send(200, "application/x-ndjson", "\n".join([
                json.dumps({"jsonrpc": "2.0", "method":
                            "notifications/progress", "params": {
                                "progressToken": token, "progress": 1,
                                "total": 2, "message": "half"}}),
                "",
                _FakeMCPServer.response(message, {"content": [
                    {"type": "text", "text": "lines"}]}), ""]))
        progress = []
        fake, result = self.call(on_call, lambda *args: progress.append(args))
        self.assertEqual(mcp_client.result_text(result), "lines")
        self.assertEqual(progress, [(1, 2, "half")])

    def test_json_with_a_charset_parameter(self):
        """ C3: the media type is matched without its parameters. """
        def on_call(handler, message):
            handler.send(200, "application/json; charset=utf-8",
                         _FakeMCPServer.response(message, {"content": [
                             {"type": "text", "text": "°C"}]}))
        fake, result = self.call(on_call)
        self.assertEqual(mcp_client.result_text(result), "°C")

    def test_unknown_content_type_is_an_error(self):
        """ C3: anything but JSON, SSE or NDJSON is an error that names the
        content type. """
        with self.assertRaises(mcp_client.TransportError) as caught:
            self.call(lambda handler, message: handler.send(
                200, "text/html", "<html>proxy login</html>"))
        self.assertIn("'text/html', which is not MCP (C3)",
                      str(caught.exception))

    def test_sse_with_a_ping_from_the_server(self):
        """ C5 and lifecycle 4.2: the priming event (empty data) and
        comments are skipped; the server's ping is answered with an empty
        result POSTed under the session, and a request this client cannot
        serve gets -32601, both before the response arrives (the server
        holds the response until it has the ping's answer). """
        fake = self.fake_mcp()

        def answered():
            return [m for m in _rpc(fake.requests, "response")
                    if m.get("id") == "srv-1"]

        def on_call(handler, message):
            handler.send_stream("text/event-stream", [
                "id: s.1.0\nretry: 500\ndata: \n\n",
                ": keep-alive\n\n",
                'event: message\nid: s.1.1\ndata: {"jsonrpc": "2.0", "id": '
                '"srv-1", "method": "ping"}\n\n',
                'event: message\nid: s.1.2\ndata: {"jsonrpc": "2.0", "id": '
                '"srv-2", "method": "sampling/createMessage", "params": '
                '{}}\n\n',
                lambda: wait_for(answered, message="no answer to the ping"),
                "event: message\nid: s.1.3\ndata: %s\n\n"
                % _FakeMCPServer.response(message, {"content": [
                    {"type": "text", "text": "pong"}]})], fake.errors)
        fake.on_call = on_call
        client = self.client(fake.url, timeout=TIMEOUT)
        client.connect()
        result = client.call_tool("echo", {})
        self.assertEqual(mcp_client.result_text(result), "pong")
        self.assertEqual(fake.errors, [])
        replies = dict((r["body"]["id"], r) for r in fake.requests
                       if isinstance(r["body"], dict) and
                       "method" not in r["body"])
        self.assertEqual(replies["srv-1"]["body"],
                         {"jsonrpc": "2.0", "id": "srv-1", "result": {}})
        self.assertEqual(replies["srv-1"]["headers"]["mcp-session-id"],
                         "fake-1")
        self.assertEqual(replies["srv-2"]["body"]["error"]["code"], -32601)


###############################################################################
# Issue 5: configuration, tokens, and every error a user may meet #############
###############################################################################

class ClientConfigTests(_ClientTestCase):
    """ config.json: token_env (C16), headers with ${VAR}, "endpoint" for
    "url"; a configuration error is one line and exit 2. """

    TOKEN = "s3cret-token"

    def test_bearer_token_on_every_request(self):
        """ C16: the token from token_env rides on every request, DELETE
        included; --trace shows the exchange with the value hidden. """
        server = self.serve(token=(self.TOKEN,))
        status, stdout, err = self.run_client(
            ["--trace", "call", "weather", "get_weather", "city=Hangzhou"],
            servers={"weather": {"url": server.url,
                                 "token_env": "WEATHER_TOKEN"}},
            environ={"WEATHER_TOKEN": self.TOKEN})
        self.assertEqual(status, 0, err)
        self.assertIn("overcast", stdout)
        self.assertEqual([r["method"] for r in server.recorded],
                         ["POST"] * 4 + ["DELETE"])
        for record in server.recorded:
            self.assertEqual(record["headers"]["authorization"],
                             "Bearer " + self.TOKEN)
            self.assertLess(record["status"], 300)
        self.assertIn("[weather] > POST %s" % server.url, err)
        self.assertIn(">   Authorization: Bearer ***", err)
        self.assertIn("<   Mcp-Session-Id: ", err)
        self.assertNotIn(self.TOKEN, err)

    def test_refused_token_is_one_clear_line(self):
        """ C16: 401 names the token and repeats the WWW-Authenticate
        challenge, in one line; the server is skipped; exit 1. """
        server = self.serve(token=(self.TOKEN,))
        status, stdout, err = self.run_client(
            ["tools"], servers={"weather": {"url": server.url,
                                            "token_env": "WEATHER_TOKEN"}},
            environ={"WEATHER_TOKEN": "wrong"})
        self.assertEqual(status, 1)
        lines = [line for line in err.splitlines() if "401" in line]
        self.assertEqual(len(lines), 1, err)
        self.assertIn("server 'weather' is unavailable", lines[0])
        self.assertIn("the bearer token was refused", lines[0])
        self.assertIn('WWW-Authenticate: Bearer realm="mcp", '
                      'error="invalid_token"', lines[0])
        self.assertNotIn("Traceback", err)

    def test_missing_token_variable(self):
        status, stdout, err = self.run_client(
            ["tools"], servers={"weather": {"url": self.weather.url,
                                            "token_env": "WEATHER_TOKEN"}},
            environ={})
        self.assertEqual(status, 2)
        self.assertOneErrorLine(err, "server 'weather' needs a token: set "
                                "WEATHER_TOKEN")
        self.assertEqual(self.weather.recorded, [])

    def test_headers_with_variables_and_endpoint(self):
        """ ${VAR} in header values comes from the environment; the
        tutorial's "endpoint" is accepted for "url". """
        status, stdout, err = self.run_client(
            ["call", "weather", "get_weather", "city=Hangzhou"],
            servers={"weather": {"endpoint": self.weather.url, "headers": {
                "X-Team": "${TEAM}-blue", "X-Plain": "as is"}}},
            environ={"TEAM": "red"})
        self.assertEqual(status, 0, err)
        for record in self.weather.recorded:
            self.assertEqual(record["headers"]["x-team"], "red-blue")
            self.assertEqual(record["headers"]["x-plain"], "as is")
        status, stdout, err = self.run_client(
            ["tools"], servers={"weather": {"url": self.weather.url,
                                            "headers": {"X-Team": "${TEAM}"}}},
            environ={})
        self.assertEqual(status, 2)
        self.assertOneErrorLine(err, "uses ${TEAM}, which is not set")

    def test_environment_overrides_the_model_settings(self):
        """ LLM_BASE_URL, LLM_MODEL and LLM_API_KEY win over config.json
        (and over the variable api_key_env names). """
        self.chat_api.reply(_completion("Hi."))
        status, stdout, err = self.run_client(
            ["ask", "Hi"], base_url=_closed_url("/v1"), environ={
                "LLM_BASE_URL": self.chat_api.base_url,
                "LLM_MODEL": "qwen2.5:7b", "LLM_API_KEY": "sk-from-env",
                "DEEPSEEK_API_KEY": _API_KEY})
        self.assertEqual(status, 0, err)
        request = self.chat_api.requests[0]
        self.assertEqual(request["body"]["model"], "qwen2.5:7b")
        self.assertEqual(request["headers"]["authorization"],
                         "Bearer sk-from-env")

    def test_broken_config_files(self):
        """ Unreadable, not JSON, no url, a url without http(s), a host or
        a numeric port: one line each, exit 2, never a traceback. """
        folder = tempfile.mkdtemp(prefix="test_mcp_client.")
        self.addCleanup(shutil.rmtree, folder)
        cases = (("missing.json", None, "cannot read"),
                 ("bad.json", "{", "is not valid JSON"),
                 ("nourl.json", {"mcpServers": {"w": {}}},
                  'has neither "command" nor "url"'),
                 ("scheme.json", {"mcpServers": {"w": {
                     "url": "127.0.0.1:8000/mcp"}}}, "is not http://"),
                 ("host.json", {"mcpServers": {"w": {
                     "url": "http:///mcp"}}}, "is not http://"),
                 ("port.json", {"mcpServers": {"w": {
                     "url": "http://127.0.0.1:80a/mcp"}}}, "is not http://"))
        for name, content, fragment in cases:
            with self.subTest(name=name):
                path = os.path.join(folder, name)
                if content is not None:
                    with open(path, "w") as handle:
                        handle.write(content if isinstance(content, str)
                                     else json.dumps(content))
                err = io.StringIO()
                with _own_root_logging():
                    status = mcp_client.main(
                        ["--config", path, "tools"],
                        mcp_client.Terminal(io.StringIO(), err), {})
                self.assertEqual(status, 2, err.getvalue())
                self.assertOneErrorLine(err.getvalue(), fragment)


class ClientModelErrorTests(_ClientTestCase):
    """ Each error of the issue: one clear line, a non-zero exit, never a
    traceback; retries where a retry may help (llm.py). """

    def test_missing_key_names_the_variable(self):
        status, stdout, err = self.run_client(["ask", "Hi"], environ={})
        self.assertEqual(status, 2)
        self.assertOneErrorLine(err, "set DEEPSEEK_API_KEY")
        self.assertEqual(self.chat_api.requests, [])

    def test_local_model_needs_no_key(self):
        """ api_key_env "" (Ollama, vLLM): no key, no Authorization. """
        self.chat_api.reply(_completion("Hello."))
        status, stdout, err = self.run_client(["ask", "Hi"], environ={},
                                              api_key_env="")
        self.assertEqual(status, 0, err)
        self.assertNotIn("authorization", self.chat_api.requests[0]["headers"])

    def test_wrong_key_shows_the_api_message(self):
        """ 401, the sample body: the API's own message and the variable to
        check, in one line; not retried; exit 1. """
        self.chat_api.reply(_CHAT_ERROR_401_BODY, status=401)
        status, stdout, err = self.run_client(["ask", "Hi"])
        self.assertEqual(status, 1)
        self.assertOneErrorLine(
            err, "the API key was refused", "Incorrect API key provided: "
            "sk-abc***. You can find your API key in your account settings.",
            "check DEEPSEEK_API_KEY")
        self.assertEqual(len(self.chat_api.requests), 1)
        self.assertEqual(self.sleeps, [])
        self.assertNotIn(_API_KEY, err)

    def test_bad_request_shows_the_api_message(self):
        self.chat_api.reply({"error": {
            "message": "This model's maximum context length is 65536 "
                       "tokens.", "type": "invalid_request_error"}},
            status=400)
        status, stdout, err = self.run_client(["ask", "Hi"])
        self.assertEqual(status, 1)
        self.assertOneErrorLine(err, "the request was refused",
                                "maximum context length is 65536 tokens")
        self.assertEqual(len(self.chat_api.requests), 1)

    def test_unreachable_model(self):
        """ Connection refused: retried with doubling waits (1, 2, 4 s,
        recorded instead of slept), then one line; exit 1. """
        status, stdout, err = self.run_client(["ask", "Hi"],
                                              base_url=_closed_url("/v1"))
        self.assertEqual(status, 1)
        self.assertOneErrorLine(err, "cannot reach the model at ")
        self.assertEqual(self.sleeps, [1.0, 2.0, 4.0])

    def test_429_waits_as_told_then_succeeds(self):
        """ 429 with Retry-After: 7: the client waits 7 s (the value handed
        to sleep), says so, sends the same request again, and goes on. """
        self.chat_api.reply({"error": {"message": "Rate limit reached"}},
                            status=429, headers=[("Retry-After", "7")])
        self.chat_api.reply(_completion("Later."))
        status, stdout, err = self.run_client(["ask", "Hi"])
        self.assertEqual(status, 0, err)
        self.assertEqual(stdout, "Later.\n")
        self.assertEqual(self.sleeps, [7.0])
        self.assertIn("retrying in 7.0 s (attempt 1 of 3)", err)
        first, second = self.chat_api.bodies()
        self.assertEqual(first, second)

    def test_500_is_retried(self):
        self.chat_api.reply({"error": {"message": "overloaded"}}, status=500)
        self.chat_api.reply(_completion("Fine."))
        status, stdout, err = self.run_client(["ask", "Hi"])
        self.assertEqual(status, 0, err)
        self.assertEqual(stdout, "Fine.\n")
        self.assertEqual(self.sleeps, [1.0])

    def test_retry_after_values(self):
        self.assertEqual(llm.retry_after("7"), 7.0)
        self.assertEqual(llm.retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
                         0.0)
        self.assertIsNone(llm.retry_after("soon"))
        self.assertIsNone(llm.retry_after(None))

    def test_a_server_that_is_down_is_skipped(self):
        """ One server down: a warning, and the model works with the rest;
        every server down: ask exits 1 before asking the model. """
        servers = {"weather": {"url": self.weather.url},
                   "down": {"url": _closed_url()}}
        self.chat_api.reply(_completion("Fine."))
        status, stdout, err = self.run_client(["ask", "Hi"], servers)
        self.assertEqual(status, 0, err)
        self.assertIn("warning: server 'down' is unavailable, going on "
                      "without it: cannot reach down at ", err)
        offered = [t["function"]["name"]
                   for t in self.chat_api.bodies()[0]["tools"]]
        self.assertEqual(sorted(offered), ["weather__get_forecast",
                                           "weather__get_forecasts",
                                           "weather__get_weather"])
        status, stdout, err = self.run_client(
            ["ask", "Hi"], {"down": {"url": _closed_url()}})
        self.assertEqual(status, 1)
        self.assertOneErrorLine(err, "no MCP server is reachable")
        self.assertEqual(len(self.chat_api.requests), 1)


class ClientCommandTests(_ClientTestCase):
    """ tools, call (arguments typed from the inputSchema, --json, --raw),
    --trace, and exit statuses. """

    TYPED = {"type": "object", "properties": {
        "n": {"type": "integer"}, "flag": {"type": "boolean"},
        "name": {"type": "string"}, "ratio": {"type": "number"}}}

    def typed_tool(self):
        dispatcher = self.weather.dispatcher
        dispatcher.tool("typed", "Says what it got.", self.TYPED)(
            lambda arguments, call: json.dumps(arguments, sort_keys=True))
        self.addCleanup(dispatcher.tools.remove, "typed")

    def test_call_types_arguments_from_the_schema(self):
        """ n=3 is an integer, flag=true a boolean, name=42 a string (the
        schema says so), ratio=0.5 a number. """
        self.typed_tool()
        status, stdout, err = self.run_client(
            ["call", "weather", "typed", "n=3", "flag=true", "name=42",
             "ratio=0.5"])
        self.assertEqual(status, 0, err)
        expected = {"n": 3, "flag": True, "name": "42", "ratio": 0.5}
        self.assertEqual(json.loads(stdout), expected)
        call = _rpc(self.weather.recorded, "tools/call")[0]
        self.assertEqual(call["params"]["arguments"], expected)

    def test_call_argument_errors(self):
        self.typed_tool()
        for argv, fragment in (
                (["n=three"], "n=three: expected integer"),
                (["n"], "argument 'n' is not key=value"),
                (["--json", "[1]"], "--json must be a JSON object"),
                (["--json", "{"], "--json is not valid JSON")):
            with self.subTest(argv=argv):
                status, stdout, err = self.run_client(
                    ["call", "weather", "typed"] + argv)
                self.assertEqual(status, 2)
                self.assertOneErrorLine(err, fragment)

    def test_call_with_json_and_raw(self):
        self.typed_tool()
        status, stdout, err = self.run_client(
            ["call", "weather", "typed", "--json", '{"n": 1, "name": "x"}'])
        self.assertEqual(status, 0, err)
        self.assertEqual(json.loads(stdout), {"n": 1, "name": "x"})
        status, stdout, err = self.run_client(
            ["call", "weather", "get_weather", "city=Hangzhou", "--raw"])
        self.assertEqual(status, 0, err)
        result = json.loads(stdout)
        self.assertEqual(result["structuredContent"]["temperature"], 4.8)
        self.assertEqual(result["content"][0]["type"], "text")

    def test_call_exit_statuses(self):
        """ Unknown tool (lists the available ones) or server: 2; the
        tool's own error: its text on stdout, exit 1; server down: 1. """
        status, stdout, err = self.run_client(["call", "weather", "nope"])
        self.assertEqual(status, 2)
        self.assertOneErrorLine(err, "server 'weather' has no tool 'nope' "
                                "(it has: get_forecast, get_forecasts, "
                                "get_weather)")
        status, stdout, err = self.run_client(["call", "moon", "x"])
        self.assertEqual(status, 2)
        self.assertOneErrorLine(err, "no server named 'moon'")
        status, stdout, err = self.run_client(
            ["call", "weather", "get_weather", "city=Nowhere"])
        self.assertEqual(status, 1)
        self.assertIn("No place named 'Nowhere' was found", stdout)
        status, stdout, err = self.run_client(
            ["call", "weather", "get_weather", "city=Hangzhou"],
            {"weather": {"url": _closed_url()}})
        self.assertEqual(status, 1)
        self.assertOneErrorLine(err, "cannot reach weather at ")

    def test_tools_lists_every_server(self):
        status, stdout, err = self.run_client(["tools"])
        self.assertEqual(status, 0, err)
        lines = stdout.splitlines()
        self.assertEqual(lines[0], "weather  %s  (mcp-weather %s, MCP %s)"
                         % (self.weather.url, mcp_weather.__version__,
                            LATEST))
        self.assertIn("  get_weather(city: string)  as weather__get_weather",
                      lines)
        self.assertIn("  get_forecast(city: string, days?: integer)  as "
                      "weather__get_forecast", lines)

    def test_trace_of_the_model_hides_the_key(self):
        """ --trace shows the model's exchange too, never the key. """
        self.chat_api.reply(_completion("Hi."))
        status, stdout, err = self.run_client(["--trace", "ask", "Hi"])
        self.assertEqual(status, 0, err)
        self.assertIn("[llm] > POST %s/chat/completions"
                      % self.chat_api.base_url, err)
        self.assertIn("[llm] < 200 application/json", err)
        self.assertNotIn(_API_KEY, err)


class ClientChatTests(_ClientTestCase):
    """ The interactive chat on stdin: /tools, /reset, /quit, end of input,
    and errors that are messages, not exits. """

    def test_commands(self):
        self.chat_api.reply(_completion("It is 4.8 °C."))
        self.chat_api.reply(_completion("Fine."))
        status, stdout, err = self.run_client(
            [], stdin="/tools\nHow warm is Hangzhou?\n/reset\nAnd now?\n"
            "/quit\nnever read\n")
        self.assertEqual(status, 0, err)
        self.assertIn("Chatting with deepseek-chat; tools: "
                      "weather__get_forecast, weather__get_forecasts, "
                      "weather__get_weather.", stdout)
        self.assertIn("  weather__get_weather  city: string\n", stdout)
        self.assertIn("AI: It is 4.8 °C.\n", stdout)
        self.assertIn("(conversation cleared)", stdout)
        self.assertIn("AI: Fine.\n", stdout)
        first, second = self.chat_api.bodies()
        self.assertEqual(first["messages"][1:], [
            {"role": "user", "content": "How warm is Hangzhou?"}])
        self.assertEqual(second["messages"], [
            {"role": "system", "content": _SYSTEM_PROMPT},
            {"role": "user", "content": "And now?"}])

    def test_end_of_input_ends_the_chat(self):
        self.chat_api.reply(_completion("Hello."))
        status, stdout, err = self.run_client(["chat"], stdin="Hi\n")
        self.assertEqual(status, 0, err)
        self.assertEqual(len(self.chat_api.requests), 1)
        self.assertTrue(stdout.endswith("You: \n"), stdout)

    def test_errors_are_messages_and_the_turn_is_dropped(self):
        """ A refused request is a message; the chat goes on, and the failed
        question is not sent again with the next one. """
        self.chat_api.reply({"error": {"message": "Content blocked"}},
                            status=400)
        self.chat_api.reply(_completion("Fine."))
        status, stdout, err = self.run_client([], stdin="one\ntwo\n")
        self.assertEqual(status, 0, err)
        self.assertIn("error: the request was refused", err)
        self.assertIn("Content blocked", err)
        self.assertIn("AI: Fine.\n", stdout)
        self.assertEqual(self.chat_api.bodies()[1]["messages"][1:],
                         [{"role": "user", "content": "two"}])
