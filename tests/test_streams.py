"""Streams that survive (issue 3): the GET stream (S32-S36, B-17),
resumability with Last-Event-ID (S38-S42, S28, B-18), the replay buffer,
and SSE polling (the server closes, the client comes back)."""

import json
import sys
import threading
import time

from tests.support import (ACCEPT_BOTH, ACCEPT_JSON, ACCEPT_SSE, TIMEOUT,
                           _PROMPT, _StreamTestCase, _events_only, _is_method,
                           _is_response, _message_events, _messages,
                           _progress, _split_id, wait_for)


###############################################################################
# Issue 3: the GET stream (S32-S36, B-17) #####################################
###############################################################################

class GetStreamTests(_StreamTestCase):
    """ GET /mcp: the standalone stream for messages not tied to a request
    (S32-S36), with keep-alives, replaced (never 409) by a new GET. """

    settings = {"keepalive": 0.2}

    def test_get_answers_an_event_stream_with_priming_event(self):
        """ S33: 200 text/event-stream for a live session; S30 headers; a
        2025-11-25 session gets a priming event (id, retry, empty data)
        whose id names stream 0 of this session (S19, S40). """
        sid = self.initialize()
        stream = self.open_get(sid)
        self.assertEqual(stream.status, 200)
        self.assertEqual(stream.headers.get("Content-Type"),
                         "text/event-stream")
        self.assertEqual(stream.headers.get("Cache-Control"),
                         "no-cache, no-transform")
        self.assertEqual(stream.headers.get("X-Accel-Buffering"), "no")
        first = stream.until(lambda e: "comment" not in e)
        self.assertEqual(first["data"], "")
        self.assertEqual(first["retry"], 1000)
        tag, number, _ = _split_id(first["id"])
        self.assertEqual(number, 0)
        self.assertEqual(tag, self.session_of(sid).tag)
        self.assertNotIn(sid, first["id"])      # the secret id stays out

    def test_keepalive_comment_arrives(self):
        """ B-13, S30: a ':' comment while the stream is idle
        (keepalive=0.2 s), and the stream stays open after it. """
        sid = self.initialize()
        stream = self.open_get(sid)
        stream.until(lambda e: "comment" in e)
        stream.until(lambda e: "comment" in e)
        self.assertFalse(stream.ended)
        self.assertEqual([e["comment"].strip() for e in stream.events
                          if "comment" in e][:2],
                         ["keep-alive", "keep-alive"])

    def test_list_changed_goes_on_the_get_stream_not_a_post_stream(self):
        """ S34, S38, 5.1: a tool added at runtime sends
        notifications/tools/list_changed on the GET stream; the POST stream
        of a call running at that moment gets only its own messages. """
        sid = self.initialize()
        tool = self.gated()
        listen = self.open_get(sid)
        listen.until(lambda e: e.get("id"))                 # priming
        call = self.open_call(sid, tool.name, meta=_progress())
        call.until_message(_is_method("notifications/progress"))
        self.add_tool("added_later", "Added by a test.", lambda a, c: "ok")
        note = listen.until_message(
            _is_method("notifications/tools/list_changed"))
        self.assertNotIn("id", note)
        self.assertTrue(listen.events[-1]["id"].startswith(
            self.session_of(sid).tag + ".0."))
        tool.gate.set()
        call.rest()
        methods = [m.get("method") for m in _messages(call.events)]
        self.assertEqual(methods, ["notifications/progress"] * 3 + [None])
        # the new tool is really listed
        listed = self.result_of(self.rpc("tools/list", {}, sid))["result"]
        self.assertIn("added_later", [t["name"] for t in listed["tools"]])

    def test_tool_removal_also_notifies(self):
        """ 5.1: removing a tool is a change of the list too. """
        sid = self.initialize()
        self.add_tool("short_lived", "Removed by a test.", lambda a, c: "ok")
        listen = self.open_get(sid)
        listen.until(lambda e: e.get("id"))
        self.dispatcher.tools.remove("short_lived")
        listen.until_message(_is_method("notifications/tools/list_changed"))

    def test_second_get_replaces_the_first(self):
        """ B-17, S36: a second GET for the same session gets 200 (never
        409); the first stream ends cleanly; later messages go to the
        second stream only. """
        sid = self.initialize()
        first = self.open_get(sid)
        first.until(lambda e: e.get("id"))
        second = self.open_get(sid)
        self.assertEqual(second.status, 200)
        second.until(lambda e: e.get("id"))
        first.rest(_PROMPT)                 # fails unless it ends cleanly
        self.assertTrue(first.ended)
        self.add_tool("after_replace", "Added by a test.", lambda a, c: "ok")
        second.until_message(_is_method("notifications/tools/list_changed"))
        self.assertEqual(_messages(first.events), [])

    def test_get_stream_can_be_resumed(self):
        """ S41: the GET stream is resumable too: a list_changed sent while
        the client was away is replayed from its Last-Event-ID, once. """
        sid = self.initialize()
        listen = self.open_get(sid)
        priming = listen.until(lambda e: e.get("id"))
        listen.cut()
        self.add_tool("while_away", "Added by a test.", lambda a, c: "ok")
        back = self.open_get(sid, priming["id"])
        note = back.until_message(
            _is_method("notifications/tools/list_changed"))
        self.assertEqual(note["params"], {})
        replayed_id = back.events[-1]["id"]
        self.assertEqual(_split_id(replayed_id)[1:],
                         (0, _split_id(priming["id"])[2] + 1))
        back.until(lambda e: "comment" in e)        # then live, idle
        self.assertEqual(len(_messages(back.events)), 1)

    def test_no_priming_event_before_2025_11_25(self):
        """ S19 is 2025-11-25 only: an older session's GET stream starts
        without the empty-data event older clients cannot parse. """
        sid = self.initialize("2025-03-26")
        stream = self.open_get(sid)
        self.assertEqual(stream.status, 200)
        stream.until(lambda e: "comment" in e)
        self.assertEqual(_events_only(stream.events), [])

    def test_delete_ends_the_get_stream(self):
        """ S50, S36: DELETE ends the session, and its GET stream ends
        cleanly. """
        sid = self.initialize()
        listen = self.open_get(sid)
        listen.until(lambda e: e.get("id"))
        reply = self.request("DELETE", None, self.headers_for(sid))
        self.assertIn(reply.status, (200, 204))
        listen.rest(_PROMPT)
        self.assertTrue(listen.ended)

    def test_get_needs_accept_event_stream(self):
        """ S32: GET without text/event-stream in Accept is 406. """
        sid = self.initialize()
        for accept in (ACCEPT_JSON, "text/html", "text/event-stream;q=0"):
            with self.subTest(accept=accept):
                reply = self.get(sid, accept=accept)
                self.assertRPCError(reply, 406, -32600)

    def test_get_without_session_is_400(self):
        """ S48: GET needs the Mcp-Session-Id of a live session. """
        reply = self.get(None)
        self.assertRPCError(reply, 400, -32600)
        self.assertIn("Mcp-Session-Id", reply.json()["error"]["message"])

    def test_get_with_unknown_or_deleted_session_is_404(self):
        """ S49: an unknown or terminated session is 404. """
        reply = self.get("nosuchnode.Zm9vYmFyYmF6")
        self.assertRPCError(reply, 404, -32600)
        sid = self.initialize()
        deleted = self.request("DELETE", None, self.headers_for(sid))
        self.assertIn(deleted.status, (200, 204))
        self.assertRPCError(self.get(sid), 404, -32600)


