"""Resources (6.4) and subscriptions, prompts, completion and content blocks
(5.3, 6.5), capability gating, and the server's requests to the client on
the call's stream (S23): sampling, elicitation, roots, over HTTP and stdio."""

import base64
import json
import os
import select
import subprocess
import sys
import unittest

import mcp_weather
from tests.support import (ACCEPT_BOTH, ACCEPT_JSON, HERE, LATEST, TIMEOUT,
                           _Issue6TestCase, _MODERN, _events_only, _is_method,
                           _is_response, _messages, _text_of,
                           clean_environment, initialize_message, wait_for)


###############################################################################
# Issue 6: resources, prompts, completion, requests to the client ############
###############################################################################

# Resources and templates (6.4), subscriptions, prompts, completion (6.5),
# content blocks (5.3), capabilities only for what is there (4.1), requests
# from the server to the client on the call's SSE stream (S23) with their
# answers POSTed back (202, S15), and their 2026-07-28 replacement, the
# InputRequiredResult (S24, MRTR), with the -32021 check (S62).  Tools that
# ask the client are registered per test; the test plays the client.

EXAMPLES_DIR = os.path.join(HERE, "examples")
_PIXEL = b"\x89PNG\r\n\x1a\n-not-really-a-png"


###############################################################################
# Issue 6: resources (6.4) ####################################################
###############################################################################

