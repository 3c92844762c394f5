"""tools/list and tools/call with the weather tools (5.3, 6.1) against the
fake Open-Meteo and Seniverse: answers, timeouts, an unreachable upstream,
the cache, and upstreams that fail in every way a socket can."""

import socket
import threading
import time

import mcp_weather
from tests.support import (ACCEPT_JSON, ACCEPT_NDJSON, ACCEPT_SSE, LATEST,
                           ServerTestCase, VERSIONS, _FaultyUpstream,
                           _RawUpstreamTestCase, _fd_count, _report,
                           _wait_settled, tool_by_name)


###############################################################################
# Tests: tools/list, its pages and fields (6.4, 5.2) ##########################
###############################################################################

class ToolsListTests(ServerTestCase):
    """ tools/list: opaque cursors (6.4), page size, Tool fields per
    revision (5.2). """

    settings = {"page_size": 1}

    def list_all(self, sid):
        tools, cursor, pages = [], None, 0
        while True:
            params = {} if cursor is None else {"cursor": cursor}
            reply = self.rpc("tools/list", params, sid)
            self.assertEqual(reply.status, 200, reply.body)
            result = self.result_of(reply)["result"]
            tools.extend(result["tools"])
            pages += 1
            cursor = result.get("nextCursor")
            if cursor is None:
                return tools, pages

    def test_pagination_follows_opaque_cursors(self):
        """ 6.4: page_size=1 gives one tool and a string nextCursor; the
        cursor gives the next tool; the last page has no nextCursor. """
        sid = self.initialize()
        first = self.result_of(self.rpc("tools/list", {}, sid))["result"]
        self.assertNames(first["tools"], ["get_weather"])
        cursor = first["nextCursor"]
        self.assertIsInstance(cursor, str)
        self.assertNotIn("1", cursor)       # opaque: not just the offset
        second = self.list_page("tools/list", cursor, sid)
        self.assertNames(second["tools"], ["get_forecast"])
        third = self.list_page("tools/list", second["nextCursor"], sid)
        self.assertNames(third["tools"], ["get_forecasts"])
        self.assertNotIn("nextCursor", third)
        tools, pages = self.list_all(sid)
        self.assertEqual((len(tools), pages), (3, 3))

    def test_bogus_cursor_is_32602(self):
        """ 6.4: an invalid cursor SHOULD be -32602. """
        sid = self.initialize()
        for cursor in ("bogus", "", "dG9vbHM6OTk5", 5, [], {"a": 1}):
            with self.subTest(cursor=cursor):
                reply = self.rpc("tools/list", {"cursor": cursor}, sid, 9)
                self.assertRPCError(reply, 200, -32602, 9)

    def test_tool_fields_2025_11_25(self):
        """ 5.2: title, description, inputSchema, outputSchema and
        annotations (readOnlyHint, openWorldHint). """
        tools, _ = self.list_all(self.initialize())
        for name, title in (("get_weather", "Current weather"),
                            ("get_forecast", "Weather forecast")):
            with self.subTest(tool=name):
                tool = tool_by_name(tools, name)
                self.assertEqual(tool["title"], title)
                self.assertIsInstance(tool["description"], str)
                schema = tool["inputSchema"]
                self.assertEqual(schema["type"], "object")
                self.assertEqual(schema["required"], ["city"])
                self.assertEqual(schema["properties"]["city"]["type"],
                                 "string")
                self.assertEqual(schema["properties"]["city"]["minLength"],
                                 1)
                self.assertEqual(schema["properties"]["city"]["maxLength"],
                                 100)
                self.assertEqual(tool["outputSchema"]["type"], "object")
                self.assertIs(tool["annotations"]["readOnlyHint"], True)
                self.assertIs(tool["annotations"]["openWorldHint"], True)
        days = tool_by_name(tools, "get_forecast")["inputSchema"][
            "properties"]["days"]
        self.assertEqual((days["type"], days["minimum"], days["maximum"]),
                         ("integer", 1, 7))

    def test_tool_fields_2025_03_26(self):
        """ 5.2: title and outputSchema arrived in 2025-06-18; a 2025-03-26
        session does not see them (annotations existed already). """
        tools, _ = self.list_all(self.initialize("2025-03-26"))
        self.assertEqual(len(tools), 3)
        for tool in tools:
            self.assertNotIn("title", tool)
            self.assertNotIn("outputSchema", tool)
            self.assertIn("inputSchema", tool)
            self.assertIn("annotations", tool)