class StatelessGetTests(_StreamTestCase):
    """ S33, S37: a --stateless server has no GET stream. """

    settings = {"stateless": True}

    def test_get_is_405(self):
        reply = self.get(None)
        self.assertRPCError(reply, 405, -32600)
        self.assertEqual(reply.headers.get("Allow"), "POST")
        reply = self.get("some.session", last_event_id="a.1.1")
        self.assertEqual(reply.status, 405)


###############################################################################
# Issue 3: resumability (S38-S42, S28, B-18) ##################################
###############################################################################

class ResumabilityTests(_StreamTestCase):
    """ Event ids <session tag>.<stream>.<seq>; GET with Last-Event-ID
    replays exactly the rest of that stream of that session. """

    def run_uncut(self, tool, tag=""):
        """ One call read to its end without a cut: its events. """
        sid = self.initialize()
        tool.gate.set()
        try:
            call = self.open_call(sid, tool.name, {"tag": tag},
                                  meta=_progress())
            self.assertEqual(call.status, 200)
            return call.rest(), sid
        finally:
            tool.gate.clear()

    def test_ids_encode_session_stream_and_sequence(self):
        """ S39, S40: every event of a POST stream has an id with the
        session's tag, the stream's number and a sequence from 1 (the
        priming event is 0); another POST gets another stream number. """
        tool = self.gated(steps=2)
        events, sid = self.run_uncut(tool)
        tag = self.session_of(sid).tag
        ids = [_split_id(e["id"]) for e in _events_only(events)]
        self.assertEqual([i[0] for i in ids], [tag] * 4)
        self.assertEqual([i[2] for i in ids], [0, 1, 2, 3])
        self.assertEqual(len(set(i[1] for i in ids)), 1)
        self.assertGreater(ids[0][1], 0)          # 0 is the GET stream
        tool.gate.set()
        again = self.open_call(sid, tool.name, meta=_progress()).rest()
        numbers = set(_split_id(e["id"])[1] for e in _events_only(again))
        self.assertEqual(len(numbers), 1)
        self.assertNotEqual(numbers, set([ids[0][1]]))

    def test_resume_after_cut_loses_and_duplicates_nothing(self):
        """ S41, S42, S28, B-18: cut the connection after the first
        progress event; the call goes on (a disconnect is not a cancel in
        2025 revisions) and its response is produced while no client is
        connected; GET with Last-Event-ID gets exactly the rest: the same
        sequence of events as a run that was not cut, none twice. """
        tool = self.gated(steps=5)
        reference, _ = self.run_uncut(tool, "same")
        sid = self.initialize()
        call = self.open_call(sid, tool.name, {"tag": "same"},
                              meta=_progress())
        call.until_message(_is_method("notifications/progress"))
        first = list(call.events)
        last_id = first[-1]["id"]
        call.cut()
        tool.gate.set()
        # the response is produced while the client is away (S28)
        session = self.session_of(sid)
        wait_for(lambda: not session.inflight,
                 message="the call did not finish without its client")
        self.assertEqual(tool.cancelled_runs, 0)
        resumed = self.open_get(sid, last_id)
        self.assertEqual(resumed.status, 200)
        self.assertEqual(resumed.headers.get("Content-Type"),
                         "text/event-stream")
        rest = resumed.rest()
        self.assertTrue(resumed.ended)
        priming = _events_only(rest)[0]
        self.assertEqual((priming["id"], priming["data"]), (last_id, ""))
        got = _message_events(first) + _message_events(rest)
        want = _message_events(reference)
        self.assertEqual([_split_id(e["id"])[2] for e in got],
                         [_split_id(e["id"])[2] for e in want])
        self.assertEqual([json.loads(e["data"]) for e in got],
                         [json.loads(e["data"]) for e in want])
        self.assertEqual(len(set(e["id"] for e in got)), len(got))
        prefixes = set(e["id"].rsplit(".", 1)[0] for e in got)
        self.assertEqual(len(prefixes), 1, prefixes)
        response = json.loads(got[-1]["data"])
        self.assertEqual(response["id"], 7)
        self.assertEqual(response["result"]["content"][0]["text"],
                         "done same")

    def test_resume_while_running_continues_live(self):
        """ S41: resuming a stream that is still running replays what was
        missed, then goes on live until the response. """
        tool = self.gated(steps=3)
        sid = self.initialize()
        call = self.open_call(sid, tool.name, meta=_progress())
        priming = call.until(lambda e: e.get("id"))
        call.cut()
        resumed = self.open_get(sid, priming["id"])
        resumed.until_message(_is_method("notifications/progress"))
        tool.gate.set()
        rest = resumed.rest()
        progress = [m["params"]["progress"] for m in
                    _messages(resumed.events) if "method" in m]
        self.assertEqual(progress, [1, 2, 3])
        self.assertTrue(_is_response(_messages(rest)[-1], 7))

    def test_resume_twice_from_the_same_id(self):
        """ S41: a replay does not consume events; the same id can be used
        again (a client whose resumed connection broke too). """
        tool = self.gated(steps=2)
        events, sid = self.run_uncut(tool)
        first_id = _message_events(events)[0]["id"]
        once = _messages(self.open_get(sid, first_id).rest())
        twice = _messages(self.open_get(sid, first_id).rest())
        self.assertEqual(once, twice)
        self.assertEqual(once, _messages(events)[1:])

    def test_last_event_id_of_another_session_is_refused(self):
        """ B-18, S41: an event id of session A sent with session B is
        refused with 4xx, and B never sees A's events, not even with a
        forged id that carries B's tag and A's stream and sequence. """
        tool = self.gated(steps=2)
        events_a, sid_a = self.run_uncut(tool, "secret-of-A")
        id_a = _message_events(events_a)[0]["id"]
        sid_b = self.initialize()
        reply = self.get(sid_b, id_a)
        self.assertGreaterEqual(reply.status, 400, reply.body)
        self.assertLess(reply.status, 500, reply.body)
        self.assertNotIn(b"secret-of-A", reply.body)
        _, number, seq = _split_id(id_a)
        forged = "%s.%d.%d" % (self.session_of(sid_b).tag, number, seq - 1)
        reply = self.get(sid_b, forged)
        self.assertNotIn(b"secret-of-A", reply.body)
        self.assertGreaterEqual(reply.status, 400, reply.body)
        # A itself can still resume
        mine = self.open_get(sid_a, id_a).rest()
        self.assertIn("done secret-of-A", json.dumps(_messages(mine)))

    def test_malformed_last_event_id_is_400(self):
        """ S41: an id that is not <tag>.<stream>.<seq> is 400, as is an
        id of a stream this session never had or a sequence not yet sent. """
        sid = self.initialize()
        tag = self.session_of(sid).tag
        for value in ("garbage", "1.2", "%s.x.1" % tag, "%s.0" % tag,
                      "%s.1.2.3" % tag, "%s.-1.0" % tag,
                      "%s.999.0" % tag, "%s.0.999" % tag):
            with self.subTest(last_event_id=value):
                reply = self.get(sid, value)
                self.assertRPCError(reply, 400, -32600)


