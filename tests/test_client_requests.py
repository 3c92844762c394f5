"""Issue 16: requests from servers, answered by the host (Host): sampling
through the configured model after the person approves, elicitation asked
field by field and validated (never sent invalid), URL elicitation,
roots/list, and the per-server "sampling"/"elicitation" policies."""

import io
import json
import os
import sys
import threading
import time
import unittest
import unittest.mock

import mcp_client
from tests.support import (ScriptedServer, TIMEOUT, _ClientTestCase,
                           _completion, result, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "stdio_child.py")

SAMPLE = {"method": "sampling/createMessage", "params": {
    "messages": [{"role": "user", "content": {"type": "text",
                                              "text": "Say hi"}}],
    "systemPrompt": "Be brief.", "maxTokens": 50}}

FORM = {"method": "elicitation/create", "params": {
    "message": "About you", "requestedSchema": {
        "type": "object", "required": ["age"], "properties": {
            "age": {"type": "integer", "minimum": 0},
            "color": {"type": "string", "enum": ["red", "blue"],
                      "default": "red"},
            "subscribe": {"type": "boolean", "default": False}}}}}


def entry(**settings):
    base = {"name": "c", "sampling": "ask", "elicitation": "ask",
            "roots": None}
    base.update(settings)
    return base


class _RequestsTestCase(_ClientTestCase):

    def host(self, stdin="", interactive=False, **options):
        self.err = io.StringIO()
        terminal = mcp_client.Terminal(io.StringIO(), self.err,
                                       io.StringIO(stdin))
        model = lambda: mcp_client.make_model(  # noqa: E731
            {"base_url": self.chat_api.base_url, "model": "m",
             "api_key_env": ""}, {})
        return mcp_client.Host(terminal, model, interactive=interactive,
                               **options)

    def child(self, host, **settings):
        client = mcp_client.StdioClient(
            sys.executable, [CHILD, "ask"], name="c", timeout=10.0,
            shutdown_wait=0.5, **host.handlers(entry(**settings)))
        self.addCleanup(client.close)
        return client

    def ask(self, client, request):
        """ The child sends ``request`` to us mid-call; returns the
        JSON-RPC message our client answered with. """
        answer = client.call_tool("ask", request)
        return json.loads(mcp_client.result_text(answer))