###############################################################################
# Tests: tools/call and the weather tools (5.3, 6.1) #########################
###############################################################################

class ToolsCallTests(ServerTestCase):
    """ tools/call on get_weather and get_forecast against fake Open-Meteo:
    content, structuredContent (validated against outputSchema), what is
    sent upstream, argument validation per revision (5.3). """

    def tools(self, version=LATEST):
        sid = self.initialize(version)
        reply = self.rpc("tools/list", {}, sid)
        return dict((t["name"], t) for t in
                    self.result_of(reply)["result"]["tools"])

    def call_ok(self, name, arguments, version=LATEST, **options):
        sid = self.initialize(version)
        reply = self.call_tool(name, arguments, sid, **options)
        self.assertEqual(reply.status, 200, reply.body)
        message = self.result_of(reply, options.get("request_id", 7))
        self.assertIn("result", message, reply.body)
        return message["result"]

    def test_get_weather(self):
        """ Text a person can read and structuredContent that matches the
        outputSchema; geocoding, then forecast, with the documented
        query parameters. """
        schema = self.tools()["get_weather"]["outputSchema"]
        self.upstream.reset()
        result = self.call_ok("get_weather", {"city": "Hangzhou"})
        self.assertNotIn("isError", result)
        self.assertEqual(len(result["content"]), 1)
        text = result["content"][0]
        self.assertEqual(text["type"], "text")
        for part in ("Hangzhou", "Zhejiang", "China", "4.8 °C",
                     "overcast", "71 %", "7.6 km/h"):
            self.assertIn(part, text["text"])
        data = result["structuredContent"]
        self.assertEqual(mcp_weather.validate(schema, data), [])
        self.assertEqual(data["temperature"], 4.8)
        self.assertEqual(data["humidity"], 71)
        self.assertEqual(data["weather_code"], 3)
        self.assertEqual(data["conditions"], "overcast")
        self.assertEqual(data["location"]["name"], "Hangzhou")
        self.assertEqual(data["location"]["country"], "China")
        self.assertEqual(data["units"]["temperature"], "°C")
        self.assertEqual(data["provider"], "Open-Meteo")
        geo, forecast = self.upstream.requests
        self.assertEqual(geo["kind"], "geocoding")
        self.assertEqual(geo["query"], {"name": "Hangzhou", "count": "1",
                                        "language": "en", "format": "json"})
        self.assertEqual(forecast["kind"], "forecast")
        self.assertEqual(forecast["query"], {
            "latitude": "30.29365", "longitude": "120.16142",
            "current": "temperature_2m,relative_humidity_2m,"
                       "apparent_temperature,weather_code,wind_speed_10m",
            "timezone": "auto"})

    def test_get_forecast(self):
        """ One line per day; days defaults to 3; forecast_days and the
        daily fields go upstream; structuredContent matches outputSchema. """
        schema = self.tools()["get_forecast"]["outputSchema"]
        self.upstream.reset()
        result = self.call_ok("get_forecast", {"city": "Hangzhou"})
        data = result["structuredContent"]
        self.assertEqual(mcp_weather.validate(schema, data), [])
        self.assertEqual([d["date"] for d in data["days"]],
                         ["2025-01-15", "2025-01-16", "2025-01-17"])
        self.assertEqual([d["conditions"] for d in data["days"]],
                         ["overcast", "slight rain", "mainly clear"])
        self.assertEqual(data["days"][1]["temperature_max"], 6.4)
        self.assertEqual(data["days"][1]["precipitation_probability"], 85)
        lines = result["content"][0]["text"].split("\n")
        self.assertEqual(len(lines), 4, lines)
        self.assertIn("Hangzhou", lines[0])
        self.assertTrue(lines[2].startswith("2025-01-16: slight rain"),
                        lines[2])
        self.assertIn("3.0 to 6.4 °C", lines[2])
        forecast = self.upstream.of("forecast")[0]["query"]
        self.assertEqual(forecast["forecast_days"], "3")
        self.assertEqual(forecast["daily"],
                         "weather_code,temperature_2m_max,temperature_2m_min,"
                         "precipitation_sum,precipitation_probability_max")
        self.assertEqual(forecast["timezone"], "auto")

    def test_get_forecast_days(self):
        """ days is passed upstream as forecast_days; the answer is cut to
        the days asked for. """
        result = self.call_ok("get_forecast", {"city": "Hangzhou",
                                               "days": 2})
        self.assertEqual(len(result["structuredContent"]["days"]), 2)
        self.assertEqual(self.upstream.of("forecast")[0]["query"][
            "forecast_days"], "2")

    def test_2025_03_26_gets_no_structured_content(self):
        """ 5.3: structuredContent exists from 2025-06-18 on; older
        sessions get the text only. """
        result = self.call_ok("get_weather", {"city": "Hangzhou"},
                              "2025-03-26")
        self.assertNotIn("structuredContent", result)
        self.assertIn("4.8 °C", result["content"][0]["text"])
        result = self.call_ok("get_weather", {"city": "Hangzhou"},
                              "2025-06-18")
        self.assertEqual(result["structuredContent"]["temperature"], 4.8)

    def test_city_names_in_any_script_are_url_encoded(self):
        """ 杭州 and São Paulo reach the geocoder intact, UTF-8
        percent-encoded. """
        for city, encoded in (("杭州", "%E6%9D%AD%E5%B7%9E"),
                              ("São Paulo", "S%C3%A3o")):
            with self.subTest(city=city):
                self.upstream.reset()
                result = self.call_ok("get_weather", {"city": city})
                self.assertNotIn("isError", result)
                geo = self.upstream.of("geocoding")[0]
                self.assertEqual(geo["query"]["name"], city)
                self.assertIn("name=" + encoded, geo["raw_query"])

    def test_unknown_place_is_an_error_result(self):
        """ An unknown place is isError with a clear message, and nothing is
        asked of the forecast API. """
        result = self.call_ok("get_weather", {"city": "Nowhereville"})
        self.assertIs(result["isError"], True)
        self.assertIn("No place named 'Nowhereville' was found",
                      result["content"][0]["text"])
        self.assertNotIn("structuredContent", result)
        self.assertEqual(self.upstream.of("forecast"), [])

    def test_upstream_http_error_is_an_error_result(self):
        """ Open-Meteo's HTTP 400 becomes isError quoting its reason. """
        self.upstream.fail["forecast"] = 400
        result = self.call_ok("get_forecast", {"city": "Hangzhou"})
        self.assertIs(result["isError"], True)
        text = result["content"][0]["text"]
        self.assertIn("HTTP 400", text)
        self.assertIn("Latitude must be in range of -90 to 90°", text)

    def test_malformed_upstream_json_is_an_error_result(self):
        for kind in ("geocoding", "forecast"):
            with self.subTest(kind=kind):
                self.upstream.reset()
                self.upstream.malformed.add(kind)
                result = self.call_ok("get_weather", {"city": "Hangzhou"})
                self.assertIs(result["isError"], True)
                self.assertIn("not valid JSON", result["content"][0]["text"])

    def test_upstream_server_error_is_an_error_result(self):
        """ An upstream 5xx is isError too, not a protocol error. """
        self.upstream.fail["geocoding"] = 503
        result = self.call_ok("get_weather", {"city": "Hangzhou"})
        self.assertIs(result["isError"], True)
        self.assertIn("HTTP 503", result["content"][0]["text"])

    INVALID = [
        ("get_weather", {}),
        ("get_weather", {"city": ""}),
        ("get_weather", {"city": "   "}),
        ("get_weather", {"city": "x" * 101}),
        ("get_weather", {"city": 42}),
        ("get_weather", {"city": "Hangzhou", "units": "F"}),
        ("get_forecast", {"city": "Hangzhou", "days": 0}),
        ("get_forecast", {"city": "Hangzhou", "days": 8}),
        ("get_forecast", {"city": "Hangzhou", "days": "3"}),
        ("get_forecast", {"city": "Hangzhou", "days": 2.5}),
        ("get_forecast", {"city": "Hangzhou", "days": True}),
    ]

    def test_invalid_arguments_2025_11_25_are_error_results(self):
        """ 5.3 (2025-11-25): arguments that violate inputSchema are an
        isError result the model can read; nothing goes upstream. """
        sid = self.initialize(LATEST)
        for name, arguments in self.INVALID:
            with self.subTest(tool=name, arguments=arguments):
                reply = self.call_tool(name, arguments, sid)
                self.assertEqual(reply.status, 200)
                result = self.result_of(reply, 7)["result"]
                self.assertIs(result["isError"], True)
                self.assertIn("Invalid arguments for %s" % name,
                              result["content"][0]["text"])
        self.assertEqual(self.upstream.requests, [])

    def test_invalid_arguments_before_2025_11_25_are_32602(self):
        """ 5.3 (2025-03-26, 2025-06-18): invalid arguments are a protocol
        error, -32602. """
        for version in ("2025-03-26", "2025-06-18"):
            sid = self.initialize(version)
            for name, arguments in self.INVALID:
                with self.subTest(version=version, arguments=arguments):
                    reply = self.call_tool(name, arguments, sid)
                    message = self.assertRPCError(reply, 200, -32602, 7)
                    self.assertIn("Invalid arguments",
                                  message["error"]["message"])
        self.assertEqual(self.upstream.requests, [])

    def test_city_length_limit_is_inclusive(self):
        """ 100 characters are allowed (maxLength 100), counted as
        characters, not bytes. """
        result = self.call_ok("get_weather", {"city": "杭" * 100})
        self.assertNotIn("isError", result)

    def test_unknown_tool_is_32602(self):
        """ 5.3: 'Unknown tool: <name>' is a protocol error in every
        revision. """
        for version in VERSIONS:
            with self.subTest(version=version):
                sid = self.initialize(version)
                reply = self.call_tool("get_horoscope", {"sign": "leo"}, sid)
                message = self.assertRPCError(reply, 200, -32602, 7)
                self.assertEqual(message["error"]["message"],
                                 "Unknown tool: get_horoscope")

    def test_wrong_types_in_tools_call(self):
        """ 5.3: a malformed CallToolRequest (name not a string, arguments
        not an object) is -32602; odd _meta values are ignored; never
        a 5xx. """
        sid = self.initialize()
        bad = [{"name": value} for value in (None, 5, [], {}, True)]
        bad += [{"name": "get_weather", "arguments": value}
                for value in (5, "city=Hangzhou", ["Hangzhou"], True)]
        for params in bad:
            with self.subTest(params=params):
                reply = self.rpc("tools/call", params, sid, 3)
                self.assertRPCError(reply, 200, -32602, 3)
        odd = [{"_meta": value} for value in (5, "x", [], None)]
        odd += [{"_meta": {"progressToken": value}}
                for value in ({}, [], None, 1.5, True)]
        for extra in odd:
            with self.subTest(extra=extra):
                params = {"name": "get_weather",
                          "arguments": {"city": "Hangzhou"}}
                params.update(extra)
                reply = self.rpc("tools/call", params, sid, 3,
                                 accept=ACCEPT_JSON)
                self.assertEqual(reply.status, 200, reply.body)
                self.assertIn("result", self.result_of(reply, 3))

    def test_progress_notifications(self):
        """ 6.1: with a progressToken, three notifications/progress with
        the same token, increasing, total 3, all before the response. """
        sid = self.initialize()
        reply = self.call_tool("get_weather", {"city": "Hangzhou"}, sid,
                               accept=ACCEPT_SSE, meta={"progressToken": "p1"})
        self.assertEqual(reply.status, 200, reply.body)
        messages = reply.messages()
        self.assertEqual(len(messages), 4, messages)
        progress, response = messages[:3], messages[3]
        for note in progress:
            self.assertEqual(note["method"], "notifications/progress")
            self.assertNotIn("id", note)
            self.assertEqual(note["params"]["progressToken"], "p1")
            self.assertEqual(note["params"]["total"], 3)
            self.assertIsInstance(note["params"]["message"], str)
        values = [n["params"]["progress"] for n in progress]
        self.assertEqual(values, sorted(set(values)))
        self.assertEqual(values[-1], 3)
        self.assertEqual(response["id"], 7)
        self.assertIn("structuredContent", response["result"])

    def test_integer_progress_token(self):
        """ 6.1: a token may be an integer; it comes back unchanged. """
        sid = self.initialize()
        reply = self.call_tool("get_forecast", {"city": "Hangzhou"}, sid,
                               accept=ACCEPT_SSE, meta={"progressToken": 17})
        tokens = [m["params"]["progressToken"] for m in reply.messages()
                  if m.get("method") == "notifications/progress"]
        self.assertEqual(tokens, [17, 17, 17])

    def test_progress_token_must_be_a_string_or_integer(self):
        """ 6.1: a token is a string or an integer; any other value is no
        token at all: no notifications carry it. """
        sid = self.initialize()
        for token in ({}, [], None, 1.5, True, {"a": 1}):
            with self.subTest(token=token):
                reply = self.call_tool("get_weather", {"city": "Hangzhou"},
                                       sid, accept=ACCEPT_SSE,
                                       meta={"progressToken": token})
                self.assertEqual(reply.status, 200, reply.body)
                messages = reply.messages()
                self.assertEqual([m.get("id") for m in messages], [7])

    def test_no_progress_without_a_token(self):
        """ 6.1: no token, no notifications, even on an SSE stream. """
        sid = self.initialize()
        reply = self.call_tool("get_weather", {"city": "Hangzhou"}, sid,
                               accept=ACCEPT_SSE)
        messages = reply.messages()
        self.assertEqual(len(messages), 1, messages)
        self.assertEqual(messages[0]["id"], 7)

    def test_lone_surrogate_in_city(self):
        """ A lone surrogate ("\\ud800") in a city name is not text: it is
        an invalid argument (isError for 2025-11-25, -32602 before), the
        answer is valid UTF-8 JSON in every framing, nothing goes upstream,
        and the server goes on. """
        sid = self.initialize()
        for accept in (ACCEPT_JSON, ACCEPT_SSE, ACCEPT_NDJSON):
            with self.subTest(accept=accept):
                reply = self.call_tool("get_weather", {"city": "Hang\ud800"},
                                       sid, accept=accept,
                                       meta={"progressToken": 1})
                self.assertEqual(reply.status, 200, reply.body)
                self.assertNotIn(b"Traceback", reply.body)
                reply.body.decode("utf-8")          # strict UTF-8
                message = self.result_of(reply, 7)  # parses as JSON
                self.assertIs(message["result"]["isError"], True)
                self.assertIn("Invalid arguments",
                              message["result"]["content"][0]["text"])
        old = self.initialize("2025-06-18")
        reply = self.call_tool("get_forecast", {"city": "\udfff"}, old)
        self.assertRPCError(reply, 200, -32602, 7)
        self.assertEqual(self.upstream.requests, [])
        self.assertServing()

    def test_lone_surrogate_in_tool_name_is_echoed_as_valid_json(self):
        sid = self.initialize()
        reply = self.call_tool("get\udfff", {}, sid)
        message = self.assertRPCError(reply, 200, -32602, 7)
        self.assertEqual(message["error"]["message"], "Unknown tool: "
                         "get\udfff")