class ReplayBufferTests(_StreamTestCase):
    """ replay_buffer=2: each stream keeps its last two events. """

    settings = {"replay_buffer": 2}

    def test_id_older_than_the_buffer_is_400(self):
        """ S41: events that fell out of the buffer cannot be replayed, so
        resuming from before them is 400 (not a silent gap); resuming from
        the oldest id still covered replays the last two events. """
        tool = self.gated(steps=5)
        tool.gate.set()
        sid = self.initialize()
        events = self.open_call(sid, tool.name, meta=_progress()).rest()
        last = _message_events(events)[-1]["id"]
        self.assertTrue(_is_response(_messages(events)[-1], 7))
        tag, number, seq = _split_id(last)
        self.assertEqual(seq, 6)            # 5 progress events, 1 response
        ids = ["%s.%d.%d" % (tag, number, n) for n in range(7)]
        for old in ids[:4]:
            with self.subTest(last_event_id=old):
                reply = self.get(sid, old)
                self.assertRPCError(reply, 400, -32600)
                self.assertIn("buffer", reply.json()["error"]["message"])
        rest = self.open_get(sid, ids[4]).rest()
        self.assertEqual([e["id"] for e in _message_events(rest)], ids[5:])
        self.assertEqual([m.get("method") for m in _messages(rest)],
                         ["notifications/progress", None])
        self.assertEqual(_messages(rest)[0]["params"]["progress"], 5)
        self.assertTrue(_is_response(_messages(rest)[-1], 7))

    def open_bulky_call(self, tool_name, sid, receive_buffer=None):
        headers = self.headers_for(sid, ACCEPT_SSE)
        headers["Content-Type"] = "application/json"
        call = self.stream("POST", {
            "jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": tool_name, "arguments": {},
                       "_meta": {"progressToken": "big"}}}, headers,
            receive_buffer=receive_buffer)
        self.assertEqual(call.status, 200)
        return call

    def assertEveryEvent(self, call, sid):
        session = self.session_of(sid)
        wait_for(lambda: not session.inflight,
                 message="the call did not finish")
        messages = _messages(call.rest())
        self.assertEqual([m["params"]["progress"] for m in messages
                          if m.get("method") == "notifications/progress"],
                         [1, 2, 3, 4, 5])
        self.assertTrue(_is_response(messages[-1], 7))

    # Regression test.  Until 1767a64, Stream.push() dropped the oldest
    # event once a stream held replay_buffer events, even when the
    # connected writer had not sent it yet, and Stream._after() skipped the
    # gap without a word: this client got progress [1, 5] (or [5]) and the
    # response, never 2, 3 and 4.  The buffer bounds what is kept for
    # replay, not what a live connection receives (issue 3: "none lost").
    def test_slow_reader_gets_every_event(self):
        """ S22, S38: the replay buffer does not thin a live stream.  The
        first progress event is 8 MiB, so the server's write of it blocks
        until this client reads (its receive buffer is small, and it reads
        only once the call has finished); meanwhile the tool sends four
        more progress events and its response. """
        gate = threading.Event()
        self.addCleanup(gate.set)

        def bulky(arguments, call):
            gate.wait(TIMEOUT)
            call.progress(1, 5, "x" * (8 << 20))
            for step in range(2, 6):
                call.progress(step, 5, "step %d" % step)
            return "bulky done"

        self.add_tool("bulky", "Sends one large event.", bulky)
        sid = self.initialize()
        call = self.open_bulky_call("bulky", sid, receive_buffer=4096)
        call.until(lambda e: e.get("id"))       # the writer is attached
        gate.set()
        self.assertEveryEvent(call, sid)

    def test_burst_before_the_writer_attaches(self):
        """ S22, S38: events sent before the server has begun writing the
        POST's answer reach the connected client too.  The tool sends five
        progress events and its response at once; a long thread switch
        interval lets it finish before the connection's thread resumes. """
        def burst(arguments, call):
            for step in range(1, 6):
                call.progress(step, 5, "step %d" % step)
            return "burst done"

        self.add_tool("burst", "Five events at once.", burst)
        sid = self.initialize()
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1.0)
        try:
            call = self.open_bulky_call("burst", sid)
        finally:
            sys.setswitchinterval(interval)
        self.assertEveryEvent(call, sid)


