"""Issue 16: examples/conformance_client.py, the driver that plays the conformance suite's client
scenarios with mcp_client.MCPClient (interop/run_conformance_client.sh runs it in the suite), and
conformance_client_run.py, the runner that plans the scenarios and reads their verdicts.

The driver has no protocol code: these tests check what it asks the client to do and what a host
answers, on the wire of a small mock server that records every request, in both eras (checklist
1.1-1.3, C17, C18).

Dev tooling, like what it tests: `python -m unittest test_mcp` loads only modules that need nothing
but the standard library and the product files, so these run on their own (.ci/run step 3a):

    python interop/test_conformance_driver.py -v
"""

import json
import os
import sys
import threading
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for folder in (ROOT, os.path.join(ROOT, "examples"), os.path.join(ROOT, "interop")):
    if folder not in sys.path:
        sys.path.insert(0, folder)

from tests.support import loopback_http_server  # noqa: E402
import conformance_client  # noqa: E402
import conformance_client_run as runner  # noqa: E402

MODERN = "2026-07-28"
META_VERSION = "io.modelcontextprotocol/protocolVersion"

# The form of the suite's elicitation-sep1034-client-defaults scenario (SEP-1034).
SEP1034_SCHEMA = {"type": "object", "required": [], "properties": {
    "name": {"type": "string", "default": "John Doe"},
    "age": {"type": "integer", "default": 30},
    "score": {"type": "number", "default": 95.5},
    "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
    "verified": {"type": "boolean", "default": True}}}

ADD_NUMBERS = {"name": "add_numbers", "inputSchema": {
    "type": "object", "required": ["a", "b"],
    "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}
SCHEMA_2020_12 = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                  "$defs": {"address": {"type": "object"}},
                  "properties": {"address": {"$ref": "#/$defs/address"}},
                  "additionalProperties": False}


class HostAnswersTests(unittest.TestCase):
    """ What the driver answers for the host: forms and arguments. """

    def test_a_form_is_accepted_with_each_default(self):
        answer = conformance_client.answer_elicitation(
            {"message": "accept with defaults", "requestedSchema": SEP1034_SCHEMA}, None)
        self.assertEqual(answer, {"action": "accept", "content": {
            "name": "John Doe", "age": 30, "score": 95.5, "status": "active", "verified": True}})

    def test_a_field_without_default_gets_its_first_choice_or_a_plain_value(self):
        value = conformance_client.form_value
        self.assertEqual(value({"type": "string", "enum": ["b", "a"]}), "b")
        self.assertEqual(value({"type": "string", "oneOf": [{"const": "x", "title": "X"}]}), "x")
        self.assertIs(value({"type": "boolean"}), True)
        self.assertEqual(value({"type": "integer"}), 1)
        self.assertEqual(value({"type": "string"}), "yes")

    def test_a_url_elicitation_is_accepted_without_content(self):
        self.assertEqual(conformance_client.answer_elicitation(
            {"mode": "url", "url": "https://example.com/consent", "message": "open"}, None),
            {"action": "accept"})

    def test_sampling_gets_an_assistant_message(self):
        answer = conformance_client.answer_sampling({"messages": []}, None)
        self.assertEqual(answer["role"], "assistant")
        self.assertEqual(answer["content"]["type"], "text")

    def test_example_arguments_fill_the_required_properties_only(self):
        tool = {"name": "t", "inputSchema": {"type": "object", "required": ["city"], "properties": {
            "city": {"type": "string"}, "days": {"type": "integer", "default": 3}}}}
        self.assertEqual(conformance_client.example_arguments(tool), {"city": "yes"})
        self.assertEqual(conformance_client.example_arguments({"name": "t"}), {})

    def test_the_wire_the_suite_plays_chooses_the_era(self):
        modern = conformance_client.client_keywords(MODERN)
        self.assertEqual((modern["era"], modern["modern_version"]), ("modern", MODERN))
        legacy = conformance_client.client_keywords("2025-06-18")
        self.assertEqual((legacy["era"], legacy["protocol_version"]), ("legacy", "2025-06-18"))
        self.assertIn("on_elicitation", legacy)


class MockServer(object):
    """ A Streamable HTTP endpoint that answers both eras as the suite's mock servers do, with
    JSON bodies, and records every POSTed message and its headers. """

    def __init__(self, tools):
        self.tools, self.posts, self.lock = tools, [], threading.Lock()
        self.server, _ = loopback_http_server("driver-mock", do_POST=self.post, do_GET=self.other,
                                              do_DELETE=self.other)
        self.url = "http://127.0.0.1:%d/mcp" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def methods(self):
        with self.lock:
            return [body.get("method") for body, _ in self.posts]

    def calls(self):
        with self.lock:
            return [(body["params"]["name"], body["params"].get("arguments"), headers)
                    for body, headers in self.posts if body.get("method") == "tools/call"]

    def other(self, handler):
        handler.send_response(405)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def post(self, handler):
        body = json.loads(handler.rfile.read(int(handler.headers["Content-Length"])).decode("utf-8"))
        with self.lock:
            self.posts.append((body, dict((k.lower(), v) for k, v in handler.headers.items())))
        method = body.get("method")
        if "id" not in body:
            handler.send_response(202)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if method == "initialize":
            result = {"protocolVersion": body["params"]["protocolVersion"], "capabilities": {"tools": {}},
                      "serverInfo": {"name": "mock", "version": "1"}}
        elif method == "server/discover":
            result = {"supportedVersions": [MODERN], "capabilities": {"tools": {}},
                      "serverInfo": {"name": "mock", "version": "1"}, "resultType": "complete"}
        elif method == "tools/list":
            result = {"tools": self.tools}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": "done"}]}
        else:
            result = {}
        data = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result}).encode("utf-8")
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