def weather_error(case):
    """ get_weather for Hangzhou on a new session of a ServerTestCase,
    asserting that it ends in a tool error (HTTP 200, isError): its text. """
    sid = case.initialize()
    reply = case.call_tool("get_weather", {"city": "Hangzhou"}, sid)
    case.assertEqual(reply.status, 200, reply.body)
    result = case.result_of(reply, 7)["result"]
    case.assertIs(result["isError"], True)
    return result["content"][0]["text"]


class WeatherTimeoutTests(ServerTestCase):
    """ WEATHER_TIMEOUT bounds each upstream request. """

    settings = {"weather_timeout": 0.5}

    def test_upstream_timeout_is_an_error_result(self):
        self.upstream.delay["geocoding"] = 2.0
        self.assertIn("Open-Meteo did not answer within 0.5 s",
                      weather_error(self))
        self.assertEqual(self.upstream.of("forecast"), [])


class UnreachableUpstreamTests(ServerTestCase):
    """ A weather service that refuses connections: isError, at once. """

    @classmethod
    def setUpClass(cls):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        cls.settings = {"geocoding_url": "http://127.0.0.1:%d/v1/search"
                        % probe.getsockname()[1]}
        probe.close()           # nothing listens there now
        super(UnreachableUpstreamTests, cls).setUpClass()

    def test_connection_refused_is_an_error_result(self):
        self.assertIn("could not reach Open-Meteo", weather_error(self))


