# -*- coding: utf-8 -*-
"""subscriptions/listen (2026-07-28, SEP-2575; checklist 5.1, 6.2, S37) and
resources that change by themselves (ResourceWatch), on the wire.

A 2026-07-28 client POSTs subscriptions/listen with a filter; the answer is
an SSE stream whose first message acknowledges the honoured filter, then
carries the list changes and resource updates asked for, each tagged with
_meta["io.modelcontextprotocol/subscriptionId"] (the listen request's id),
with keep-alives, until the client closes it or the server ends it with a
response (shutdown).  The weather resources really change: a watched
weather://{city}/current is re-read every --watch-interval seconds and its
watchers hear when it differs."""

import json
import signal
import subprocess
import sys
import unittest
import unittest.mock

import mcp_weather
from tests import support
from tests.support import (ACCEPT_JSON, ACK, FakeUpstream, ListenTestCase,
                           SERVER_FILE, SUBSCRIPTION, TIMEOUT, _EventStream,
                           _StreamTestCase, _is_method, _messages,
                           _server_env, is_data, wait_for)

HANGZHOU = "weather://Hangzhou/current"
WARMER = support.CURRENT_BODY.replace('"temperature_2m":4.8',
                                      '"temperature_2m":9.5')


class ListenTests(ListenTestCase):

    def test_acknowledgement_first_then_tagged_changes(self):
        """ 5.1: the acknowledgement comes first; a change of the tool list
        follows, tagged with the listen request's id; the request gets no
        response while the stream is open. """
        stream = self.listen({"toolsListChanged": True})
        self.assertEqual(self.acknowledged(stream),
                         {"toolsListChanged": True})
        self.listening()
        self.change_tools()
        message = stream.until_message(
            _is_method("notifications/tools/list_changed"))
        self.assertEqual(message["params"]["_meta"], {SUBSCRIPTION: "L1"})
        self.assertTrue(all("id" not in m for m in _messages(stream.events)))

    def test_only_what_was_asked_for(self):
        """ The server MUST NOT send types the client did not request: a
        stream for prompt changes hears nothing of the tools. """
        stream = self.listen({"promptsListChanged": True}, request_id=41)
        self.assertEqual(self.acknowledged(stream, 41),
                         {"promptsListChanged": True})
        self.listening()
        self.change_tools()
        self.change_prompts()
        message = stream.until(is_data)
        self.assertEqual(json.loads(message["data"])["method"],
                         "notifications/prompts/list_changed")
        self.assertEqual(json.loads(message["data"])["params"]["_meta"],
                         {SUBSCRIPTION: 41})

    def test_bad_filters_are_refused(self):
        """ A filter that asks for nothing, or is malformed, is -32602,
        answered as JSON: no stream is opened. """
        for params in ({"notifications": {}}, {},
                       {"notifications": {"toolsListChanged": False}},
                       {"notifications": []},
                       {"notifications": {"toolsListChanged": "yes"}},
                       {"notifications": {"resourceSubscriptions": "x"}},
                       {"notifications": {"resourceSubscriptions": [1]}}):
            with self.subTest(params=params):
                self.refused(params)
        self.assertEqual(self.dispatcher.listeners, [])

    def test_unknown_uris_are_left_out(self):
        """ The acknowledgement lists what will be sent: URIs that name no
        resource are omitted, never echoed; when nothing is left the
        stream ends at once with the response. """
        stream = self.listen({"resourceSubscriptions": [
            HANGZHOU, "nope://x", HANGZHOU]})
        self.assertEqual(self.acknowledged(stream),
                         {"resourceSubscriptions": [HANGZHOU]})
        stream.cut()
        stream = self.listen({"resourceSubscriptions": ["nope://x"]},
                             request_id="L2")
        self.assertEqual(self.acknowledged(stream, "L2"), {})
        rest = stream.rest()
        self.assertTrue(stream.ended)
        response = _messages(rest)[-1]
        self.assertEqual(response["id"], "L2")
        self.assertEqual(response["result"]["_meta"][SUBSCRIPTION], "L2")

    def test_json_only_client_is_refused(self):
        """ The answer is a stream: a client that accepts only JSON gets
        406, not a stream it cannot read. """
        message = self.modern_message("subscriptions/listen", {
            "notifications": {"toolsListChanged": True}}, 3)
        reply = self.post(message, self.modern_headers(
            message, accept=ACCEPT_JSON))
        self.assertRPCError(reply, 406, -32600, 3)

    def test_closing_the_stream_ends_the_subscription(self):
        """ 6.2: a client that closes the stream has cancelled it; the
        server forgets it at the next keep-alive (KeepAlives sees the
        client gone and lets the stream's thread go). """
        stream = self.listen({"toolsListChanged": True})
        self.acknowledged(stream)
        self.listening()
        stream.cut()
        wait_for(lambda: self.dispatcher.listeners == [],
                 message="the server kept a closed listen stream")
        self.change_tools()         # nobody to tell: nothing breaks

    def test_server_ends_the_stream_gracefully(self):
        """ At shutdown (MCPServer.drain calls end_listeners) the listen
        request gets its response, with the subscription id, and the
        stream ends cleanly. """
        stream = self.listen({"toolsListChanged": True}, request_id=5)
        self.acknowledged(stream, 5)
        self.listening()
        self.dispatcher.end_listeners()
        rest = stream.rest()
        self.assertTrue(stream.ended)
        response = _messages(rest)[-1]
        self.assertEqual(response["id"], 5)
        self.assertEqual(response["result"]["resultType"], "complete")
        self.assertEqual(response["result"]["_meta"][SUBSCRIPTION], 5)
        wait_for(lambda: self.dispatcher.listeners == [])

    def test_capabilities_say_so(self):
        """ 4.3: 2026-07-28 declares listChanged and subscribe, delivered
        on listen streams (even --stateless: no session needed). """
        result = self.assertModernResult(self.modern("server/discover"))
        caps = result["capabilities"]
        self.assertEqual(caps["tools"], {"listChanged": True})
        self.assertEqual(caps["prompts"], {"listChanged": True})
        self.assertEqual(caps["resources"],
                         {"listChanged": True, "subscribe": True})

    def test_legacy_clients_cannot_listen(self):
        """ subscriptions/listen is 2026-07-28 only: a 2025 session gets
        -32601 and keeps resources/subscribe and its GET stream. """
        session = self.initialize()
        reply = self.rpc("subscriptions/listen", {
            "notifications": {"toolsListChanged": True}}, session)
        self.assertEqual(self.result_of(reply)["error"]["code"], -32601)