class ResourceTests(_Issue6TestCase):
    """ resources/list, resources/templates/list and resources/read: the
    weather templates, and resources a test registers. """

    def test_templates_list_shows_the_weather_templates(self):
        """ 6.4: the weather server's resources are two templates with
        uriTemplate, name, title (2025-06-18 on), description, mimeType. """
        sid = self.initialize()
        result = self.result_of(self.rpc("resources/templates/list", {},
                                         sid))["result"]
        templates = result["resourceTemplates"]
        self.assertEqual([t["uriTemplate"] for t in templates],
                         ["weather://{city}/current",
                          "weather://{city}/forecast"])
        self.assertEqual(templates[0]["name"], "current-weather")
        self.assertEqual(templates[0]["title"], "Current weather")
        self.assertEqual(templates[0]["mimeType"], "text/plain")
        self.assertIn("weather://Hangzhou/current",
                      templates[0]["description"])
        old = self.initialize("2025-03-26")
        listed = self.result_of(self.rpc("resources/templates/list", {},
                                         old))["result"]
        self.assertNotIn("title", listed["resourceTemplates"][0])

    def test_read_current_weather_resource(self):
        """ resources/read of a template URI: one text/plain entry that
        names the URI, with the same line get_weather gives. """
        sid = self.initialize()
        reply = self.rpc("resources/read",
                         {"uri": "weather://Hangzhou/current"}, sid)
        self.assertEqual(reply.status, 200, reply.body)
        contents = self.result_of(reply)["result"]["contents"]
        self.assertEqual(len(contents), 1)
        self.assertEqual(contents[0]["uri"], "weather://Hangzhou/current")
        self.assertEqual(contents[0]["mimeType"], "text/plain")
        self.assertIn("Hangzhou, Zhejiang, China: overcast, 4.8 °C",
                      contents[0]["text"])
        forecast = self.result_of(self.rpc(
            "resources/read", {"uri": "weather://Hangzhou/forecast"},
            sid))["result"]["contents"][0]["text"]
        self.assertTrue(forecast.startswith("3-day forecast for Hangzhou"))

    def test_city_in_uri_is_percent_decoded(self):
        """ RFC 6570 level 1: the variable is percent-decoded before the
        geocoding search sees it. """
        sid = self.initialize()
        reply = self.rpc("resources/read",
                         {"uri": "weather://S%C3%A3o%20Paulo/current"}, sid)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(self.upstream.of("geocoding")[0]["query"]["name"],
                         "São Paulo")

    def test_unknown_uri_is_resource_not_found(self):
        """ SEP-2164 / 7.1: an unknown URI, a city that does not exist, and
        a URI the template does not match are errors (never empty
        contents): -32002 with the URI in data, in a 200. """
        sid = self.initialize()
        for uri in ("weather://Nowhere/current", "file:///etc/passwd",
                    "weather://Hangzhou/radar", "weather:///current"):
            with self.subTest(uri=uri):
                message = self.assertRPCError(self.rpc(
                    "resources/read", {"uri": uri}, sid, 5), 200, -32002, 5)
                self.assertEqual(message["error"]["data"], {"uri": uri})
        self.assertRPCError(self.rpc("resources/read", {}, sid, 6), 200,
                            -32602, 6)

    def test_modern_read_has_cache_hints_and_32602(self):
        """ S63: a 2026-07-28 read carries ttlMs and cacheScope; not found
        is -32602 with the URI (7.1: -32002 is not used any more). """
        reply = self.modern("resources/read",
                            {"uri": "weather://Hangzhou/current"},
                            headers={"Mcp-Name":
                                     "weather://Hangzhou/current"})
        result = self.assertModernResult(reply)
        self.assertEqual(result["ttlMs"], 0)
        self.assertEqual(result["cacheScope"], "private")
        self.assertIn("Hangzhou", result["contents"][0]["text"])
        uri = "weather://Nowhere/current"
        reply = self.modern("resources/read", {"uri": uri}, request_id=2,
                            headers={"Mcp-Name": uri})
        message = self.assertRPCError(reply, 200, -32602, 2)
        self.assertEqual(message["error"]["data"], {"uri": uri})

    def test_fixed_resources_text_blob_and_json(self):
        """ resources/list shows registered fixed resources in order; bytes
        are sent as a base64 blob, a dict as JSON text. """
        @self.dispatcher.resource("test://notes", "notes", title="Notes",
                                  description="Plain notes.",
                                  mime_type="text/plain")
        def notes(arguments, call):
            self.assertEqual(arguments, {})
            return "remember the umbrella"

        @self.dispatcher.resource("test://pixel", "pixel",
                                  mime_type="image/png")
        def pixel(arguments, call):
            return _PIXEL

        @self.dispatcher.resource("test://data", "data")
        def data(arguments, call):
            return {"answer": 42}
        for uri in ("test://notes", "test://pixel", "test://data"):
            self.register(self.dispatcher.resources, uri)
        sid = self.initialize()
        listed = self.result_of(self.rpc("resources/list", {},
                                         sid))["result"]["resources"]
        self.assertEqual(listed[0], {
            "uri": "test://notes", "name": "notes", "title": "Notes",
            "description": "Plain notes.", "mimeType": "text/plain"})
        self.assertEqual([r["uri"] for r in listed],
                         ["test://notes", "test://pixel", "test://data"])
        read = self.result_of(self.rpc("resources/read",
                                       {"uri": "test://pixel"}, sid))
        entry = read["result"]["contents"][0]
        self.assertEqual(base64.b64decode(entry["blob"]), _PIXEL)
        self.assertNotIn("text", entry)
        read = self.result_of(self.rpc("resources/read",
                                       {"uri": "test://data"}, sid))
        entry = read["result"]["contents"][0]
        self.assertEqual(entry["mimeType"], "application/json")
        self.assertEqual(json.loads(entry["text"]), {"answer": 42})

    def test_failing_resource_is_32603_without_traceback(self):
        """ A resource function that breaks is -32603 with a readable
        message; the traceback stays in the server log. """
        @self.dispatcher.resource("test://broken", "broken")
        def broken(arguments, call):
            raise KeyError("secret detail")
        self.register(self.dispatcher.resources, "test://broken")
        sid = self.initialize()
        with self.assertLogs("mcp_weather", "ERROR"):
            reply = self.rpc("resources/read", {"uri": "test://broken"},
                             sid, 4)
        message = self.assertRPCError(reply, 200, -32603, 4)
        self.assertNotIn("secret detail", message["error"]["message"])

    def test_lists_page_with_their_own_cursors(self):
        """ 6.4: prompts/list pages like tools/list; a cursor of another
        list is -32602. """
        self.dispatcher.config.page_size = 1
        self.addCleanup(setattr, self.dispatcher.config, "page_size", 50)
        self.dispatcher.prompt("second_prompt", "Another.")(
            lambda arguments, call: "hi")
        self.register(self.dispatcher.prompts, "second_prompt")
        sid = self.initialize()
        first = self.result_of(self.rpc("prompts/list", {}, sid))["result"]
        self.assertEqual([p["name"] for p in first["prompts"]],
                         ["weather_report"])
        second = self.list_page("prompts/list", first["nextCursor"], sid)
        self.assertEqual([p["name"] for p in second["prompts"]],
                         ["second_prompt"])
        self.assertNotIn("nextCursor", second)
        tools = self.result_of(self.rpc("tools/list", {}, sid))["result"]
        self.assertRPCError(self.rpc("prompts/list", {
            "cursor": tools["nextCursor"]}, sid, 9), 200, -32602, 9)


