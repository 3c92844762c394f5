"""What the performance work (issue 7) must keep: pooled upstream
connections and the proxy, header parsing, the shapes of upstream answers,
turns, alarms and the kept entries of tools/list."""

import copy
import os
import threading
import time
import unittest

import mcp_weather
from tests.support import (ACCEPT_JSON, LATEST, RawUpstream, ServerTestCase,
                           TIMEOUT, raw_exchange, status_of, wait_for)


###############################################################################
# Issue 7: performance (behaviour the optimizations must keep) ################
###############################################################################

def weather_calls(case, count):
    """ count get_weather calls for Hangzhou on one new session of a
    ServerTestCase, each of them a good result. """
    sid = case.initialize()
    for request_id in range(1, count + 1):
        reply = case.call_tool("get_weather", {"city": "Hangzhou"}, sid,
                               request_id=request_id)
        result = case.result_of(reply, request_id)["result"]
        case.assertFalse(result.get("isError"), result)
        case.assertIn("Hangzhou", result["content"][0]["text"])


class UpstreamConnectionTests(ServerTestCase):
    """ Issue 7: weather requests go over kept-alive connections that later
    calls reuse; one the service closed meanwhile is replaced unseen. """

    def connections_for_calls(self, count):
        """ count get_weather calls on one session: the upstream connections
        (client ports) their requests came on. """
        weather_calls(self, count)
        requests = self.upstream.requests
        self.assertEqual([r["kind"] for r in requests],
                         ["geocoding", "forecast"] * count)
        return set(r["client"] for r in requests)

    def test_calls_reuse_one_upstream_connection(self):
        self.assertEqual(len(self.connections_for_calls(3)), 1)

    def test_connection_closed_by_the_service_is_replaced(self):
        """ The service closes each connection after the geocoding answer,
        without a Connection: close header: the forecast request finds its
        kept-alive connection closed and goes out again on a new one. """
        self.upstream.hang_up.add("geocoding")
        self.assertEqual(len(self.connections_for_calls(2)), 3)


class UpstreamProxyTests(ServerTestCase):
    """ Issue 7: a proxy named by http_proxy is still used (through urllib):
    the weather host below does not resolve, so only a request sent to the
    proxy (the fake upstream) can be answered. """

    @classmethod
    def setUpClass(cls):
        cls.saved = dict((k, os.environ.get(k)) for k in (
            "http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"))
        for name in cls.saved:
            os.environ.pop(name, None)
        cls.settings = {"geocoding_url": "http://weather.invalid/v1/search",
                        "forecast_url": "http://weather.invalid/v1/forecast"}
        super(UpstreamProxyTests, cls).setUpClass()
        # read by the server at its first upstream request, as urllib does
        os.environ["http_proxy"] = cls.upstream.base_url

    @classmethod
    def tearDownClass(cls):
        for name, value in cls.saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value
        super(UpstreamProxyTests, cls).tearDownClass()

    def test_weather_goes_through_the_proxy(self):
        sid = self.initialize()
        reply = self.call_tool("get_weather", {"city": "Hangzhou"}, sid)
        result = self.result_of(reply, 7)["result"]
        self.assertFalse(result.get("isError"), result)
        self.assertEqual([r["kind"] for r in self.upstream.requests],
                         ["geocoding", "forecast"])


class HeaderParsingTests(ServerTestCase):
    """ Issue 7: the handler reads header fields itself, not through the
    email package; the limits and the rules of RFC 9112 5 hold. """

    def ping(self, headers, request_line=b"POST /mcp HTTP/1.1"):
        body = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
        sid = self.initialize(version="2025-03-26")
        lines = [request_line, b"Host: 127.0.0.1",
                 b"Content-Type: application/json", b"Connection: close",
                 b"Mcp-Session-Id: " + sid.encode(),
                 b"Content-Length: %d" % len(body)] + list(headers)
        request = b"\r\n".join(lines) + b"\r\n\r\n" + body
        return raw_exchange(self.port, request)

    def test_field_names_are_case_insensitive(self):
        raw = self.ping([b"aCCEPT: application/json",
                         b"MCP-PROTOCOL-VERSION: 2025-03-26"])
        self.assertEqual(status_of(raw), 200, raw)

    def test_whitespace_before_the_colon_is_400(self):
        """ RFC 9112 5.1: such a field is refused, not dropped along with
        every field after it. """
        raw = self.ping([b"Accept : application/json"])
        self.assertEqual(status_of(raw), 400, raw)
        raw = self.ping([b"Accept: application/json", b"no colon here"])
        self.assertEqual(status_of(raw), 400, raw)

    def test_folded_line_continues_the_field(self):
        """ RFC 9112 5.2: an obs-fold is replaced by a space, so the media
        type on the continuation line still counts. """
        raw = self.ping([b"Accept: text/plain,", b" application/json"])
        self.assertEqual(status_of(raw), 200, raw)
        self.assertIn(b"Content-Type: application/json", raw)

    def test_limits_are_431(self):
        many = [b"X-Field-%d: 1" % i for i in range(101)]
        raw = self.ping([b"Accept: application/json"] + many)
        self.assertEqual(status_of(raw), 431, raw)
        raw = self.ping([b"Accept: application/json",
                         b"X-Long: " + b"a" * 70000])
        self.assertEqual(status_of(raw), 431, raw)

    def test_conflicting_lengths_in_any_case_are_400(self):
        raw = self.ping([b"Accept: application/json",
                         b"content-length: 3"])
        self.assertEqual(status_of(raw), 400, raw)

    def test_request_line_versions(self):
        # HTTP/2.0 on an HTTP/1.1 connection is a bad request, not 505: a
        # fuzzed request line never earns a 5xx (issue 8).
        raw = self.ping([b"Accept: application/json"],
                        b"POST /mcp HTTP/2.0")
        self.assertEqual(status_of(raw), 400, raw)
        for line in (b"POST /mcp HTTP/1.x", b"POST /mcp HTTP/\xb2.1",
                     b"POST /mcp FTP/1.1", b"POST /mcp"):
            with self.subTest(line=line):
                raw = self.ping([b"Accept: application/json"], line)
                self.assertEqual(status_of(raw), 400, raw)