class DriverOnTheWireTests(unittest.TestCase):
    """ conformance_client.main() as the suite runs it: the environment says what to do. """

    def run_driver(self, tools, scenario, version=None, context=None):
        server = MockServer(tools)
        self.addCleanup(server.stop)
        environ = {"MCP_CONFORMANCE_SCENARIO": scenario}
        if version:
            environ["MCP_CONFORMANCE_PROTOCOL_VERSION"] = version
        if context is not None:
            environ["MCP_CONFORMANCE_CONTEXT"] = json.dumps(context)
        saved = dict((key, os.environ.get(key)) for key in list(environ) + [
            "MCP_CONFORMANCE_PROTOCOL_VERSION", "MCP_CONFORMANCE_CONTEXT", "MCP_TRACE"])
        for key in saved:
            os.environ.pop(key, None)
        os.environ.update(environ)
        try:
            status = conformance_client.main([server.url])
        finally:
            for key, value in saved.items():
                os.environ.pop(key, None)
                if value is not None:
                    os.environ[key] = value
        return status, server

    def test_tools_call_at_2025_is_a_handshake_then_the_first_tool(self):
        status, server = self.run_driver([ADD_NUMBERS], "tools_call", "2025-06-18")
        self.assertEqual(status, 0)
        methods = server.methods()
        self.assertEqual(methods[:2], ["initialize", "notifications/initialized"])
        self.assertEqual(server.posts[0][0]["params"]["protocolVersion"], "2025-06-18")
        self.assertNotIn("server/discover", methods)
        [(name, arguments, _)] = server.calls()
        self.assertEqual(name, "add_numbers")
        self.assertTrue(all(isinstance(arguments[k], (int, float)) for k in ("a", "b")))

    def test_without_a_version_the_driver_speaks_the_2025_handshake(self):
        status, server = self.run_driver([ADD_NUMBERS], "initialize")
        self.assertEqual(status, 0)
        self.assertEqual(server.methods()[0], "initialize")

    def test_tools_call_at_2026_07_28_has_no_handshake(self):
        status, server = self.run_driver([ADD_NUMBERS], "tools_call", MODERN)
        self.assertEqual(status, 0)
        methods = server.methods()
        self.assertNotIn("initialize", methods)
        self.assertIn("tools/call", methods)
        for body, headers in server.posts:      # C17: every request names its version
            self.assertEqual(headers.get("mcp-protocol-version"), MODERN)
            self.assertEqual(body["params"]["_meta"][META_VERSION], MODERN)

    def test_the_context_names_the_calls_and_their_arguments(self):
        arguments = {"region": "us-west1", "priority": 42, "verbose": None, "query": "SELECT 1"}
        tool = {"name": "lookup", "inputSchema": {"type": "object", "properties": {
            "region": {"type": "string"}, "priority": {"type": "integer"},
            "verbose": {"type": ["boolean", "null"]}, "query": {"type": "string"}}}}
        status, server = self.run_driver([tool], "http-custom-headers", MODERN,
                                         {"toolCalls": [{"name": "lookup", "arguments": arguments}]})
        self.assertEqual(status, 0)
        self.assertEqual([(n, a) for n, a, _ in server.calls()], [("lookup", arguments)])

    def test_the_2020_12_schema_is_echoed_exactly_as_listed(self):
        tools = [{"name": "json_schema_2020_12_tool", "inputSchema": SCHEMA_2020_12},
                 {"name": "json_schema_echo", "inputSchema": {"type": "object", "properties": {
                     "schema": {"type": "object"}}}}]
        status, server = self.run_driver(tools, "json-schema-2020-12-preservation", "2025-11-25")
        self.assertEqual(status, 0)
        self.assertEqual([(n, a) for n, a, _ in server.calls()],
                         [("json_schema_echo", {"schema": SCHEMA_2020_12})])

    def test_a_list_only_scenario_calls_nothing(self):
        status, server = self.run_driver([ADD_NUMBERS], "json-schema-ref-no-deref", MODERN)
        self.assertEqual(status, 0)
        self.assertIn("tools/list", server.methods())
        self.assertEqual(server.calls(), [])