class ResourceSubscriptionTests(_Issue6TestCase):
    """ resources/subscribe and unsubscribe: notifications/resources/updated
    on the GET stream of the sessions that asked; list_changed for
    resources and prompts. """

    settings = {"keepalive": 0.5}

    def test_updated_reaches_subscribers_until_unsubscribe(self):
        uri = "weather://Hangzhou/current"
        sid, other = self.initialize(), self.initialize()
        reply = self.rpc("resources/subscribe", {"uri": uri}, sid)
        self.assertEqual(self.result_of(reply)["result"], {})
        stream, bystander = self.open_get(sid), self.open_get(other)
        stream.until(lambda e: e.get("data") == "")         # primed
        bystander.until(lambda e: e.get("data") == "")
        self.dispatcher.resource_updated(uri)
        note = stream.until_message(
            _is_method("notifications/resources/updated"))
        self.assertEqual(note["params"], {"uri": uri})
        reply = self.rpc("resources/unsubscribe", {"uri": uri}, sid, 2)
        self.assertEqual(self.result_of(reply)["result"], {})
        self.dispatcher.resource_updated(uri)
        self.dispatcher.prompt("marker_prompt", "A marker.")(
            lambda arguments, call: "marker")
        self.register(self.dispatcher.prompts, "marker_prompt")
        # the next message is the list change: no update after unsubscribe
        nxt = stream.until_message(lambda m: True)
        self.assertEqual(nxt["method"], "notifications/prompts/list_changed")
        # the other session never subscribed: it sees only the list change
        self.assertEqual(bystander.until_message(lambda m: True)["method"],
                         "notifications/prompts/list_changed")

    def test_resource_list_changed(self):
        sid = self.initialize()
        stream = self.open_get(sid)
        stream.until(lambda e: e.get("data") == "")
        self.dispatcher.resource("test://new", "new")(
            lambda arguments, call: "new")
        self.register(self.dispatcher.resources, "test://new")
        note = stream.until_message(lambda m: True)
        self.assertEqual(note, {"jsonrpc": "2.0", "params": {},
                                "method":
                                "notifications/resources/list_changed"})

    def test_subscribe_needs_a_known_uri(self):
        sid = self.initialize()
        self.assertRPCError(self.rpc("resources/subscribe",
                                     {"uri": "test://nothing"}, sid, 3),
                            200, -32002, 3)
        self.assertEqual(self.session_of(sid).subscriptions, set())

    def test_subscriptions_are_bounded(self):
        """ A session cannot grow its subscription set without limit. """
        sid = self.initialize()
        session = self.session_of(sid)
        session.subscriptions.update("weather://c%d/current" % i for i in
                                     range(mcp_weather.MAX_SUBSCRIPTIONS))
        reply = self.rpc("resources/subscribe",
                         {"uri": "weather://Hangzhou/current"}, sid, 4)
        self.assertRPCError(reply, 200, -32602, 4)


class StatelessResourceTests(_Issue6TestCase):
    """ --stateless: no sessions, so no subscriptions (4.1, 7.1). """

    settings = {"stateless": True}

    def test_no_subscribe_capability_or_method(self):
        reply = self.post(initialize_message())
        capabilities = reply.json()["result"]["capabilities"]
        self.assertEqual(capabilities["resources"], {"listChanged": True})
        reply = self.rpc("resources/subscribe",
                         {"uri": "weather://Hangzhou/current"},
                         protocol_version=LATEST)
        self.assertRPCError(reply, 200, -32601, 1)
        reply = self.rpc("resources/read",
                         {"uri": "weather://Hangzhou/current"},
                         protocol_version=LATEST)
        self.assertIn("Hangzhou", self.result_of(reply)["result"][
            "contents"][0]["text"])