class SSEPollingTests(_StreamTestCase):
    """ sse_poll_after=0.3: long POST streams of 2025-11-25 sessions are
    closed early and the client polls with GET (S20, S21). """

    settings = {"sse_poll_after": 0.3}

    def test_long_post_stream_is_closed_and_polled(self):
        """ S19-S21, S42: the POST stream brings the priming event, then a
        retry field, then ends without the response; GETs with
        Last-Event-ID (each closed the same way while the call runs)
        bring the rest, and the response, once. """
        tool = self.gated(steps=2)
        sid = self.initialize()
        call = self.open_call(sid, tool.name, accept=ACCEPT_SSE)
        events = call.rest()
        self.assertTrue(call.ended)
        plain = _events_only(events)
        self.assertEqual(plain[0]["data"], "")
        self.assertIsNotNone(plain[0]["id"])
        self.assertEqual(plain[-1]["retry"], 1000)
        self.assertEqual(_messages(events), [])
        last_id, polls, messages = plain[0]["id"], 0, []
        deadline = time.monotonic() + TIMEOUT
        while not any(_is_response(m, 7) for m in messages):
            self.assertLess(time.monotonic(), deadline, messages)
            poll = self.open_get(sid, last_id)
            self.assertEqual(poll.status, 200)
            got = poll.rest()
            messages.extend(_messages(got))
            ids = [e["id"] for e in _events_only(got) if e.get("id")]
            last_id = ids[-1] if ids else last_id
            polls += 1
            if polls == 1:
                self.assertEqual(_events_only(got)[-1]["retry"], 1000)
                tool.gate.set()
        self.assertEqual(len([m for m in messages if _is_response(m)]), 1)
        self.assertEqual(messages[-1]["result"]["content"][0]["text"],
                         "done ")

    def test_older_sessions_are_not_polled(self):
        """ S20 is 2025-11-25 only: a 2025-06-18 session's POST stream has no
        priming event and stays open until the response, even after a
        2025-11-25 stream running beside it was closed for polling. """
        tool = self.gated(steps=2)
        old, new = self.initialize("2025-06-18"), self.initialize()
        call = self.open_call(old, tool.name, meta=_progress())
        call.until_message(_is_method("notifications/progress"))
        polled = self.open_call(new, tool.name, accept=ACCEPT_SSE)
        polled.rest()                   # closed after sse_poll_after
        self.assertEqual(_messages(polled.events), [])
        tool.gate.set()
        rest = call.rest()
        self.assertTrue(_is_response(_messages(rest)[-1], 7))
        self.assertFalse(any(e.get("data") == "" for e in call.events))


class LazyPollingTests(_StreamTestCase):
    """ sse_poll_after also bounds calls answered lazily: a client that
    accepts JSON and SSE is switched to SSE (and then closed for polling)
    after sse_poll_after, not after a whole keep-alive period. """

    settings = {"sse_poll_after": 0.3, "keepalive": 60}

    def test_lazy_answer_is_closed_for_polling(self):
        """ S20, S21: the keep-alive is 60 s, longer than this test may
        wait; the POST stream still ends early, with the priming event and
        a retry field and no response, while the call runs on. """
        tool = self.gated(steps=1)
        sid = self.initialize()
        call = self.open_call(sid, tool.name, accept=ACCEPT_BOTH)
        try:
            events = call.rest(TIMEOUT)
            self.assertTrue(call.ended)
            plain = _events_only(events)
            self.assertEqual(plain[0]["data"], "")
            self.assertEqual(plain[-1]["retry"], 1000)
            self.assertEqual(_messages(events), [])
            self.assertEqual(tool.finished_runs, 0)
        finally:
            tool.gate.set()