class RunnerTests(unittest.TestCase):
    """ interop/conformance_client_run.py: which runs it plans, how it judges one, and the
    expected-failures file. """

    OFFERED = {
        "release": [("initialize", ["2025-06-18", "2025-11-25"]), ("auth/metadata-default", ["2025-11-25"])],
        "next": [("initialize", ["2025-06-18", "2025-11-25"]),
                 ("tools_call", ["2025-06-18", "2025-11-25", MODERN]),
                 ("request-metadata", [MODERN]), ("auth/iss-supported", [MODERN]),
                 ("sep-2640-client-no-prefetch", ["extension"])]}

    def test_each_scenario_runs_at_its_default_wire_and_at_2026_07_28_where_it_applies(self):
        plan, not_run = runner.make_plan(self.OFFERED)
        self.assertEqual(plan, [
            ("release", "initialize", None), ("next", "initialize", None),
            ("next", "tools_call", None), ("next", "tools_call", MODERN),
            ("next", "request-metadata", None), ("next", "request-metadata", MODERN)])
        reasons = dict(not_run)
        self.assertIn("auth/* (release)", reasons)
        self.assertIn("auth/* (next)", reasons)
        self.assertIn("extension", reasons["sep-2640-client-no-prefetch (next)"])
        self.assertIn("not applicable", reasons["initialize@%s (next)" % MODERN])

    def test_a_warning_never_fails_a_run_a_failure_or_a_client_error_does(self):
        ok = {"id": "a", "status": "SUCCESS"}
        warning = {"id": "b", "status": "WARNING", "errorMessage": "should"}
        failure = {"id": "c", "status": "FAILURE", "errorMessage": "must"}
        self.assertEqual(runner.judge("tools_call", 1, [ok, warning], "")[0], "PASS")
        self.assertEqual(runner.judge("tools_call", 1, [ok, failure], "")[0], "FAIL")
        crashed = "\nClient exited with code 1\n\nStderr:\nboom\n\nChecks:"
        self.assertEqual(runner.judge("tools_call", 1, [ok], crashed)[0], "FAIL")
        self.assertEqual(runner.judge("http-invalid-tool-headers", 1, [ok], crashed)[0], "PASS")
        self.assertEqual(runner.judge("initialize", 0, None, "SKIPPED: scenario 'initialize' is "
                                      "not applicable")[0], "SKIP")

    def test_expected_failures_match_by_build_and_wire(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("# comment\nsse-retry  timing on a busy box\n"
                    "next:tools_call@%s  not yet\n" % MODERN)
        self.addCleanup(os.unlink, f.name)
        expected = runner.load_expected(f.name)
        reason = runner.expected_reason
        self.assertEqual(reason(expected, "release", "sse-retry", None), "timing on a busy box")
        self.assertEqual(reason(expected, "next", "tools_call", MODERN), "not yet")
        self.assertIsNone(reason(expected, "next", "tools_call", None))
        self.assertIsNone(reason(expected, "release", "tools_call", MODERN))


if __name__ == "__main__":
    unittest.main()
