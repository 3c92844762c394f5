# -*- coding: utf-8 -*-
"""The server asking the client, 2025-11-25 additions, on the wire:
URL-mode elicitation (call.elicit_url, call.require_url: -32042
URLElicitationRequired, notifications/elicitation/complete) and sampling
that offers the client's model tools (call.sample(tools=...),
call.run_tool_use), through the same ``call`` object as the older requests,
in a 2025 session (a request on the call's SSE stream) and in 2026-07-28
(an InputRequiredResult, MRTR)."""

import json
import unittest

from tests.support import (ACCEPT_BOTH, ACCEPT_JSON, LATEST, _Issue6TestCase,
                           _is_method, _text_of)

SITE = "https://auth.example.com/connect?session=abc"


def input_required(test, reply, request_id=1):
    """ A 2026-07-28 InputRequiredResult: its result. """
    test.assertEqual(reply.status, 200, reply.body)
    result = test.result_of(reply, request_id)["result"]
    test.assertEqual(result["resultType"], "input_required")
    test.assertIsInstance(result["requestState"], str)
    return result


class URLElicitationTests(_Issue6TestCase):

    def setUp(self):
        super(URLElicitationTests, self).setUp()
        self.asking_tool("connect", lambda call: call.elicit_url(
            "Sign in to the calendar service", SITE, key="signin"))
        self.asking_tool("gated", lambda call: call.require_url(
            "Sign in first", SITE, elicitation_id="e-42"))

    def test_url_elicitation_in_a_session(self):
        """ The request goes on the call's stream with mode url, the URL,
        the message and an elicitationId; the client's accept (no
        content: the person agreed to go) returns to the tool. """
        sid = self.initialize_with({"elicitation": {"url": {}}})
        stream = self.open_call(sid, "connect")
        request = stream.until_message(_is_method("elicitation/create"))
        params = request["params"]
        self.assertEqual(params["mode"], "url")
        self.assertEqual(params["url"], SITE)
        self.assertEqual(params["message"], "Sign in to the calendar service")
        self.assertIsInstance(params["elicitationId"], str)
        self.assertNotIn("requestedSchema", params)
        self.assertEqual(self.answer(sid, request, {"action": "accept"})
                         .status, 202)
        result = self.result_message(stream)["result"]
        self.assertEqual(json.loads(_text_of(result)), {"action": "accept"})

    def test_refused_without_the_url_capability_or_revision(self):
        """ Nothing is sent to a client that declared only form mode (an
        empty elicitation capability means form), or to a 2025-06-18
        session: URL mode arrived in 2025-11-25.  The other way round, a
        client that declared only url gets no form. """
        cases = [({"elicitation": {}}, LATEST,
                  "did not declare elicitation.url"),
                 ({"elicitation": {"form": {}}}, LATEST,
                  "did not declare elicitation.url"),
                 ({"elicitation": {"url": {}}}, "2025-06-18",
                  "needs protocol 2025-11-25 or later")]
        for capabilities, version, words in cases:
            with self.subTest(capabilities=capabilities, version=version):
                sid = self.initialize_with(capabilities, version)
                result = self.result_of(self.call_tool("connect", {}, sid))
                self.assertTrue(result["result"]["isError"])
                self.assertIn(words, _text_of(result["result"]))
        self.asking_tool("form", lambda call: call.elicit(
            "Name?", {"type": "object"}))
        sid = self.initialize_with({"elicitation": {"url": {}}})
        result = self.result_of(self.call_tool("form", {}, sid))
        self.assertIn("did not declare elicitation.form",
                      _text_of(result["result"]))

    def test_url_elicitation_required_error(self):
        """ 2025-11-25: require_url ends the call with -32042 and the
        elicitations the client must send the person to; no result. """
        sid = self.initialize_with({"elicitation": {"url": {}}})
        for accept in (ACCEPT_BOTH, ACCEPT_JSON):       # no stream needed
            with self.subTest(accept=accept):
                reply = self.call_tool("gated", {}, sid, accept=accept)
                error = self.result_of(reply)["error"]
                self.assertEqual(error["code"], -32042)
                self.assertEqual(error["data"], {"elicitations": [{
                    "mode": "url", "message": "Sign in first", "url": SITE,
                    "elicitationId": "e-42"}]})
        old = self.initialize_with({"elicitation": {}})
        result = self.result_of(self.call_tool("gated", {}, old))["result"]
        self.assertTrue(result["isError"])
        self.assertIn("declared elicitation.url", _text_of(result))

    def test_elicitation_complete_goes_on_the_get_stream(self):
        """ When the person is done, notifications/elicitation/complete
        names the elicitationId, on the session's GET stream. """
        sid = self.initialize_with({"elicitation": {"url": {}}})
        get = self.open_get(sid)
        self.asking_tool("done", lambda call: call.complete_elicitation(
            "e-42"))
        result = self.result_of(self.call_tool("done", {}, sid))
        self.assertEqual(json.loads(_text_of(result["result"])), True)
        message = get.until_message(
            _is_method("notifications/elicitation/complete"))
        self.assertEqual(message["params"], {"elicitationId": "e-42"})

    def test_2026_url_elicitation_is_an_input_request(self):
        """ 2026-07-28: the same tool code ends with an InputRequiredResult
        carrying the URL elicitation (no elicitationId: removed); the retry
        brings the answer.  require_url does the same (-32042 is gone). """
        caps = {"elicitation": {"url": {}}}
        for tool, key in (("connect", "signin"), ("gated", None)):
            with self.subTest(tool=tool):
                result = input_required(self, self.modern_call(tool, {},
                                                               caps))
                requests = result["inputRequests"]
                key = key or list(requests)[0]
                self.assertEqual(requests[key], {
                    "method": "elicitation/create", "params": {
                        "mode": "url", "url": SITE, "message":
                        "Sign in to the calendar service" if tool ==
                        "connect" else "Sign in first"}})
                again = self.modern_call(tool, {}, caps, 2, inputResponses={
                    key: {"action": "accept"}},
                    requestState=result["requestState"])
                final = self.assertModernResult(again, 2)
                self.assertEqual(json.loads(_text_of(final)),
                                 {"action": "accept"})

    def test_2026_without_url_capability_is_32021(self):
        """ S62: requiredCapabilities names the missing part. """
        reply = self.modern_call("connect", {}, {"elicitation": {}}, 4)
        message = self.assertRPCError(reply, 200, -32021, 4)
        self.assertEqual(message["error"]["data"], {
            "requiredCapabilities": {"elicitation": {"url": {}}}})