class WeatherCacheTests(ServerTestCase):
    """ WEATHER_CACHE_TTL: places and weather are cached per place. """

    settings = {"cache_ttl": 600}

    def test_second_call_does_not_hit_upstream(self):
        """ One test, in order: the cache lives as long as the server. """
        sid = self.initialize()
        first = self.result_of(self.call_tool(
            "get_weather", {"city": "Paris"}, sid))["result"]
        self.assertEqual([r["kind"] for r in self.upstream.requests],
                         ["geocoding", "forecast"])
        second = self.result_of(self.call_tool(
            "get_weather", {"city": "paris"}, sid))["result"]
        self.assertEqual(len(self.upstream.requests), 2)
        self.assertEqual(first["structuredContent"],
                         second["structuredContent"])
        # the cached place serves the forecast; only the forecast is new
        self.result_of(self.call_tool("get_forecast", {"city": "Paris"},
                                      sid))
        self.assertEqual([r["kind"] for r in self.upstream.requests],
                         ["geocoding", "forecast", "forecast"])
        # failures are not cached: the next call asks again
        self.upstream.fail["forecast"] = 400
        failed = self.result_of(self.call_tool(
            "get_forecast", {"city": "Paris", "days": 5}, sid))["result"]
        self.assertIs(failed["isError"], True)
        del self.upstream.fail["forecast"]
        result = self.result_of(self.call_tool(
            "get_forecast", {"city": "Paris", "days": 5}, sid))["result"]
        self.assertNotIn("isError", result)
        self.assertEqual(len(self.upstream.of("forecast")), 4)