class UpstreamAnswerShapeTests(ServerTestCase):
    """ Issue 7: the weather client reads answers itself (no http.client):
    chunked, close-delimited and interim-first answers all work, and a
    kept-alive connection is reused only when the answer allows it. """

    def weather_from(self, shape, calls=2):
        raw = RawUpstream(shape)
        self.addCleanup(raw.stop)
        config = self.server.config         # the provider reads it per call
        saved = (config.geocoding_url, config.forecast_url)
        self.addCleanup(setattr, config, "geocoding_url", saved[0])
        self.addCleanup(setattr, config, "forecast_url", saved[1])
        config.geocoding_url = raw.base_url + "/v1/search"
        config.forecast_url = raw.base_url + "/v1/forecast"
        weather_calls(self, calls)
        return raw

    def test_chunked_answers(self):
        raw = self.weather_from("chunked")
        self.assertEqual(len(raw.requests), 4)

    def test_answers_that_end_with_the_connection(self):
        raw = self.weather_from("close")
        self.assertEqual(len(raw.requests), 4)

    def test_interim_answer_is_skipped(self):
        raw = self.weather_from("interim")
        self.assertEqual(len(raw.requests), 4)


class TurnsTests(unittest.TestCase):
    """ Issue 7: connection threads take turns at the CPU-bound part of a
    request, first come first served; a stuck holder loses its turn to the
    next in line after Turns.patience; a holder about to wait gives the
    turn to the next in line. """

    def queue(self, turns, count, order):
        """ count threads in line for the turn, in order; each notes its
        number in order once it has the turn, then gives it back. """
        threads = []

        def wait_turn(number):
            turns.take()
            order.append(number)
            turns.give()
        for number in range(count):
            thread = threading.Thread(target=wait_turn, args=(number,))
            thread.start()
            threads.append(thread)
            wait_for(lambda: len(turns._line) == number + 1)
        return threads

    def test_turns_go_in_arrival_order(self):
        turns, order = mcp_weather.Turns(), []
        turns.take()
        threads = self.queue(turns, 5, order)
        turns.give()                    # e.g. about to wait: the line goes on
        for thread in threads:
            thread.join(TIMEOUT)
        self.assertEqual(order, [0, 1, 2, 3, 4])
        self.assertIsNone(turns._holder)        # the last gave it back
        turns.take()                    # after the wait: a new turn
        self.assertEqual(turns._holder, threading.get_ident())
        turns.give()

    def test_a_stuck_holder_loses_the_turn_to_the_line(self):
        turns, order = mcp_weather.Turns(), []
        turns.patience = 0.2
        started = time.monotonic()
        turns.take()                    # and never give it (stuck)
        threads = self.queue(turns, 3, order)
        for thread in threads:
            thread.join(TIMEOUT)
        self.assertEqual(order, [0, 1, 2])     # still in arrival order
        self.assertGreaterEqual(time.monotonic() - started, 0.15)
        turns.give()                    # no longer the holder: nothing
        self.assertIsNone(turns._holder)

    def test_give_without_the_turn_does_nothing(self):
        turns = mcp_weather.Turns()
        turns.give()
        turns.take()
        thread = threading.Thread(target=turns.give)
        thread.start()
        thread.join(TIMEOUT)
        self.assertEqual(turns._holder, threading.get_ident())
        turns.give()
        self.assertIsNone(turns._holder)