WEATHER_USE = {"type": "tool_use", "id": "call-1", "name": "get_weather",
               "input": {"city": "Hangzhou"}}


def agent(call):
    """ A tool that lets the client's model use get_weather: sample with
    tools, run what the model asks for, send the results back, repeat. """
    messages = ["What should I wear in Hangzhou today?"]
    reply = call.sample(messages, 200, tools=["get_weather"],
                        tool_choice="auto")
    while reply.get("stopReason") == "toolUse":
        uses = [c for c in reply["content"] if c.get("type") == "tool_use"]
        messages.append({"role": "assistant", "content": reply["content"]})
        messages.append({"role": "user", "content": [
            call.run_tool_use(use) for use in uses]})
        reply = call.sample(messages, 200, tools=["get_weather"])
    return reply["content"]["text"]


class SamplingWithToolsTests(_Issue6TestCase):

    def setUp(self):
        super(SamplingWithToolsTests, self).setUp()
        self.dispatcher.tool("agent", "Asks the model, with tools.",
                             {"type": "object"})(
            lambda arguments, call: agent(call))
        self.register(self.dispatcher.tools, "agent")

    def test_tool_loop_in_a_session(self):
        """ The request carries the tool's definition and toolChoice; the
        model's tool_use is run by the server and its tool_result goes
        back in the next request; the final text is the tool's result. """
        sid = self.initialize_with({"sampling": {"tools": {}}})
        stream = self.open_call(sid, "agent")
        first = stream.until_message(_is_method("sampling/createMessage"))
        params = first["params"]
        self.assertEqual([t["name"] for t in params["tools"]],
                         ["get_weather"])
        self.assertEqual(params["tools"][0]["inputSchema"]["required"],
                         ["city"])
        self.assertEqual(params["toolChoice"], {"mode": "auto"})
        self.answer(sid, first, {"role": "assistant", "model": "m",
                                 "stopReason": "toolUse",
                                 "content": [WEATHER_USE]})
        second = stream.until_message(_is_method("sampling/createMessage"))
        messages = second["params"]["messages"]
        self.assertEqual(messages[1], {"role": "assistant",
                                       "content": [WEATHER_USE]})
        result_block = messages[2]["content"][0]
        self.assertEqual(result_block["type"], "tool_result")
        self.assertEqual(result_block["toolUseId"], "call-1")
        self.assertNotIn("isError", result_block)
        self.assertEqual(result_block["structuredContent"]["temperature"],
                         4.8)
        self.assertNotIn("toolChoice", second["params"])
        self.answer(sid, second, {"role": "assistant", "model": "m",
                                  "stopReason": "endTurn", "content": {
                                      "type": "text", "text": "A coat."}})
        result = self.result_message(stream)["result"]
        self.assertEqual(_text_of(result), "A coat.")

    def test_bad_tool_use_becomes_an_error_result_for_the_model(self):
        """ An unknown tool or invalid input is told to the model as a
        tool_result with isError, not a failure of the whole call. """
        sid = self.initialize_with({"sampling": {"tools": {}}})
        stream = self.open_call(sid, "agent")
        first = stream.until_message(_is_method("sampling/createMessage"))
        self.answer(sid, first, {"role": "assistant", "model": "m",
                                 "stopReason": "toolUse", "content": [
                                     dict(WEATHER_USE, name="rm_rf"),
                                     dict(WEATHER_USE, id="call-2",
                                          input={"city": 7})]})
        second = stream.until_message(_is_method("sampling/createMessage"))
        blocks = second["params"]["messages"][2]["content"]
        self.assertEqual([b["isError"] for b in blocks], [True, True])
        self.assertIn("No tool named 'rm_rf'", blocks[0]["content"][0]["text"])
        self.assertIn("Invalid input for get_weather",
                      blocks[1]["content"][0]["text"])

    def test_refused_without_sampling_tools(self):
        """ A client that declared sampling without tools, or a session
        older than 2025-11-25, gets no request: the call is isError. """
        for capabilities, version, words in (
                ({"sampling": {}}, LATEST, "did not declare sampling.tools"),
                ({"sampling": {"tools": {}}}, "2025-06-18",
                 "needs protocol 2025-11-25 or later")):
            with self.subTest(version=version):
                sid = self.initialize_with(capabilities, version)
                result = self.result_of(self.call_tool("agent", {}, sid))
                self.assertTrue(result["result"]["isError"])
                self.assertIn(words, _text_of(result["result"]))

    def test_2026_rounds(self):
        """ 2026-07-28: each sampling round is an input request; the retry
        that answers the first brings the second (with the tool_result),
        then the answer.  Without sampling.tools: -32021. """
        caps = {"sampling": {"tools": {}}}
        first = input_required(self, self.modern_call("agent", {}, caps))
        request = first["inputRequests"]["sampling-1"]
        self.assertEqual(request["params"]["tools"][0]["name"],
                         "get_weather")
        second = input_required(self, self.modern_call(
            "agent", {}, caps, 2, requestState=first["requestState"],
            inputResponses={"sampling-1": {
                "role": "assistant", "model": "m", "stopReason": "toolUse",
                "content": [WEATHER_USE]}}), 2)
        self.assertEqual(list(second["inputRequests"]), ["sampling-2"])
        block = second["inputRequests"]["sampling-2"]["params"][
            "messages"][2]["content"][0]
        self.assertEqual(block["toolUseId"], "call-1")
        final = self.assertModernResult(self.modern_call(
            "agent", {}, caps, 3, requestState=second["requestState"],
            inputResponses={"sampling-2": {
                "role": "assistant", "model": "m", "content": {
                    "type": "text", "text": "Warm clothes."}}}), 3)
        self.assertEqual(_text_of(final), "Warm clothes.")
        reply = self.modern_call("agent", {}, {"sampling": {}}, 4)
        message = self.assertRPCError(reply, 200, -32021, 4)
        self.assertEqual(message["error"]["data"], {
            "requiredCapabilities": {"sampling": {"tools": {}}}})


if __name__ == "__main__":
    unittest.main()