class SeniverseTests(ServerTestCase):
    """ Seniverse, the tutorial's provider, chosen by provider "auto" when a
    key is set.  The key goes upstream and nowhere else. """

    KEY = "SK-test-5e1f9a77c0ffee"
    settings = {"seniverse_key": KEY, "seniverse_language": "zh-Hans"}

    def test_get_weather_from_seniverse(self):
        with self.assertLogs("mcp_weather", "DEBUG") as logs:
            sid = self.initialize()
            reply = self.call_tool("get_weather", {"city": "杭州"}, sid)
        self.assertEqual(reply.status, 200, reply.body)
        result = self.result_of(reply, 7)["result"]
        self.assertNotIn("isError", result)
        data = result["structuredContent"]
        self.assertEqual(data["provider"], "Seniverse")
        self.assertEqual(data["temperature"], 12)
        self.assertEqual(data["conditions"], "多云")
        self.assertEqual(data["location"]["name"], "杭州")
        self.assertIn("杭州", result["content"][0]["text"])
        self.assertIn("12", result["content"][0]["text"])
        self.assertEqual(self.upstream.of("geocoding"), [])
        (request,) = self.upstream.of("seniverse")
        self.assertEqual(request["query"], {"key": self.KEY,
                                            "location": "杭州",
                                            "language": "zh-Hans",
                                            "unit": "c"})
        self.assertNotIn(self.KEY.encode(), reply.body)
        self.assertNotIn(self.KEY, "\n".join(logs.output))

    def test_get_forecast_from_seniverse(self):
        sid = self.initialize()
        reply = self.call_tool("get_forecast", {"city": "杭州", "days": 2},
                               sid)
        result = self.result_of(reply, 7)["result"]
        self.assertNotIn("isError", result, reply.body)
        days = result["structuredContent"]["days"]
        self.assertEqual([d["date"] for d in days],
                         ["2025-01-15", "2025-01-16"])
        self.assertEqual(days[1]["conditions"], "小雨")
        (request,) = self.upstream.of("seniverse_daily")
        self.assertEqual(request["query"]["days"], "2")
        self.assertEqual(request["query"]["key"], self.KEY)
        self.assertNotIn(self.KEY.encode(), reply.body)

    def test_seniverse_error_status_text(self):
        """ Seniverse's 403 becomes isError with its status text, and the
        key is in neither the result nor the logs. """
        self.upstream.fail["seniverse"] = 403
        with self.assertLogs("mcp_weather", "DEBUG") as logs:
            sid = self.initialize()
            reply = self.call_tool("get_weather", {"city": "hangzhou"}, sid)
        result = self.result_of(reply, 7)["result"]
        self.assertIs(result["isError"], True)
        text = result["content"][0]["text"]
        self.assertIn("HTTP 403", text)
        self.assertIn("The API key is invalid.", text)
        self.assertNotIn(self.KEY.encode(), reply.body)
        self.assertNotIn(self.KEY, "\n".join(logs.output))

    def test_unknown_location(self):
        result = self.result_of(self.call_tool(
            "get_weather", {"city": "Nowhere"}, self.initialize()))["result"]
        self.assertIs(result["isError"], True)
        self.assertIn("No place named 'Nowhere' was found",
                      result["content"][0]["text"])

    def test_key_redacted_in_log_notifications(self):
        """ 6.3: log messages to the client carry no secrets: the upstream
        URL in a debug notification has key=***. """
        sid = self.initialize()
        self.assertEqual(self.rpc("logging/setLevel", {"level": "debug"},
                                  sid).status, 200)
        reply = self.call_tool("get_weather", {"city": "hangzhou"}, sid,
                               accept=ACCEPT_SSE)
        logs = [m for m in reply.messages()
                if m.get("method") == "notifications/message"]
        self.assertTrue(any("key=***" in str(m["params"]["data"])
                            for m in logs), logs)
        self.assertNotIn(self.KEY.encode(), reply.body)