class AlarmsTests(unittest.TestCase):
    """ Issue 7: deadlines without socket timeouts.  An alarm runs its
    function once its delay has passed, unless cleared first; alarms of
    different delays fire in the order they fall due; one that fails does
    not stop the rest; an idle watcher thread ends (nothing accumulates,
    which the soak's thread counts rely on) and the next alarm starts
    another. """

    def setUp(self):
        self.alarms, self.fired = mcp_weather.Alarms(), []
        self.done = threading.Event()

    def note(self, name, last=False):
        def function():
            self.fired.append(name)
            if last:
                self.done.set()
        return function

    def test_an_alarm_fires_after_its_delay(self):
        started = time.monotonic()
        alarm = self.alarms.set(0.05, self.note("a", last=True))
        self.assertTrue(self.done.wait(TIMEOUT))
        self.assertGreaterEqual(time.monotonic() - started, 0.05)
        self.assertTrue(self.alarms.clear(alarm))       # it had fired
        self.assertEqual(self.fired, ["a"])

    def test_a_cleared_alarm_never_fires(self):
        alarm = self.alarms.set(0.05, self.note("cleared"))
        self.assertFalse(self.alarms.clear(alarm))      # not fired yet
        self.alarms.set(0.15, self.note("later", last=True))
        self.assertTrue(self.done.wait(TIMEOUT))        # past the first one
        self.assertEqual(self.fired, ["later"])

    def test_a_sooner_alarm_set_later_fires_first(self):
        self.alarms.set(0.3, self.note("slow", last=True))
        self.alarms.set(0.02, self.note("fast"))
        self.assertTrue(self.done.wait(TIMEOUT))
        self.assertEqual(self.fired, ["fast", "slow"])

    def test_a_failing_alarm_does_not_stop_the_rest(self):
        def fail():
            raise RuntimeError("boom")
        with self.assertLogs("mcp_weather", "ERROR") as logs:
            self.alarms.set(0.01, fail)
            self.alarms.set(0.05, self.note("next", last=True))
            self.assertTrue(self.done.wait(TIMEOUT))
        self.assertEqual(self.fired, ["next"])
        self.assertIn("alarm failed", logs.output[0])

    def test_an_idle_watcher_ends_and_the_next_alarm_starts_another(self):
        self.alarms.idle_timeout = 0.05
        self.alarms.set(0.01, self.note("first", last=True))
        watcher = self.alarms._watcher
        self.assertTrue(self.done.wait(TIMEOUT))
        watcher.join(TIMEOUT)
        self.assertFalse(watcher.is_alive())
        self.assertIsNone(self.alarms._watcher)
        self.done.clear()
        self.alarms.set(0.01, self.note("second", last=True))
        self.assertTrue(self.done.wait(TIMEOUT))
        self.assertEqual(self.fired, ["first", "second"])


class KeptToolEntriesTests(ServerTestCase):
    """ Issue 7: tools/list entries are built once per revision and kept
    encoded; the answer is byte for byte what encoding it whole gives, and
    a tool changed through its attributes is listed as changed. """

    settings = {"page_size": 1}

    def assertEncodedWhole(self, reply):
        self.assertEqual(reply.status, 200, reply.body)
        whole = mcp_weather.COMPACT_JSON.encode(reply.json())
        self.assertEqual(reply.body, whole.encode("utf-8") + b"\n")

    def test_listing_bytes_match_a_whole_encoding(self):
        for version in ("2025-03-26", "2025-11-25"):
            with self.subTest(version=version):
                sid = self.initialize(version=version)
                first = self.rpc("tools/list", session=sid, request_id=5,
                                 accept=ACCEPT_JSON)
                self.assertEncodedWhole(first)
                cursor = first.json()["result"]["nextCursor"]
                second = self.rpc("tools/list", {"cursor": cursor},
                                  session=sid, request_id="six",
                                  accept=ACCEPT_JSON)
                self.assertEncodedWhole(second)
                third = self.rpc("tools/list", {"cursor": second.json()[
                    "result"]["nextCursor"]}, session=sid, request_id=7,
                    accept=ACCEPT_JSON)
                self.assertEncodedWhole(third)
                self.assertNotIn("nextCursor", third.json()["result"])

    def test_changed_tool_is_listed_changed(self):
        tool = self.dispatcher.tools.get("get_weather")
        saved = tool.description
        self.addCleanup(setattr, tool, "description", saved)
        sid = self.initialize()
        tool.description = "Weather, now."
        reply = self.rpc("tools/list", session=sid, accept=ACCEPT_JSON)
        self.assertEncodedWhole(reply)
        self.assertEqual(reply.json()["result"]["tools"][0]["description"],
                         "Weather, now.")

    def test_kept_entries_are_read_only(self):
        entry = self.dispatcher.tools.get("get_weather").describe(LATEST)
        with self.assertRaises(TypeError):
            entry["description"] = "changed"
        with self.assertRaises(TypeError):
            entry.update(title="changed")
        copied = copy.deepcopy(entry)
        copied["description"] = "changed"           # a plain dict
        self.assertIs(type(copied), dict)
        self.assertNotEqual(entry["description"], "changed")