class ListenerBacklogTests(unittest.TestCase):
    """ A client that stops reading cannot make the server hold an
    unbounded backlog: past the stream's limit the subscription is
    dropped, and its stream ends (without a response). """

    def test_backlog_past_the_limit_drops_the_subscription(self):
        stream = mcp_weather.Stream(0, 3, replayable=False)
        listener = mcp_weather.Listener("L", {"toolsListChanged": True},
                                        stream.push, stream)
        change = mcp_weather.notification(
            "notifications/tools/list_changed", {})
        with self.assertLogs("mcp_weather", "WARNING"):
            for _ in range(5):
                listener.notify(change)
        self.assertTrue(listener.ended)
        self.assertTrue(stream.finished)
        self.assertEqual(len(stream.events), 3)
        self.assertTrue(all("id" not in m for _, m in stream.events))

    def test_only_the_filter_passes(self):
        sent = []
        listener = mcp_weather.Listener(
            7, {"resourceSubscriptions": ["a://1"]}, sent.append)
        for method, params in (
                ("notifications/tools/list_changed", {}),
                ("notifications/resources/updated", {"uri": "a://2"}),
                ("notifications/resources/updated", {"uri": "a://1"})):
            listener.notify(mcp_weather.notification(method, params))
        self.assertEqual(sent, [{
            "jsonrpc": "2.0", "method": "notifications/resources/updated",
            "params": {"uri": "a://1", "_meta": {SUBSCRIPTION: 7}}}])


