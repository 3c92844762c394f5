"""The request path made lean (issue 19): what the shortcuts remember or
skip must not change what goes on the wire.  A framing remembered per Accept
value (choose_framing) gives what parsing it anew gives, and a 406 stays a
406; request ids written without the JSON encoder (encode_json) and the keys
of calls in flight (request_key) still tell every id apart, so cancellation
(6.2) finds the call; Cancellation waits without keeping an Event; and a
quick request answered in JSON, which needs no stream (answer_at_once),
still becomes SSE when it sends a notification first (S23)."""

import json
import threading
import unittest

import mcp_weather
from tests.support import (ACCEPT_BOTH, TIMEOUT, ServerTestCase, _PROMPT,
                           _StreamTestCase, _is_method, _is_response,
                           _messages, _progress)


class RememberedFramingTests(ServerTestCase):
    """ S9 and B-9: the same Accept value, sent again and again, gets the
    same framing; one that accepts nothing is refused every time. """

    def ping(self, sid, accept, request_id):
        return self.post({"jsonrpc": "2.0", "id": request_id,
                          "method": "ping"},
                         {"Accept": accept, "Mcp-Session-Id": sid})

    def test_repeated_accept_values_keep_their_framing(self):
        sid = self.initialize()
        for round_number in range(3):
            for accept, media in ((ACCEPT_BOTH, "application/json"),
                                  ("text/event-stream", "text/event-stream"),
                                  ("application/x-ndjson",
                                   "application/x-ndjson")):
                with self.subTest(accept=accept, round=round_number):
                    reply = self.ping(sid, accept, 3)
                    self.assertEqual(reply.status, 200, reply.body)
                    self.assertEqual(reply.media_type, media)
                    self.assertEqual(reply.messages()[-1],
                                     {"jsonrpc": "2.0", "id": 3,
                                      "result": {}})

    def test_a_refused_accept_value_is_refused_again(self):
        """ A 406 is never remembered as a framing. """
        sid = self.initialize()
        for round_number in range(3):
            with self.subTest(round=round_number):
                reply = self.ping(sid, "text/html", 4)
                self.assertRPCError(reply, 406, -32600, 4)


class AnswerAtOnceTests(ServerTestCase):
    """ A request that cannot block, answered without a stream: what it
    sends besides its response must still reach the client as a stream
    would have carried it (S23), and a JSON body still holds only
    responses (S17). """

    @classmethod
    def setUpClass(cls):
        super(AnswerAtOnceTests, cls).setUpClass()

        def chatty(call):               # a quick method that talks first
            call.send(mcp_weather.notification(
                "notifications/message", {"level": "info", "data": "hi"}))
            return {"said": "hi"}
        cls.dispatcher.legacy_methods["example/chatty"] = chatty

    def test_a_notification_first_makes_the_answer_sse(self):
        sid = self.initialize()
        reply = self.rpc("example/chatty", session=sid, request_id=5,
                         accept=ACCEPT_BOTH)
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.media_type, "text/event-stream")
        messages = reply.messages()
        self.assertEqual([m.get("method") for m in messages],
                         ["notifications/message", None])
        self.assertEqual(messages[-1], {"jsonrpc": "2.0", "id": 5,
                                        "result": {"said": "hi"}})
        ids = [e.get("id") for e in reply.events() if e.get("data")]
        self.assertTrue(all(ids), "S39: a session's events carry ids")

    def test_a_json_only_client_gets_the_response_alone(self):
        sid = self.initialize()
        reply = self.rpc("example/chatty", session=sid, request_id=6,
                         accept="application/json")
        self.assertEqual(reply.status, 200, reply.body)
        self.assertEqual(reply.media_type, "application/json")
        self.assertEqual(reply.json(), {"jsonrpc": "2.0", "id": 6,
                                        "result": {"said": "hi"}})

    def test_quick_json_answers_keep_no_stream(self):
        """ Nothing is kept for replay when nothing was streamed: a session
        whose client asks for lists all day holds no streams (S39). """
        sid = self.initialize()
        for request_id in range(10, 15):
            reply = self.rpc("tools/list", session=sid,
                             request_id=request_id, accept=ACCEPT_BOTH)
            self.assertEqual(reply.media_type, "application/json")
        session = self.dispatcher.sessions.get(sid, "")
        self.assertEqual(dict(session.streams), {})


class RequestIdTests(ServerTestCase):
    """ 4.0: a response carries its request's id exactly as sent. """

    def test_integer_and_string_ids_come_back_byte_for_byte(self):
        sid = self.initialize()
        for request_id, text in ((0, b'"id":0,'), (-7, b'"id":-7,'),
                                 (2 ** 53 + 1, b'"id":9007199254740993,'),
                                 ("7", b'"id":"7",'),
                                 ("\u00e9t\u00e9", '"id":"\u00e9t\u00e9",'
                                  .encode("utf-8"))):
            with self.subTest(request_id=request_id):
                reply = self.rpc("tools/list", session=sid,
                                 request_id=request_id,
                                 accept="application/json")
                self.assertEqual(reply.status, 200, reply.body)
                self.assertIn(text, reply.body)
                self.assertEqual(json.loads(reply.body)["id"], request_id)

    def test_encode_json_writes_integers_as_json_does(self):
        for value in (0, 1, -1, 10 ** 40, True, False, None, 1.5, "1"):
            with self.subTest(value=value):
                self.assertEqual(mcp_weather.encode_json(value),
                                 json.dumps(value).encode())

    def test_request_keys_tell_ids_apart(self):
        keys = [mcp_weather.request_key(v)
                for v in (1, "1", "\u00e9", "\\u00e9", 10 ** 20)]
        self.assertEqual(len(set(keys)), len(keys))


class CancelByStringIdTests(_StreamTestCase):
    """ 6.2: notifications/cancelled names the request by its id, here a
    string that is not ASCII: the call in flight is found and stopped. """

    def test_cancel_a_call_whose_id_is_not_ascii(self):
        tool, sid = self.gated(), self.initialize()
        request_id = "r\u00e9q-\u4e00"
        call = self.open_call(sid, tool.name, meta=_progress(),
                              request_id=request_id)
        call.until_message(_is_method("notifications/progress"))
        self.assertEqual(list(self.session_of(sid).inflight),
                         [mcp_weather.request_key(request_id)])
        self.assertEqual(self.notify("notifications/cancelled",
                                     {"requestId": request_id}, sid).status,
                         202)
        tool.wait("cancelled_runs", 1)
        ended = call.rest(_PROMPT)
        self.assertEqual([m for m in _messages(ended) if _is_response(m)],
                         [])


class CancellationWaitTests(unittest.TestCase):
    """ Cancellation.wait(): True once set (before or during the wait),
    False when the timeout passes first. """

    def test_wait_times_out_unset(self):
        self.assertFalse(mcp_weather.Cancellation().wait(0.01))

    def test_wait_returns_at_once_when_already_set(self):
        cancellation = mcp_weather.Cancellation()
        cancellation.set()
        self.assertTrue(cancellation.is_set())
        self.assertTrue(cancellation.wait(TIMEOUT))

    def test_set_wakes_a_waiter(self):
        cancellation, woken = mcp_weather.Cancellation(), []
        waiter = threading.Thread(
            target=lambda: woken.append(cancellation.wait(TIMEOUT)))
        waiter.start()
        cancellation.set()
        waiter.join(TIMEOUT)
        self.assertEqual(woken, [True])