class SamplingTests(_RequestsTestCase):

    def test_deny_is_not_offered_and_refused(self):
        """ "sampling": "deny": no sampling capability in initialize, and
        a server that asks anyway gets an error, not silence. """
        client = self.child(self.host(), sampling="deny")
        client.connect()
        self.assertNotIn("sampling", client.client_capabilities())
        reply = self.ask(client, SAMPLE)
        self.assertEqual(reply["error"]["code"], -32601)
        self.assertNotIn("result", reply)
        self.assertEqual(self.chat_api.requests, [])

    def test_ask_without_a_person_declines_clearly(self):
        client = self.child(self.host(), sampling="ask")
        reply = self.ask(client, SAMPLE)
        self.assertEqual(reply["error"]["code"], mcp_client.USER_REJECTED)
        self.assertIn("none is at a terminal", reply["error"]["message"])
        self.assertIn('"sampling": "allow"', reply["error"]["message"])
        self.assertEqual(self.chat_api.requests, [])

    def test_ask_approved_goes_to_the_model(self):
        """ The person sees the request and says yes: the model answers
        and its reply is the CreateMessageResult; the system prompt and
        maxTokens reach the API. """
        self.chat_api.reply(_completion("Hi!"))
        host = self.host("y\n", interactive=True)
        reply = self.ask(self.child(host), SAMPLE)
        self.assertEqual(reply["result"], {
            "role": "assistant", "model": "m", "stopReason": "endTurn",
            "content": {"type": "text", "text": "Hi!"}})
        body = self.chat_api.bodies()[0]
        self.assertEqual(body["messages"], [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hi"}])
        self.assertEqual(body["max_tokens"], 50)
        self.assertIn("user: Say hi", self.err.getvalue())

    def test_ask_refused_by_the_person(self):
        host = self.host("n\n", interactive=True)
        reply = self.ask(self.child(host), SAMPLE)
        self.assertIn("declined", reply["error"]["message"])
        self.assertEqual(self.chat_api.requests, [])

    def test_allow_with_tools(self):
        """ 2025-11-25 sampling with tools: the model's tool call comes
        back as tool_use content, stopReason toolUse. """
        self.chat_api.reply(_completion(calls=[
            {"id": "call-1", "type": "function", "function": {
                "name": "lookup", "arguments": '{"q": "x"}'}}]))
        request = json.loads(json.dumps(SAMPLE))
        request["params"]["tools"] = [{"name": "lookup", "inputSchema": {
            "type": "object", "properties": {"q": {"type": "string"}}}}]
        reply = self.ask(self.child(self.host(), sampling="allow"), request)
        self.assertEqual(reply["result"]["stopReason"], "toolUse")
        self.assertEqual(reply["result"]["content"], [
            {"type": "tool_use", "id": "call-1", "name": "lookup",
             "input": {"q": "x"}}])
        tools = self.chat_api.bodies()[0]["tools"]
        self.assertEqual(tools[0]["function"]["name"], "lookup")


class ElicitationTests(_RequestsTestCase):

    def test_invalid_answers_are_asked_again_never_sent(self):
        """ Form mode: "abc" and "-5" are refused with the reason and the
        field is asked again; an empty answer takes the default
        (SEP-1034); the enum is offered (SEP-1330); only the valid content
        is sent. """
        host = self.host("y\nabc\n-5\n42\nmauve\n\n\n", interactive=True)
        reply = self.ask(self.child(host), FORM)
        self.assertEqual(reply["result"], {"action": "accept", "content": {
            "age": 42, "color": "red", "subscribe": False}})
        err = self.err.getvalue()
        self.assertIn("'abc' is not an integer", err)
        self.assertIn("the minimum is 0", err)
        self.assertIn("'mauve' is not one of the choices", err)
        self.assertIn("choose one: red, blue", err)
        self.assertIn("[default: \"red\"]", err)

    def test_the_persons_time_does_not_count_against_the_call(self):
        """ The call's deadline is 0.3 s; the person takes longer to
        answer the server's question; the call still completes. """
        host = self.host("", interactive=True)
        answered = threading.Event()
        release = threading.Event()

        def slow(prompt):
            answered.set()
            release.wait(TIMEOUT)
            return None             # the person gives up: cancel
        host.ask = slow
        client = mcp_client.StdioClient(
            sys.executable, [CHILD, "ask"], name="c", timeout=TIMEOUT,
            shutdown_wait=0.5, **host.handlers(entry()))
        self.addCleanup(client.close)
        client.connect()            # a child may start slowly under load
        client.timeout = 0.3
        outcome = self.in_background(self.ask, client, FORM)
        self.assertTrue(answered.wait(TIMEOUT))
        # The scenario itself, not a wait for something: the person takes
        # more than three of the call's timeouts to answer.
        time.sleep(1.0)
        release.set()
        self.assertEqual(outcome()["result"]["result"], {"action": "cancel"})

    def test_decline_and_cancel(self):
        host = self.host("n\n", interactive=True)
        self.assertEqual(self.ask(self.child(host), FORM)["result"],
                         {"action": "decline"})
        host = self.host("y\n", interactive=True)       # input ends
        self.assertEqual(self.ask(self.child(host), FORM)["result"],
                         {"action": "cancel"})

    def test_no_person(self):
        reply = self.ask(self.child(self.host()), FORM)
        self.assertIn("none is at a terminal", reply["error"]["message"])

    def test_url_mode_opens_the_browser_when_agreed(self):
        opened = []
        host = self.host("y\n", interactive=True, open_url=opened.append)
        request = {"method": "elicitation/create", "params": {
            "mode": "url", "message": "Sign in", "elicitationId": "e1",
            "url": "https://example.com/auth"}}
        reply = self.ask(self.child(host), request)
        self.assertEqual(reply["result"], {"action": "accept"})
        self.assertEqual(opened, ["https://example.com/auth"])
        self.assertIn("https://example.com/auth", self.err.getvalue())

    def test_validation_helpers(self):
        schema = FORM["params"]["requestedSchema"]
        self.assertEqual(mcp_client.elicitation_defaults(schema),
                         {"color": "red", "subscribe": False})
        self.assertEqual(mcp_client.validate_elicitation(
            schema, {"age": 3, "color": "red"}), [])
        self.assertEqual(len(mcp_client.validate_elicitation(
            schema, {"color": "green", "age": "3"})), 2)


class RootsTests(_RequestsTestCase):

    def test_default_root_is_the_current_directory(self):
        client = self.child(self.host())
        reply = self.ask(client, {"method": "roots/list"})
        root = reply["result"]["roots"][0]
        self.assertTrue(root["uri"].startswith("file:///"))
        self.assertTrue(root["uri"].endswith(
            os.path.basename(os.getcwd())))

    def test_configured_roots_and_list_changed(self):
        client = self.child(self.host(), roots=["/srv/data",
                                                "file:///opt/x"])
        reply = self.ask(client, {"method": "roots/list"})
        self.assertEqual(reply["result"]["roots"], [
            {"uri": "file:///srv/data", "name": "data"},
            {"uri": "file:///opt/x", "name": "x"}])
        self.assertEqual(client.client_capabilities()["roots"],
                         {"listChanged": True})

    def test_roots_request_on_an_http_stream(self):
        """ 2025 era over HTTP: the server's roots/list arrives on the
        call's SSE stream; the answer is POSTed back (S23, C4) and the
        call's response follows on the same stream. """
        answered = threading.Event()
        answers = []

        def respond(record):
            body = record["body"]
            if record["method"] != "POST":
                return 405, {}, None
            if body.get("method") == "initialize":
                return result(record, {"protocolVersion": "2025-11-25",
                                       "capabilities": {},
                                       "serverInfo": {"name": "x"}})
            if "method" not in body:            # our answer
                answers.append(body)
                answered.set()
                return 202, {}, None
            if body.get("method") != "tools/call":
                return 202, {}, None

            def stream(out):
                out.write(b"data: " + json.dumps({
                    "jsonrpc": "2.0", "id": "r1", "method": "roots/list"
                }).encode() + b"\n\n")
                out.flush()
                answered.wait(TIMEOUT)
                out.write(b"data: " + json.dumps({
                    "jsonrpc": "2.0", "id": body["id"], "result": {
                        "content": [{"type": "text", "text": "ok"}]}
                }).encode() + b"\n\n")
                out.flush()
            return 200, {"Content-Type": "text/event-stream"}, stream
        server = ScriptedServer(respond, all_posts=True)
        self.addCleanup(server.stop)
        client = mcp_client.MCPClient(server.url, "h", era="legacy",
                                      roots=[{"uri": "file:///r",
                                              "name": "r"}])
        self.addCleanup(client.close)
        answer = client.call_tool("t")
        self.assertEqual(mcp_client.result_text(answer), "ok")
        self.assertEqual(answers, [{"jsonrpc": "2.0", "id": "r1", "result": {
            "roots": [{"uri": "file:///r", "name": "r"}]}}])


class StandaloneStreamTests(_RequestsTestCase):
    """ C8: a server may send its requests on the session's GET stream
    rather than on a call's (the TypeScript SDK does, for a request not
    tied to one): the client opens it after initialize when it has
    handlers, and answers there by POST. """

    def setUp(self):
        _RequestsTestCase.setUp(self)
        patch = unittest.mock.patch.object(mcp_client.MCPClient,
                                           "standalone_stream", True)
        patch.start()
        self.addCleanup(patch.stop)

    def test_elicitation_on_the_get_stream(self):
        answered = threading.Event()
        answers = []

        def respond(record):
            body = record["body"] or {}
            if record["method"] == "GET":
                self.assertEqual(record["headers"]["accept"],
                                 "text/event-stream")
                self.assertEqual(record["headers"]["mcp-session-id"], "s9")

                def stream(out):
                    out.write(b"id: 1\ndata: " + json.dumps({
                        "jsonrpc": "2.0", "id": 5,
                        "method": "elicitation/create",
                        "params": FORM["params"]}).encode() + b"\n\n")
                    out.flush()
                    answered.wait(TIMEOUT)
                return 200, {"Content-Type": "text/event-stream"}, stream
            if record["method"] == "DELETE":
                return 204, {}, None
            if body.get("method") == "initialize":
                status, headers, payload = result(record, {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "serverInfo": {"name": "x"}})
                return status, {"Mcp-Session-Id": "s9"}, payload
            if "method" not in body:
                answers.append(body)
                answered.set()
            return 202, {}, None
        server = ScriptedServer(respond, all_posts=True)
        self.addCleanup(server.stop)
        host = self.host("y\n7\n\n\n", interactive=True)
        client = mcp_client.MCPClient(
            server.url, "h", era="legacy", **host.handlers(entry()))
        self.addCleanup(client.close)
        client.connect()
        self.assertTrue(answered.wait(TIMEOUT))
        self.assertEqual(answers, [{"jsonrpc": "2.0", "id": 5, "result": {
            "action": "accept", "content": {
                "age": 7, "color": "red", "subscribe": False}}}])

    def test_405_means_no_stream(self):
        def respond(record):
            body = record["body"] or {}
            if body.get("method") == "initialize":
                status, headers, payload = result(record, {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "serverInfo": {"name": "x"}})
                return status, {"Mcp-Session-Id": "s1"}, payload
            return result(record, {"tools": []})
        server = ScriptedServer(respond)
        self.addCleanup(server.stop)
        client = mcp_client.MCPClient(server.url, "h", era="legacy",
                                      on_log=lambda *args: None)
        self.addCleanup(client.close)
        client.connect()
        wait_for(lambda: [r for r in server.records if r["method"] == "GET"])
        self.assertEqual(client.list_tools(), [])
        gets = [r for r in server.records if r["method"] == "GET"]
        self.assertEqual(len(gets), 1)


if __name__ == "__main__":
    unittest.main()