class CapabilityGatingTests(unittest.TestCase):
    """ 4.1: a core without resources, prompts or completers declares none
    of them, and their methods do not exist (-32601, 7.1). """

    def handle(self, dispatcher, method, params=None, version=LATEST):
        sent = []
        dispatcher.handle({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": params or {}}, sent.append,
                          version=version)
        return sent[-1]

    def test_bare_core(self):
        dispatcher = mcp_weather.MCPDispatcher(mcp_weather.Config())
        self.assertEqual(dispatcher.capabilities(LATEST),
                         {"tools": {"listChanged": True}, "logging": {}})
        for method in ("resources/list", "resources/read", "prompts/list",
                       "prompts/get", "completion/complete",
                       "resources/subscribe"):
            with self.subTest(method=method):
                answer = self.handle(dispatcher, method, {"uri": "x://y"})
                self.assertEqual(answer["error"]["code"], -32601)

    def test_each_kind_declared_once_registered(self):
        dispatcher = mcp_weather.MCPDispatcher(mcp_weather.Config())
        dispatcher.prompt("p", "A prompt.")(lambda a, c: "hi")
        self.assertEqual(set(dispatcher.capabilities(LATEST)),
                         {"tools", "logging", "prompts"})
        dispatcher.completion("ref/prompt", "p", "x")(lambda v, c, k: [])
        dispatcher.resource_template("t://{a}", "t")(lambda a, c: "t")
        self.assertEqual(dispatcher.capabilities(_MODERN), {
            "tools": {"listChanged": True}, "logging": {},
            "prompts": {"listChanged": True},
            "resources": {"listChanged": True, "subscribe": True},
            "completions": {}})
        with self.assertRaises(ValueError):
            dispatcher.completion("ref/tool", "p", "x")
        with self.assertRaises(ValueError):
            mcp_weather.ResourceTemplate("t://{a}/{a}", "twice", None)


###############################################################################
# Issue 6: prompts, completion and content blocks (5.3, 6.5) ##################
###############################################################################

class PromptTests(_Issue6TestCase):
    """ prompts/list and prompts/get: the weather_report prompt. """

    def test_list_shows_weather_report(self):
        sid = self.initialize()
        prompts = self.result_of(self.rpc("prompts/list", {},
                                          sid))["result"]["prompts"]
        report = [p for p in prompts if p["name"] == "weather_report"][0]
        self.assertEqual(report["title"], "Weather report")
        self.assertEqual(report["arguments"][0]["name"], "city")
        self.assertTrue(report["arguments"][0]["required"])
        self.assertIsInstance(report["description"], str)
        old = self.initialize("2025-03-26")
        prompts = self.result_of(self.rpc("prompts/list", {},
                                          old))["result"]["prompts"]
        self.assertNotIn("title", prompts[0])

    def test_get_embeds_current_weather_and_forecast(self):
        """ The report prompt embeds both resources (their URIs name the
        city) and asks for a report in the units of the data. """
        sid = self.initialize()
        reply = self.rpc("prompts/get", {"name": "weather_report",
                                         "arguments": {"city": "Hangzhou"}},
                         sid)
        messages = self.result_of(reply)["result"]["messages"]
        self.assertEqual([m["role"] for m in messages], ["user"] * 3)
        self.assertEqual([m["content"]["type"] for m in messages],
                         ["resource", "resource", "text"])
        now = messages[0]["content"]["resource"]
        self.assertEqual(now["uri"], "weather://Hangzhou/current")
        self.assertEqual(now["mimeType"], "text/plain")
        self.assertIn("4.8 °C", now["text"])
        self.assertEqual(messages[1]["content"]["resource"]["uri"],
                         "weather://Hangzhou/forecast")
        self.assertIn("Hangzhou, Zhejiang, China", messages[2]["content"][
            "text"])
        self.assertIn("°C", messages[2]["content"]["text"])

    def test_bad_requests_are_32602(self):
        """ Unknown prompt, missing or non-string argument, unknown city. """
        sid = self.initialize()
        cases = [({"name": "no_such_prompt"}, "Unknown prompt"),
                 ({"name": "weather_report"}, "needs argument(s): city"),
                 ({"name": "weather_report", "arguments": {"city": 3}},
                  "object of strings"),
                 ({"name": "weather_report", "arguments": {"city":
                                                           "Nowhere"}},
                  "No place named"),
                 ({"arguments": {}}, "string 'name'")]
        for params, words in cases:
            with self.subTest(params=params):
                message = self.assertRPCError(self.rpc(
                    "prompts/get", params, sid, 3), 200, -32602, 3)
                self.assertIn(words, message["error"]["message"])


class CompletionTests(_Issue6TestCase):
    """ completion/complete (6.5): city names for the prompt and the
    templates, from the geocoding search or the built-in list. """

    def complete(self, sid, value, ref=None, argument="city", **extra):
        params = dict({"ref": ref or {"type": "ref/prompt",
                                      "name": "weather_report"},
                       "argument": {"name": argument, "value": value}},
                      **extra)
        return self.rpc("completion/complete", params, sid, 4)

    def test_geocoding_search_from_three_letters(self):
        sid = self.initialize()
        result = self.result_of(self.complete(sid, "Han"))["result"]
        self.assertEqual(result, {"completion": {
            "values": ["Hangzhou"], "total": 1, "hasMore": False}})
        query = self.upstream.of("geocoding")[0]["query"]
        self.assertEqual((query["name"], query["count"]), ("Han", "10"))
        template = {"type": "ref/resource", "uri": "weather://{city}/current"}
        result = self.result_of(self.complete(sid, "Han", template))
        self.assertEqual(result["result"]["completion"]["values"],
                         ["Hangzhou"])

    def test_short_text_and_failures_use_the_builtin_list(self):
        """ Under three letters, or when the search fails, suggestions come
        from the built-in list; completion never errors for that. """
        sid = self.initialize()
        values = self.result_of(self.complete(sid, "be"))["result"][
            "completion"]["values"]
        self.assertEqual(values, ["Beijing", "Berlin"])
        self.assertEqual(self.upstream.of("geocoding"), [])
        self.upstream.fail["geocoding"] = 500
        with self.assertLogs("mcp_weather", "WARNING"):
            values = self.result_of(self.complete(sid, "Shang"))["result"][
                "completion"]["values"]
        self.assertEqual(values, ["Shanghai"])
        values = self.result_of(self.complete(sid, "杭"))["result"][
            "completion"]["values"]
        self.assertEqual(values, ["杭州"])

    def test_unknown_refs_are_32602_and_unknown_arguments_empty(self):
        sid = self.initialize()
        for ref in ({"type": "ref/prompt", "name": "nope"},
                    {"type": "ref/resource", "uri": "weather://{x}"},
                    {"type": "ref/tool", "name": "get_weather"}, "city"):
            with self.subTest(ref=ref):
                self.assertRPCError(self.complete(sid, "a", ref), 200,
                                    -32602, 4)
        result = self.result_of(self.complete(sid, "a", argument="days"))
        self.assertEqual(result["result"]["completion"]["values"], [])

    def test_at_most_100_values_and_context(self):
        """ 6.5: values are capped at 100, with total and hasMore; the
        completer sees the arguments already chosen (context). """
        seen = []

        @self.dispatcher.prompt("many", "Many values.", ["a", "b"])
        def many(arguments, call):
            return "many"

        @self.dispatcher.completion("ref/prompt", "many", "b")
        def complete_b(value, context, call):
            seen.append(context)
            return ["%s%03d" % (value, i) for i in range(150)]
        self.register(self.dispatcher.prompts, "many")
        self.addCleanup(self.dispatcher.completers.pop,
                        ("ref/prompt", "many", "b"))
        sid = self.initialize()
        reply = self.complete(sid, "x", {"type": "ref/prompt", "name":
                                         "many"}, "b",
                              context={"arguments": {"a": "one"}})
        completion = self.result_of(reply)["result"]["completion"]
        self.assertEqual(len(completion["values"]), 100)
        self.assertEqual(completion["values"][0], "x000")
        self.assertEqual((completion["total"], completion["hasMore"]),
                         (150, True))
        self.assertEqual(seen, [{"a": "one"}])


class ContentBlockTests(_Issue6TestCase):
    """ 5.3: image, audio, embedded resource and resource_link blocks in
    tool results; resource_link is text for 2025-03-26 sessions. """

    def test_content_blocks(self):
        @self.dispatcher.tool("media", "Every kind of block.",
                              {"type": "object"})
        def media(arguments, call):
            return ["caption", mcp_weather.image_content(_PIXEL),
                    mcp_weather.audio_content(b"RIFF", "audio/wav"),
                    mcp_weather.embedded_resource("test://a", "inline",
                                                  "text/plain"),
                    mcp_weather.embedded_resource("test://b", b"\x00\x01"),
                    mcp_weather.resource_link("weather://Hangzhou/current",
                                              "Hangzhou now",
                                              mimeType="text/plain")]
        self.register(self.dispatcher.tools, "media")
        sid = self.initialize()
        content = self.result_of(self.call_tool("media", {}, sid))[
            "result"]["content"]
        self.assertEqual(content[0], {"type": "text", "text": "caption"})
        self.assertEqual(content[1]["type"], "image")
        self.assertEqual(base64.b64decode(content[1]["data"]), _PIXEL)
        self.assertEqual(content[1]["mimeType"], "image/png")
        self.assertEqual(content[2], {"type": "audio", "mimeType":
                                      "audio/wav", "data": "UklGRg=="})
        self.assertEqual(content[3], {"type": "resource", "resource": {
            "uri": "test://a", "mimeType": "text/plain", "text": "inline"}})
        self.assertEqual(content[4]["resource"], {"uri": "test://b",
                                                  "blob": "AAE="})
        self.assertEqual(content[5], {
            "type": "resource_link", "uri": "weather://Hangzhou/current",
            "name": "Hangzhou now", "mimeType": "text/plain"})
        old = self.initialize("2025-03-26")
        content = self.result_of(self.call_tool("media", {}, old))[
            "result"]["content"]
        self.assertEqual(content[5], {
            "type": "text",
            "text": "Hangzhou now: weather://Hangzhou/current"})


###############################################################################
# Issue 6: requests to the client on the call's stream (S23) #################
###############################################################################

class ClientRequestTests(_Issue6TestCase):
    """ sampling/createMessage, elicitation/create and roots/list sent on
    the POST's SSE stream; the client POSTs its answer (202) and the
    waiting tool continues; the result comes on the original stream. """

    def test_sampling_round_trip(self):
        sid = self.initialize_with({"sampling": {}})
        self.asking_tool("ask_model", lambda call: call.sample(
            ["Capital of France?"], 50, temperature=0.2))
        stream = self.open_call(sid, "ask_model")
        self.assertEqual(stream.status, 200)
        self.assertEqual(stream.headers.get("Content-Type"),
                         "text/event-stream")
        request = stream.until_message(_is_method("sampling/createMessage"))
        self.assertIsInstance(request["id"], str)
        self.assertEqual(request["params"], {
            "messages": [{"role": "user", "content": {
                "type": "text", "text": "Capital of France?"}}],
            "maxTokens": 50, "temperature": 0.2})
        sampled = {"role": "assistant", "model": "m", "stopReason":
                   "endTurn", "content": {"type": "text", "text": "Paris"}}
        reply = self.answer(sid, request, sampled)
        self.assertEqual((reply.status, reply.body), (202, b""))
        result = self.result_message(stream)["result"]
        self.assertNotIn("isError", result)
        self.assertEqual(json.loads(_text_of(result)), sampled)
        stream.rest()
        self.assertTrue(stream.ended)
        self.assertEqual(self.session_of(sid).awaited, {})

    def test_elicitation_and_roots_in_one_call(self):
        """ Two requests, one after the other, on the same stream; ids are
        distinct; ask_all returns both answers by key. """
        sid = self.initialize_with({"elicitation": {}, "roots": {}})
        self.asking_tool("ask_both", lambda call: call.ask_all({
            "who": mcp_weather.elicitation_request(
                "Your name?", {"type": "object", "properties": {
                    "name": {"type": "string"}}}),
            "where": ("roots/list", {})}))
        stream = self.open_call(sid, "ask_both")
        first = stream.until_message(_is_method("elicitation/create"))
        self.assertEqual(first["params"]["message"], "Your name?")
        self.assertEqual(self.answer(sid, first, {
            "action": "accept", "content": {"name": "Ada"}}).status, 202)
        second = stream.until_message(_is_method("roots/list"))
        self.assertNotEqual(first["id"], second["id"])
        roots = [{"uri": "file:///home/ada", "name": "home"}]
        self.assertEqual(self.answer(sid, second, {"roots": roots}).status,
                         202)
        result = self.result_message(stream)["result"]
        self.assertEqual(json.loads(_text_of(result)), {
            "who": {"action": "accept", "content": {"name": "Ada"}},
            "where": {"roots": roots}})

    def test_refusal_and_malformed_answers_are_tool_errors(self):
        """ A JSON-RPC error from the client, or a result without what the
        method needs, ends the call with isError saying why. """
        sid = self.initialize_with({"elicitation": {}, "sampling": {}})
        self.asking_tool("ask_person", lambda call: call.elicit(
            "Continue?", {"type": "object"}))
        self.asking_tool("ask_model", lambda call: call.sample(["Hi"]))
        cases = [("ask_model", "sampling/createMessage",
                  {"error": {"code": -1, "message": "User rejected"}},
                  "the client refused sampling/createMessage: "
                  "User rejected"),
                 ("ask_person", "elicitation/create",
                  {"result": {"action": "maybe"}},
                  "has no action accept, decline or cancel")]
        for tool, method, answer, words in cases:
            with self.subTest(tool=tool):
                stream = self.open_call(sid, tool)
                request = stream.until_message(_is_method(method))
                self.answer(sid, request, **answer)
                result = self.result_message(stream)["result"]
                self.assertTrue(result["isError"])
                self.assertIn(words, _text_of(result))

    def test_refused_before_sending(self):
        """ No request goes out when the client did not declare the
        capability (4.1), when the revision lacks the method, or when the
        client reads no event stream (Accept: application/json). """
        self.asking_tool("ask_person", lambda call: call.elicit(
            "Continue?", {"type": "object"}))
        cases = [(self.initialize_with({}), ACCEPT_BOTH,
                  "did not declare the elicitation capability"),
                 (self.initialize_with({"elicitation": {}}, "2025-03-26"),
                  ACCEPT_BOTH, "needs protocol 2025-06-18 or later"),
                 (self.initialize_with({"elicitation": {}}), ACCEPT_JSON,
                  "accepts only JSON answers")]
        for sid, accept, words in cases:
            with self.subTest(words=words):
                reply = self.call_tool("ask_person", {}, sid, accept=accept)
                messages = reply.messages()
                self.assertEqual(len(messages), 1, reply.body)
                result = messages[0]["result"]
                self.assertTrue(result["isError"])
                self.assertIn(words, _text_of(result))

    def test_unknown_and_foreign_answers_are_ignored(self):
        """ An answer to an id nobody waits for gets 202 and is ignored
        (6.2: late answers are ignored); so is an answer POSTed in another
        session, which must not reach this session's call. """
        mine, other = self.initialize_with({"sampling": {}}), \
            self.initialize_with({"sampling": {}})
        with self.assertLogs("mcp_weather", "INFO") as logs:
            reply = self.answer(mine, {"id": "never-sent"}, {"x": 1})
        self.assertEqual((reply.status, reply.body), (202, b""))
        self.assertIn("'never-sent' ignored", "\n".join(logs.output))
        self.asking_tool("ask_model", lambda call: call.sample(["Hi"]))
        stream = self.open_call(mine, "ask_model")
        request = stream.until_message(_is_method("sampling/createMessage"))
        sampled = {"role": "assistant", "model": "m", "content": {
            "type": "text", "text": "from the right session"}}
        with self.assertLogs("mcp_weather", "INFO"):
            self.assertEqual(self.answer(other, request, sampled).status,
                             202)
        self.assertIn(request["id"], self.session_of(mine).awaited)
        self.answer(mine, request, sampled)
        result = self.result_message(stream)["result"]
        self.assertIn("from the right session", _text_of(result))

    def test_cancelling_the_call_stops_the_wait(self):
        """ 6.2: notifications/cancelled for the tool call ends the wait at
        once: no response, the answer slot is gone, a late answer is
        ignored. """
        sid = self.initialize_with({"sampling": {}})
        self.asking_tool("ask_model", lambda call: call.sample(["Hi"]))
        stream = self.open_call(sid, "ask_model")
        request = stream.until_message(_is_method("sampling/createMessage"))
        self.notify("notifications/cancelled", {"requestId": 7}, sid)
        rest = stream.rest()
        self.assertFalse(any(_is_response(m) for m in _messages(rest)))
        wait_for(lambda: not self.session_of(sid).awaited)
        with self.assertLogs("mcp_weather", "INFO"):
            self.assertEqual(self.answer(sid, request, {"content": {}})
                             .status, 202)

    def test_close_stream_then_resume_with_get(self):
        """ S20, S42: call.close_stream() ends the POST's connection after
        the priming event and a retry field; GET with Last-Event-ID brings
        the rest, response included. """
        self.asking_tool("hang_up", lambda call: call.close_stream())
        sid = self.initialize()
        stream = self.open_call(sid, "hang_up")
        events = _events_only(stream.rest())
        self.assertTrue(stream.ended)
        self.assertEqual(events[0]["data"], "")
        self.assertEqual(events[-1]["retry"], 1000)
        self.assertEqual(_messages(events), [])
        resumed = self.open_get(sid, events[0]["id"])
        response = resumed.until_message(lambda m: _is_response(m, 7))
        self.assertEqual(_text_of(response["result"]), "true")


class ClientRequestTimeoutTests(_Issue6TestCase):
    """ --client-request-timeout: an unanswered request is given up, the
    client is told (notifications/cancelled) and the tool fails. """

    settings = {"client_request_timeout": 0.3}

    def test_timeout(self):
        sid = self.initialize_with({"roots": {}})
        self.asking_tool("ask_roots", lambda call: call.list_roots())
        with self.assertLogs("mcp_weather", "WARNING") as logs:
            stream = self.open_call(sid, "ask_roots")
            request = stream.until_message(_is_method("roots/list"))
            cancel = stream.until_message(_is_method(
                "notifications/cancelled"))
            self.assertEqual(cancel["params"], {
                "requestId": request["id"], "reason": "timed out"})
            result = self.result_message(stream)["result"]
        self.assertIn("--client-request-timeout", "\n".join(logs.output))
        self.assertTrue(result["isError"])
        self.assertIn("did not answer roots/list within 0.3 s",
                      _text_of(result))
        with self.assertLogs("mcp_weather", "INFO"):
            late = self.answer(sid, request, {"roots": []})
        self.assertEqual(late.status, 202)


class StatelessClientRequestTests(_Issue6TestCase):
    """ --stateless: no session to route an answer to, so no requests to
    the client, and no stream to cut. """

    settings = {"stateless": True}

    def test_asking_fails_without_a_request(self):
        self.asking_tool("ask_model", lambda call: call.sample(["Hi"]))
        self.asking_tool("hang_up", lambda call: call.close_stream())
        reply = self.call_tool("ask_model", {}, protocol_version=LATEST)
        result = self.result_of(reply)["result"]
        self.assertTrue(result["isError"])
        self.assertIn("needs a session", _text_of(result))
        self.assertEqual([m for m in reply.messages() if "method" in m], [])
        reply = self.call_tool("hang_up", {}, protocol_version=LATEST)
        self.assertEqual(_text_of(self.result_of(reply)["result"]), "false")


class StdioClientRequestTests(unittest.TestCase):
    """ Over stdio the request goes to stdout and the answer comes on stdin
    (examples/conformance_server.py's test_sampling). """

    def test_sampling_over_stdio(self):
        proc = subprocess.Popen(
            [sys.executable, os.path.join(EXAMPLES_DIR,
                                          "conformance_server.py"),
             "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=clean_environment())
        self.addCleanup(proc.wait, TIMEOUT)
        self.addCleanup(proc.stdin.close)
        self.addCleanup(proc.stdout.close)

        def send(message):
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()

        def receive():
            ready = select.select([proc.stdout], [], [], TIMEOUT)[0]
            self.assertTrue(ready, "no line on stdout")
            return json.loads(proc.stdout.readline())
        send(initialize_message(capabilities={"sampling": {}}))
        self.assertEqual(receive()["id"], 0)
        send({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
            "name": "test_sampling", "arguments": {"prompt": "Hi"}}})
        request = receive()
        self.assertEqual(request["method"], "sampling/createMessage")
        send({"jsonrpc": "2.0", "id": request["id"], "result": {
            "role": "assistant", "model": "m",
            "content": {"type": "text", "text": "Hello over stdio"}}})
        response = receive()
        self.assertEqual(response["id"], 1)
        self.assertEqual(_text_of(response["result"]),
                         "LLM response: Hello over stdio")


###############################################################################
# Issue 6: the knobs of requests to the client ################################
###############################################################################

class ClientRequestOptionTests(unittest.TestCase):
    """ The two knobs are flags and environment variables (D: every knob). """

    def test_flags_and_environment(self):
        text = mcp_weather.build_parser(mcp_weather.Config()).format_help()
        for name in ("--client-request-timeout", "MCP_CLIENT_REQUEST_TIMEOUT",
                     "--state-secret", "MCP_STATE_SECRET"):
            self.assertIn(name, text)
        config = mcp_weather.Config.from_env({
            "MCP_CLIENT_REQUEST_TIMEOUT": "12.5",
            "MCP_STATE_SECRET": "shared"})
        self.assertEqual((config.client_request_timeout,
                          config.state_secret), (12.5, "shared"))
