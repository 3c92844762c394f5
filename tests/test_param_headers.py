# -*- coding: utf-8 -*-
"""Mcp-Param-* headers (2026-07-28, checklist S60, with the value rules of
S59): a tool marks parameters with x-mcp-header, a client mirrors their
values into Mcp-Param-{Name} headers, and the server checks each header
against the body before the tool runs: 400 with -32020 (HeaderMismatch)
for a header that is missing, disagrees, is malformed or has no value
behind it.  Asserted on the wire, against a real server."""

import base64
import json
import unittest

import mcp_weather
from tests.support import _StreamTestCase, raw_exchange, raw_post, status_of

SCHEMA = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "x-mcp-header": "Region"},
        "priority": {"type": "integer", "x-mcp-header": "Priority"},
        "verbose": {"type": "boolean", "x-mcp-header": "Verbose"},
        "where": {"type": "object", "properties": {
            "zone": {"type": "string", "x-mcp-header": "Zone"}}},
        "note": {"type": "string"}},
    "required": ["region"]}


def b64(text):
    return "=?base64?%s?=" % base64.b64encode(
        text.encode("utf-8")).decode("ascii")


class ParamHeaderTests(_StreamTestCase):
    """ S60 on the wire, with the tool 'routed' registered for the class. """

    @classmethod
    def setUpClass(cls):
        super(ParamHeaderTests, cls).setUpClass()

        @cls.dispatcher.tool("routed", "Echoes its arguments.", SCHEMA)
        def routed(arguments, call):
            return json.dumps(arguments, sort_keys=True)

    def call(self, arguments, request_id=3, **headers):
        """ A 2026-07-28 tools/call of 'routed'; headers are extra header
        fields by name (a value None leaves one out). """
        message = self.modern_message("tools/call", {
            "name": "routed", "arguments": arguments}, request_id)
        merged = self.modern_headers(message)
        merged.update(headers)
        merged = dict((k, v) for k, v in merged.items() if v is not None)
        return self.post(message, merged)

    def raw_call(self, region, header_value):
        """ tools/call of routed with ``region``, its Mcp-Param-Region
        header sent as the bytes ``header_value`` (which http.client would
        refuse or encode); the raw HTTP answer. """
        message = self.modern_message("tools/call", {
            "name": "routed", "arguments": {"region": region}}, 3)
        headers = [b"MCP-Protocol-Version: 2026-07-28",
                   b"Mcp-Method: tools/call", b"Mcp-Name: routed",
                   b"Mcp-Param-Region: " + header_value]
        return raw_exchange(self.port, raw_post(
            json.dumps(message).encode(), headers))

    def assertAccepted(self, reply, arguments):
        result = self.assertModernResult(reply, 3)
        self.assertNotIn("isError", result)
        self.assertEqual(json.loads(result["content"][0]["text"]), arguments)

    def assertMismatch(self, reply, words):
        message = self.assertRPCError(reply, 400, -32020, 3)
        self.assertIn(words, message["error"]["message"])

    def test_matching_headers_are_accepted(self):
        """ Every marked argument with its header, values equal. """
        arguments = {"region": "us-west1", "priority": 3, "verbose": True,
                     "where": {"zone": "b"}, "note": "not mirrored"}
        reply = self.call(arguments, **{
            "Mcp-Param-Region": "us-west1", "Mcp-Param-Priority": "3",
            "Mcp-Param-Verbose": "true", "Mcp-Param-Zone": "b"})
        self.assertAccepted(reply, arguments)

    def test_header_names_ignore_case(self):
        """ Field names are case-insensitive (RFC 9110 5.1). """
        reply = self.call({"region": "eu"}, **{"mcp-param-region": "eu"})
        self.assertAccepted(reply, {"region": "eu"})
        reply = self.call({"region": "eu"}, **{"MCP-PARAM-REGION": "eu"})
        self.assertAccepted(reply, {"region": "eu"})

    def test_missing_header_is_rejected(self):
        """ S60: the value is in the body but the header is not. """
        reply = self.call({"region": "eu"}, **{"Mcp-Param-Region": None})
        self.assertMismatch(reply, "Mcp-Param-Region header is missing")
        reply = self.call({"region": "eu", "priority": 1},
                          **{"Mcp-Param-Region": "eu"})
        self.assertMismatch(reply, "Mcp-Param-Priority header is missing")

    def test_header_that_disagrees_with_the_body_is_rejected(self):
        """ S59: values compare exactly, case included; the tool does not
        run. """
        ran = []
        self.addCleanup(self.dispatcher.tools.remove, "counted")
        self.dispatcher.tool("counted", "Counts its runs.", SCHEMA)(
            lambda arguments, call: ran.append(1) or "ran")
        for sent in ("us-east1", "US-WEST1", "us-west", ""):
            with self.subTest(header=sent):
                message = self.modern_message("tools/call", {
                    "name": "counted", "arguments": {"region": "us-west1"}},
                    3)
                headers = self.modern_headers(message)
                headers["Mcp-Param-Region"] = sent
                self.assertMismatch(self.post(message, headers),
                                    "does not match the argument region")
        self.assertEqual(ran, [])

    def test_whitespace_around_a_plain_value_is_not_part_of_it(self):
        """ RFC 9110 5.5: optional whitespace around a field value is
        dropped before the comparison. """
        raw = self.raw_call("eu", b"\t eu  ")
        self.assertEqual(status_of(raw), 200, raw)
        self.assertIn(b'"resultType":"complete"', raw)

    def test_base64_values(self):
        """ S59: =?base64?...?= carries what plain ASCII cannot (non-ASCII,
        edge whitespace); bad padding, characters outside the alphabet and
        a non-canonical encoding are rejected; without both markers the
        value is literal. """
        for region in (u"杭州", " padded ", "plain"):
            with self.subTest(region=region):
                reply = self.call({"region": region},
                                  **{"Mcp-Param-Region": b64(region)})
                self.assertAccepted(reply, {"region": region})
        for sent in ("=?base64?SGVsbG8?=", "=?base64?SGVs!!!bG8=?=",
                     "=?base64?SGVsbG9=?="):
            with self.subTest(header=sent):
                reply = self.call({"region": "Hello"},
                                  **{"Mcp-Param-Region": sent})
                self.assertMismatch(reply, "bad base64 value")
        for literal in ("SGVsbG8=", "=?base64?SGVsbG8="):
            with self.subTest(literal=literal):
                reply = self.call({"region": literal},
                                  **{"Mcp-Param-Region": literal})
                self.assertAccepted(reply, {"region": literal})

    def test_non_ascii_plain_value_is_rejected(self):
        """ S59: a plain value must be visible ASCII. """
        raw = self.raw_call(u"é", b"\xc3\xa9")
        self.assertEqual(status_of(raw), 400, raw)
        self.assertIn(b"-32020", raw)

    def test_integers_compare_as_numbers_booleans_as_words(self):
        """ S59: integers SHOULD compare numerically; booleans are the
        words true and false, in lower case. """
        for sent in ("42", "42.0", "042"):
            with self.subTest(header=sent):
                reply = self.call({"region": "r", "priority": 42}, **{
                    "Mcp-Param-Region": "r", "Mcp-Param-Priority": sent})
                self.assertAccepted(reply, {"region": "r", "priority": 42})
        reply = self.call({"region": "r", "priority": 42}, **{
            "Mcp-Param-Region": "r", "Mcp-Param-Priority": "43"})
        self.assertMismatch(reply, "does not match the argument priority")
        reply = self.call({"region": "r", "verbose": False}, **{
            "Mcp-Param-Region": "r", "Mcp-Param-Verbose": "false"})
        self.assertAccepted(reply, {"region": "r", "verbose": False})
        reply = self.call({"region": "r", "verbose": False}, **{
            "Mcp-Param-Region": "r", "Mcp-Param-Verbose": "False"})
        self.assertMismatch(reply, "does not match the argument verbose")

    def test_absent_or_null_value_expects_no_header(self):
        """ S60: null or absent means no header; a header with nothing
        behind it in the body is rejected, so intermediaries never route
        on a value the body does not carry. """
        reply = self.call({"region": "r", "priority": None},
                          **{"Mcp-Param-Region": "r"})
        self.assertModernResult(reply, 3)       # past the headers (the
        #                                         schema refuses the null)
        reply = self.call({"region": "r"}, **{
            "Mcp-Param-Region": "r", "Mcp-Param-Priority": "1"})
        self.assertMismatch(reply, "is sent, but the argument priority")

    def test_header_sent_twice_is_rejected(self):
        """ Two copies could route one way and run another. """
        message = self.modern_message("tools/call", {
            "name": "routed", "arguments": {"region": "eu"}}, 3)
        headers = [b"MCP-Protocol-Version: 2026-07-28",
                   b"Mcp-Method: tools/call", b"Mcp-Name: routed",
                   b"Mcp-Param-Region: eu", b"mcp-param-region: eu"]
        raw = raw_exchange(self.port, raw_post(
            json.dumps(message).encode(), headers))
        self.assertEqual(status_of(raw), 400, raw)
        self.assertIn(b"sent more than once", raw)

    def test_legacy_sessions_do_not_check_them(self):
        """ The headers belong to 2026-07-28; a 2025 session's call with a
        stray Mcp-Param header is served as before. """
        session = self.initialize()
        reply = self.call_tool("routed", {"region": "eu"}, session,
                               headers={"Mcp-Param-Region": "elsewhere"})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertNotIn("error", self.result_of(reply))