###############################################################################
# Issue 8: faulty weather services ############################################
###############################################################################

class UpstreamFaultTests(_RawUpstreamTestCase):
    """ Whatever a weather service does wrong (too slow, hangs, refuses,
    resets, answers 500, garbage, a cut or endless body), the tool call
    ends with an isError result a person can read, within WEATHER_TIMEOUT
    (plus the second the call allows for the helper thread), and the
    threads and descriptors it used are given back. """

    settings = {"weather_timeout": 0.5}
    FAULTS = [("hang", "did not answer within 0.5 s"),
              ("slow", "did not answer within 0.5 s"),
              ("trickle", "did not answer within 0.5 s"),
              ("reset", "could not reach Open-Meteo"),
              ("close", "could not reach Open-Meteo"),
              ("bad-status", "Open-Meteo sent a broken answer"),
              ("500", "Open-Meteo answered HTTP 500"),
              ("garbage", "not valid JSON"),
              ("truncated", "not valid JSON|broken answer"),
              ("truncated-chunked", "Open-Meteo sent a broken answer"),
              ("huge", "not valid JSON"),
              ("wrong-shape", "malformed|without current weather")]

    @classmethod
    def setUpClass(cls):
        cls.faulty = cls.beside(_FaultyUpstream())

    def call_expecting_error(self, sid, fault, text):
        started = time.monotonic()
        reply = self.call_tool("get_weather", {"city": "Hangzhou"}, sid)
        elapsed = time.monotonic() - started
        self.assertEqual(reply.status, 200, reply.body)
        result = self.result_of(reply, 7)["result"]
        self.assertIs(result.get("isError"), True, (fault, reply.body))
        self.assertRegex(result["content"][0]["text"], text)
        self.assertNotIn(b"Traceback", reply.body)
        # The bound a client relies on: the timeout, the helper's second,
        # and room for a busy machine.
        self.assertLess(elapsed, self.config.weather_timeout + 1 + 2.0,
                        fault)
        return elapsed

    def test_every_fault_is_an_error_result_in_time(self):
        sid = self.initialize()
        self.faulty.fault = None
        good = self.call_tool("get_weather", {"city": "Hangzhou"}, sid)
        self.assertNotIn("isError", self.result_of(good)["result"])
        threads, fds = threading.active_count(), _fd_count()
        times = {}
        for target in ("/v1/search", "/v1/forecast"):
            self.faulty.target = target
            for fault, text in self.FAULTS:
                with self.subTest(fault=fault, target=target):
                    self.faulty.fault = fault
                    times[target, fault] = self.call_expecting_error(
                        sid, fault, text)
        self.faulty.fault = None
        refused = self.refused(sid)
        self.assertServing()
        _wait_settled(self, threads, fds, "after the upstream faults")
        _report("upstream faults", "%d injected (%d kinds on geocoding and "
                "forecast, plus a refused connection), WEATHER_TIMEOUT "
                "0.5 s: slowest isError after %.2f s (%s); threads %d and "
                "descriptors %s back at baseline" % (
                    len(times) + 1, len(self.FAULTS), max(times.values()),
                    "/".join(max(times, key=times.get)), threads, fds))
        self.assertTrue(refused)

    def refused(self, sid):
        """ A service that refuses connections: point the geocoding URL at
        a port where nothing listens, for one call. """
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        saved = self.config.geocoding_url
        self.config.geocoding_url = "http://127.0.0.1:%d/v1/search" % port
        try:
            self.call_expecting_error(sid, "refused",
                                      "could not reach Open-Meteo")
        finally:
            self.config.geocoding_url = saved
        return True
