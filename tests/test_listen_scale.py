# -*- coding: utf-8 -*-
"""subscriptions/listen streams at scale, and task status through them
(2026-07-28; checklist 5.1, 6.2, S29, S62; issue 18), on the wire.

A listen stream's thread sleeps like a GET stream's: the server's one
KeepAlives thread writes its keep-alives and notices a client that closed
it, and then the subscription ends and the thread lets go.  Only streams
that carry a request to cancel (a 2026-07-28 tools/call) still look every
quarter second for a client that left (S29).

A 2026-07-28 client that declared the tasks extension may name tasks in
notifications.taskIds; every change of those tasks reaches its listen
stream as notifications/tasks with the whole task, as tasks/get shows it.
"""

import json
import socket

import mcp_weather
from tests.support import (EXTENSION, ListenTestCase, SUBSCRIPTION, TIMEOUT,
                           WithTaskTools, read_head, read_keepalives,
                           wait_for)

CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
WITH_TASKS = {"extensions": {EXTENSION: {}}}


class ListenStreamSleepsTests(ListenTestCase):
    """ Listen streams get their keep-alives from KeepAlives (their own
    threads do not wake on a timer), and a client that left is seen there. """

    settings = {"keepalive": 0.1, "watch_interval": 0}

    def open_raw(self, request_id="L1"):
        """ A listen stream on a bare socket: its head, its first bytes. """
        body = json.dumps(self.modern_message(
            "subscriptions/listen",
            {"notifications": {"toolsListChanged": True}}, request_id))
        message = json.loads(body)
        headers = self.modern_headers(message)
        headers["Content-Type"] = "application/json"
        sock = socket.create_connection(("127.0.0.1", self.port),
                                        timeout=TIMEOUT)
        self.addCleanup(sock.close)
        head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % self.port
        head += "".join("%s: %s\r\n" % item for item in headers.items())
        head += "Content-Length: %d\r\n\r\n" % len(body.encode())
        sock.sendall(head.encode() + body.encode())
        self.assertTrue(read_head(sock).startswith(b"HTTP/1.1 200 "))
        return sock

    def streams_open(self):
        with self.server.active_cond:
            return self.server.active["streams"]

    def test_keepalives_come_from_the_keepalives_thread(self):
        """ Two listen streams: both handed to KeepAlives (one heap entry
        each), both getting keep-alives, and a change still goes out at
        once to the sleeping threads. """
        socks = [self.open_raw("L%d" % n) for n in range(2)]
        for sock in socks:
            data, ended = read_keepalives(sock, 2)
            self.assertFalse(ended)
        keepalives = self.server.keepalives
        wait_for(lambda: len(keepalives._heap) == 2,
                 message="the listen streams are not watched by KeepAlives")
        for sock in socks:
            self.assertEqual(sum(1 for entry in keepalives._heap
                                 if entry[2].connection.getpeername() ==
                                 sock.getsockname()), 1)
        self.change_tools()
        for sock in socks:
            data, ended = read_keepalives(
                sock, 1, marker=b"notifications/tools/list_changed")
            self.assertFalse(ended)

    def test_a_client_that_left_is_seen_and_its_subscription_ends(self):
        """ 6.2: closing the listen stream ends the subscription; seen by
        KeepAlives at a keep-alive, then the stream's thread ends. """
        sock = self.open_raw()
        read_keepalives(sock, 1)
        self.listening()
        wait_for(lambda: self.streams_open() == 1)
        sock.close()
        wait_for(lambda: self.dispatcher.listeners == [],
                 message="the server kept a closed listen stream")
        wait_for(lambda: self.streams_open() == 0,
                 message="the listen stream's thread did not end")
        self.change_tools()             # nobody to tell: nothing breaks

    def test_closing_a_tools_call_stream_still_cancels_it(self):
        """ S29: a 2026-07-28 tools/call whose stream is closed is
        cancelled, as before (its stream is not a KeepAlives one). """
        seen = {}
        started = mcp_weather.Cancellation()

        @self.dispatcher.tool("waits_i18d", "Waits to be cancelled.",
                              {"type": "object"})
        def waits(arguments, call):
            call.progress(1, 2, "started")
            started.set()
            woken = mcp_weather.Cancellation()
            call.cancelled.wake_on_cancel(woken)
            woken.wait(TIMEOUT)
            seen["cancelled"] = call.cancelled.is_set()
            return "done"
        self.addCleanup(self.dispatcher.tools.remove, "waits_i18d")
        stream = self.open_modern(
            "tools/call", {"name": "waits_i18d", "arguments": {}}, 5)
        wait_for(started.is_set)
        stream.cut()
        wait_for(lambda: "cancelled" in seen,
                 message="the closed tools/call was not cancelled")
        self.assertTrue(seen["cancelled"])