class ListenLimitTests(ListenTestCase):
    """ --max-client-listens: one client cannot hold every thread. """

    settings = {"max_client_listens": 2, "watch_interval": 0}

    def test_third_stream_of_one_client_is_refused(self):
        streams = [self.listen({"toolsListChanged": True}, "L%d" % n)
                   for n in (1, 2)]
        for n, stream in enumerate(streams, 1):
            self.acknowledged(stream, "L%d" % n)
        reply = self.modern("subscriptions/listen", {
            "notifications": {"toolsListChanged": True}}, 3)
        message = self.assertRPCError(reply, 200, -32600, 3)
        self.assertIn("--max-client-listens", message["error"]["message"])
        streams[0].cut()
        wait_for(lambda: len(self.dispatcher.listeners) == 1)
        again = self.listen({"toolsListChanged": True}, "L3")
        self.acknowledged(again, "L3")


class ListenKeepAliveTests(ListenTestCase):
    """ Keep-alives as on every stream, so proxies do not cut it. """

    settings = {"keepalive": 0.2, "watch_interval": 0}

    def test_keep_alive_comments(self):
        stream = self.listen({"toolsListChanged": True})
        self.acknowledged(stream)
        event = stream.until(lambda e: "comment" in e)
        self.assertEqual(event["comment"].strip(), "keep-alive")


class ResourceWatchTests(ListenTestCase):
    """ The weather resources change by themselves: a watched city is
    re-read every --watch-interval seconds; a difference is an update. """

    def test_listen_stream_hears_the_weather_change(self):
        stream = self.listen({"resourceSubscriptions": [HANGZHOU]})
        self.assertEqual(self.acknowledged(stream),
                         {"resourceSubscriptions": [HANGZHOU]})
        self.upstream.wait_requests(1, "forecast")      # the baseline
        with unittest.mock.patch.object(support, "CURRENT_BODY", WARMER):
            message = stream.until_message(
                _is_method("notifications/resources/updated"))
        self.assertEqual(message["params"], {
            "uri": HANGZHOU, "_meta": {SUBSCRIPTION: "L1"}})
        read = self.assertModernResult(self.modern("resources/read", {
            "uri": HANGZHOU}, headers={"Mcp-Name": HANGZHOU}))
        self.assertIn("4.8", read["contents"][0]["text"])   # back again

    def test_unchanged_weather_sends_nothing(self):
        """ Re-reads that find the same data say nothing; the tool list
        change is the first message after the acknowledgement. """
        stream = self.listen({"resourceSubscriptions": [HANGZHOU],
                              "toolsListChanged": True})
        self.acknowledged(stream)
        self.upstream.wait_requests(3, "forecast")      # three reads
        self.change_tools()
        message = stream.until(is_data)
        self.assertEqual(json.loads(message["data"])["method"],
                         "notifications/tools/list_changed")

    def test_legacy_subscription_hears_it_on_the_get_stream(self):
        """ 2025 sessions watch with resources/subscribe; the update comes
        on their GET stream. """
        session = self.initialize()
        get = self.open_get(session)
        reply = self.rpc("resources/subscribe", {"uri": HANGZHOU}, session)
        self.assertEqual(self.result_of(reply)["result"], {})
        self.upstream.wait_requests(1, "forecast")
        with unittest.mock.patch.object(support, "CURRENT_BODY", WARMER):
            message = get.until_message(
                _is_method("notifications/resources/updated"))
        self.assertEqual(message["params"], {"uri": HANGZHOU})
        self.rpc("resources/unsubscribe", {"uri": HANGZHOU}, session)

    def test_nobody_watching_costs_nothing(self):
        """ No watcher: no thread and nothing remembered; the last watcher
        leaving stops the re-reads. """
        stream = self.listen({"resourceSubscriptions": [HANGZHOU]})
        self.acknowledged(stream)
        self.upstream.wait_requests(1, "forecast")
        thread = self.dispatcher.watch.thread
        self.assertIsNotNone(thread)
        stream.cut()
        wait_for(lambda: self.dispatcher.watch.thread is None,
                 message="the watch thread outlived its last watcher")
        thread.join(TIMEOUT)
        self.assertFalse(thread.is_alive())
        self.assertEqual(self.dispatcher.watch.seen, {})