class ParamHeaderRegistrationTests(unittest.TestCase):
    """ A server never lists a tool whose marks a client must refuse. """

    def tool(self, properties):
        return mcp_weather.Tool("t", "d", {"type": "object",
                                           "properties": properties},
                                lambda arguments, call: "")

    def test_bad_marks_are_refused(self):
        for properties in (
                {"n": {"type": "number", "x-mcp-header": "N"}},
                {"o": {"type": "object", "x-mcp-header": "O"}},
                {"a": {"type": "string", "x-mcp-header": "A B"}},
                {"a": {"type": "string", "x-mcp-header": ""}},
                {"a": {"type": "string", "x-mcp-header": 7}},
                {"a": {"type": "string", "x-mcp-header": "Same"},
                 "b": {"type": "string", "x-mcp-header": "SAME"}}):
            with self.subTest(properties=properties):
                with self.assertRaises(ValueError):
                    self.tool(properties)

    def test_good_marks_are_found(self):
        tool = self.tool({"a": {"type": "string", "x-mcp-header": "A"},
                          "o": {"type": "object", "properties": {
                              "b": {"type": "boolean",
                                    "x-mcp-header": "B"}}}})
        self.assertEqual(mcp_weather.param_headers(tool.input_schema),
                         [(("a",), "Mcp-Param-A"),
                          (("o", "b"), "Mcp-Param-B")])


if __name__ == "__main__":
    unittest.main()