class TaskNotificationTests(WithTaskTools, ListenTestCase):
    """ notifications/tasks on a listen stream that names the task. """

    def start_task(self):
        message = self.modern_message(
            "tools/call", {"name": "gated", "arguments": {}}, 3,
            **{CAPABILITIES: WITH_TASKS})
        reply = self.post(message, self.modern_headers(message))
        result = self.result_of(reply, 3)["result"]
        self.assertEqual(result["resultType"], "task", result)
        return result["taskId"]

    def listen_tasks(self, notifications, capabilities=WITH_TASKS,
                     request_id="T1"):
        stream = self.open_modern(
            "subscriptions/listen", {"notifications": notifications},
            request_id, **{CAPABILITIES: capabilities})
        return stream

    def test_status_changes_reach_the_stream_that_names_the_task(self):
        """ The acknowledgement honours taskIds; the task's end comes as
        notifications/tasks with taskId, status and the result inlined,
        tagged with the subscription id. """
        task_id = self.start_task()
        stream = self.listen_tasks({"taskIds": [task_id, "no-such-task"]})
        self.assertEqual(stream.status, 200)
        honoured = self.acknowledged(stream, "T1")
        self.assertEqual(honoured, {"taskIds": [task_id]})
        self.gate.set()
        message = stream.until_message(
            lambda m: m.get("method") == "notifications/tasks" and
            m["params"]["status"] == "completed")
        self.assertEqual(message["params"]["taskId"], task_id)
        self.assertEqual(message["params"]["_meta"][SUBSCRIPTION], "T1")
        self.assertEqual(message["params"]["result"]["content"][0]["text"],
                         "through the gate")
        self.assertNotIn("id", message)

    def test_cancelling_is_heard_and_other_tasks_are_not(self):
        """ A stream hears only the tasks it named: cancelling another
        task sends it nothing, cancelling its own sends the cancelled
        status. """
        mine, other = self.start_task(), self.start_task()
        stream = self.listen_tasks({"taskIds": [mine]})
        self.assertEqual(self.acknowledged(stream, "T1"), {"taskIds": [mine]})
        for task_id in (other, mine):
            message = self.modern_message(
                "tasks/cancel", {"taskId": task_id}, 4,
                **{CAPABILITIES: WITH_TASKS})
            headers = self.modern_headers(message)
            headers["Mcp-Name"] = task_id
            self.assertEqual(self.post(message, headers).status, 200)
        heard = stream.until_message(
            lambda m: m.get("method") == "notifications/tasks")
        self.assertEqual(heard["params"]["taskId"], mine)
        self.assertEqual(heard["params"]["status"], "cancelled")

    def test_task_ids_without_the_extension_are_refused(self):
        """ S62: taskIds from a request that does not declare the tasks
        extension: -32021 naming it in requiredCapabilities, HTTP 400. """
        message = self.modern_message(
            "subscriptions/listen",
            {"notifications": {"toolsListChanged": True,
                               "taskIds": ["x"]}}, 8)
        reply = self.post(message, self.modern_headers(message))
        error = self.assertRPCError(reply, 400, -32021, 8)["error"]
        self.assertEqual(error["data"]["requiredCapabilities"],
                         {"extensions": {EXTENSION: {}}})
        self.assertEqual(self.dispatcher.listeners, [])

    def test_unknown_task_ids_only_is_an_empty_acknowledgement(self):
        """ Task ids the client did not get from this server are left out,
        as unknown URIs are: nothing honoured, the stream ends with the
        response at once. """
        stream = self.listen_tasks({"taskIds": ["no-such-task"]})
        self.assertEqual(self.acknowledged(stream, "T1"), {})
        ending = stream.until_message(lambda m: m.get("id") == "T1")
        self.assertEqual(ending["result"]["_meta"][SUBSCRIPTION], "T1")

    def test_task_ids_must_be_strings(self):
        """ A malformed taskIds, from a client with the extension: -32602. """
        for task_ids in ([1], "abc"):
            message = self.modern_message(
                "subscriptions/listen", {"notifications": {
                    "taskIds": task_ids}}, 9, **{CAPABILITIES: WITH_TASKS})
            reply = self.post(message, self.modern_headers(message))
            self.assertRPCError(reply, 200, -32602, 9)