class ListenStdioTests(unittest.TestCase):
    """ Over stdio the listen request shares the one channel: the
    acknowledgement (tagged) comes on stdout, the rest of the session goes
    on, and a notifications/cancelled naming the listen id ends it; at
    the end of input the server exits 0 without answering it. """

    def test_listen_over_stdio(self):
        upstream = FakeUpstream().start()
        self.addCleanup(upstream.stop)
        meta = {"_meta": {"io.modelcontextprotocol/protocolVersion":
                          "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {}}}
        lines = [
            {"jsonrpc": "2.0", "id": "s1", "method": "subscriptions/listen",
             "params": dict(meta, notifications={"toolsListChanged": True})},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list",
             "params": meta},
            {"jsonrpc": "2.0", "method": "notifications/cancelled",
             "params": {"requestId": "s1"}}]
        proc = subprocess.Popen(
            [sys.executable, SERVER_FILE, "--stdio", "--log-level", "debug"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=_server_env(upstream))
        out, err = proc.communicate(b"".join(
            json.dumps(line).encode() + b"\n" for line in lines), TIMEOUT)
        self.assertEqual(proc.returncode, 0, err)
        messages = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(messages[0]["method"], ACK)
        self.assertEqual(messages[0]["params"]["_meta"], {SUBSCRIPTION: "s1"})
        self.assertEqual(messages[1]["id"], 2)
        self.assertEqual(len(messages), 2, messages)    # no listen response
        self.assertIn(b"cancel 's1' (): stopped", err)  # the listener found
        self.assertNotIn(b"Traceback", err)


class ReadTellsWatchersTests(ListenTestCase):
    """ Between re-reads (here an hour apart), any client's resources/read
    of a watched URI that finds new data tells the watchers at once. """

    settings = {"watch_interval": 3600.0}

    def test_a_read_that_finds_new_data_is_an_update(self):
        stream = self.listen({"resourceSubscriptions": [HANGZHOU]})
        self.acknowledged(stream)
        self.upstream.wait_requests(1, "forecast")      # the baseline read
        wait_for(lambda: self.dispatcher.watch.seen.get(HANGZHOU))
        with unittest.mock.patch.object(support, "CURRENT_BODY", WARMER):
            read = self.assertModernResult(self.modern(
                "resources/read", {"uri": HANGZHOU},
                headers={"Mcp-Name": HANGZHOU}))
        self.assertIn("9.5", read["contents"][0]["text"])
        message = stream.until_message(
            _is_method("notifications/resources/updated"))
        self.assertEqual(message["params"]["uri"], HANGZHOU)
        self.assertEqual(len(self.upstream.of("forecast")), 2)  # no poll


class ListenShutdownTests(unittest.TestCase):
    """ SIGTERM: a listen stream ends with its response, the process
    exits 0 (the server's own shutdown path, MCPServer.drain). """

    def test_sigterm_answers_the_listen_request(self):
        upstream = FakeUpstream().start()
        self.addCleanup(upstream.stop)
        proc, port, lines, reader = support.spawn_server(self, upstream)
        message = _StreamTestCase.modern_message(
            "subscriptions/listen", {"notifications": {
                "toolsListChanged": True}}, "sub")
        headers = _StreamTestCase.modern_headers(message)
        headers["Content-Type"] = "application/json"
        stream = _EventStream(port, "POST", message, headers)
        self.addCleanup(stream.cut)
        self.assertEqual(json.loads(stream.until(is_data)["data"])["method"],
                         ACK)
        proc.send_signal(signal.SIGTERM)
        rest = stream.rest()
        self.assertTrue(stream.ended)
        response = _messages(rest)[-1]
        self.assertEqual(response["id"], "sub")
        self.assertEqual(response["result"]["_meta"][SUBSCRIPTION], "sub")
        self.assertEqual(proc.wait(TIMEOUT), 0, "".join(lines))
        reader.join(TIMEOUT)
        self.assertNotIn("Traceback", "".join(lines))


if __name__ == "__main__":
    unittest.main()
