# -*- coding: utf-8 -*-
"""Tasks: the 2026-07-28 tasks extension (io.modelcontextprotocol/tasks,
SEP-2663; issue 18) on the wire.

A tools/call whose _meta capabilities name the extension may be answered
with a task handle (resultType "task"); the client polls tasks/get, answers
the task's inputRequests with tasks/update and stops it with tasks/cancel.
Every test posts real 2026-07-28 requests (version and capabilities in
_meta, MCP-Protocol-Version, Mcp-Method and Mcp-Name headers, S56-S59) to an
in-process server and reads what comes back; status notifications, which
reach clients only through subscriptions/listen, are checked at the hook
the listen stream uses (Tasks.listeners).
"""

import http.client
import json
import re
import socket
import threading
import unittest

import mcp_weather
from tests.support import (ACCEPT_BOTH, EXTENSION, ServerTestCase, TIMEOUT,
                           WithTaskTools, iter_sse, wait_for)

MODERN = "2026-07-28"
WITH_TASKS = {"elicitation": {}, "extensions": {EXTENSION: {}}}
ISO_8601 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


class TaskTestCase(WithTaskTools, ServerTestCase):
    """ A server with the weather tools and add_test_tools. """

    # -- 2026-07-28 requests -------------------------------------------------

    def modern(self, method, params=None, capabilities=WITH_TASKS,
               request_id=1, headers=None):
        """ POST one 2026-07-28 request with the headers a client sends:
        Mcp-Name is params.name for tools/call, params.taskId for tasks/*
        (SEP-2663 routing headers). """
        params = dict(params or {})
        params["_meta"] = {mcp_weather.META_VERSION: MODERN,
                           mcp_weather.META_CAPABILITIES: capabilities}
        merged = {"Accept": ACCEPT_BOTH, "MCP-Protocol-Version": MODERN,
                  "Mcp-Method": method}
        name = params.get("name", params.get("taskId"))
        if isinstance(name, str):
            merged["Mcp-Name"] = name
        merged.update(headers or {})
        return self.post({"jsonrpc": "2.0", "id": request_id,
                          "method": method, "params": params},
                         dict((k, v) for k, v in merged.items()
                              if v is not None))

    def ok(self, reply):
        self.assertEqual(reply.status, 200, reply.body)
        message = self.result_of(reply)
        self.assertIn("result", message, reply.body)
        return message["result"]

    def error(self, reply, code, status=200):
        self.assertEqual(reply.status, status, reply.body)
        message = self.result_of(reply)
        self.assertEqual(message["error"]["code"], code, reply.body)
        return message["error"]

    def start(self, name, arguments=None):
        """ tools/call answered with a task handle: its taskId. """
        created = self.ok(self.modern("tools/call", {
            "name": name, "arguments": arguments or {}}))
        self.assertEqual(created["resultType"], "task", created)
        return created["taskId"]

    def get(self, task_id):
        task = self.ok(self.modern("tasks/get", {"taskId": task_id}))
        self.assertEqual(task["resultType"], "complete")
        self.assertEqual(task["taskId"], task_id)
        return task

    def wait_status(self, task_id, *statuses):
        box = []

        def reached():
            box[:] = [self.get(task_id)]
            return box[0]["status"] in statuses
        wait_for(reached, message="task never reached %s" % (statuses,))
        return box[0]


class TaskLifecycleTests(TaskTestCase):
    """ Capability, handle, polling, results and errors, cancellation. """

    def test_extension_is_advertised_in_2026_07_28_only(self):
        """ server/discover names the extension under
        capabilities.extensions (not a v1 capabilities.tasks); the 2025
        initialize does not: tasks are a 2026-07-28 extension here. """
        capabilities = self.ok(self.modern("server/discover"))[
            "capabilities"]
        self.assertEqual(capabilities["extensions"], {EXTENSION: {}})
        self.assertNotIn("tasks", capabilities)
        legacy = self.result_of(self.post(mcp_weather_initialize()))
        self.assertNotIn("extensions", legacy["result"]["capabilities"])
        self.assertEqual(legacy["result"]["capabilities"]["tasks"], {
            "list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}})

    def test_tools_list_shows_task_support(self):
        """ execution.taskSupport on tools that may run as tasks, from
        2025-11-25 on (the revision that brought tasks). """
        tools = dict((t["name"], t) for t in self.ok(self.modern(
            "tools/list"))["tools"])
        self.assertEqual(tools["get_forecasts"]["execution"],
                         {"taskSupport": "optional"})
        self.assertEqual(tools["only_task"]["execution"],
                         {"taskSupport": "required"})
        self.assertNotIn("execution", tools["get_weather"])
        sid = self.initialize()
        legacy = dict((t["name"], t) for t in self.result_of(self.rpc(
            "tools/list", {}, sid))["result"]["tools"])
        self.assertEqual(legacy["get_forecasts"]["execution"],
                         {"taskSupport": "optional"})
        self.assertNotIn("execution", legacy["get_weather"])
        sid = self.initialize("2025-06-18")
        older = self.result_of(self.rpc("tools/list", {}, sid))["result"]
        self.assertFalse([t for t in older["tools"] if "execution" in t])

    def test_get_forecasts_as_a_task(self):
        """ The weather example: a task handle (flat: taskId, status,
        ISO 8601 times, integer ttlMs and pollIntervalMs, no result), then
        tasks/get until completed, with the CallToolResult inlined: one
        forecast per city found, the city not found listed apart. """
        created = self.ok(self.modern("tools/call", {
            "name": "get_forecasts",
            "arguments": {"cities": ["Hangzhou", "Nowhere", "Berlin"],
                          "days": 2}}))
        self.assertEqual(created["resultType"], "task")
        self.assertEqual(created["status"], "working")
        self.assertTrue(ISO_8601.match(created["createdAt"]), created)
        self.assertTrue(ISO_8601.match(created["lastUpdatedAt"]), created)
        self.assertEqual(created["ttlMs"], 3600000)
        self.assertEqual(created["pollIntervalMs"], 1000)
        for field in ("result", "error", "inputRequests", "task",
                      "requestState", "ttl", "pollInterval"):
            self.assertNotIn(field, created)
        self.assertTrue(created["taskId"].startswith(
            self.dispatcher.sessions.node_id + "."), created["taskId"])
        task = self.wait_status(created["taskId"], "completed", "failed")
        self.assertEqual(task["status"], "completed", task)
        self.assertEqual(task["statusMessage"], "3 of 3 cities done (Berlin)")
        result = task["result"]
        self.assertNotIn("isError", result)
        self.assertNotIn("resultType", result)
        data = result["structuredContent"]
        self.assertEqual(len(data["forecasts"]), 2)
        self.assertEqual([len(f["days"]) for f in data["forecasts"]], [2, 2])
        self.assertEqual([f["city"] for f in data["failed"]], ["Nowhere"])
        self.assertIn("2-day forecast for Hangzhou",
                      result["content"][0]["text"])
        self.assertEqual(len(self.upstream.of("forecast")), 2)

    def test_without_the_extension_the_result_comes_at_once(self):
        """ No extension in the request's capabilities: the plain result
        (a server MUST NOT answer such a client with a task); a 2025
        session gets it the same way. """
        result = self.ok(self.modern("tools/call", {
            "name": "get_forecasts", "arguments": {"cities": ["Hangzhou"]}},
            capabilities={}))
        self.assertEqual(result["resultType"], "complete")
        self.assertNotIn("taskId", result)
        self.assertEqual(len(result["structuredContent"]["forecasts"]), 1)
        sid = self.initialize()
        legacy = self.result_of(self.call_tool(
            "get_forecasts", {"cities": ["Hangzhou", "Berlin"]},
            sid))["result"]
        self.assertNotIn("taskId", legacy)
        self.assertEqual(len(legacy["structuredContent"]["forecasts"]), 2)

    def test_working_task_is_polled_then_cancelled(self):
        """ tasks/get while it works: status working, the progress as
        statusMessage, no result.  tasks/cancel: an empty ack with
        resultType complete; the task is cancelled at once and its work is
        told to stop; a late result is never shown. """
        task_id = self.start("gated")
        task = self.wait_status(task_id, "working")
        wait_for(lambda: self.get(task_id).get("statusMessage") ==
                 "waiting at the gate")
        self.assertNotIn("result", task)
        ack = self.ok(self.modern("tasks/cancel", {"taskId": task_id}))
        self.assertEqual(set(ack) - {"_meta"}, {"resultType"})
        self.assertEqual(ack["resultType"], "complete")
        task = self.get(task_id)
        self.assertEqual(task["status"], "cancelled")
        self.assertNotIn("result", task)
        wait_for(lambda: "cancelled" in self.seen)
        self.assertIs(self.seen["cancelled"], True)
        self.assertEqual(self.get(task_id)["status"], "cancelled")

    def test_cancel_of_a_finished_task_changes_nothing(self):
        """ Cancelling a completed task is not an error (the end may race
        the cancel): the same empty ack, and the task keeps its status and
        result. """
        task_id = self.start("only_task")
        done = self.wait_status(task_id, "completed")
        ack = self.ok(self.modern("tasks/cancel", {"taskId": task_id}))
        self.assertEqual(set(ack) - {"_meta"}, {"resultType"})
        again = self.get(task_id)
        self.assertEqual(again["status"], "completed")
        self.assertEqual(again["result"], done["result"])
        self.assertEqual(again["result"]["content"][0]["text"],
                         "ran as a task")

    def test_unknown_task_id_is_32602(self):
        """ tasks/get, tasks/update and tasks/cancel of an id the server
        never made: -32602 with the id in data; a taskId that is not a
        string: -32602 too. """
        for method, extra in (("tasks/get", {}),
                              ("tasks/update", {"inputResponses": {}}),
                              ("tasks/cancel", {})):
            with self.subTest(method=method):
                params = dict(extra, taskId="no-such-task")
                error = self.error(self.modern(method, params), -32602)
                self.assertEqual(error["data"], {"taskId": "no-such-task"})
                self.error(self.modern(method, dict(extra, taskId=7)),
                           -32602)

    def test_tool_error_completes_protocol_error_fails(self):
        """ A tool that reports an error completes with isError; one that
        ends with a JSON-RPC error fails, with the error inlined and no
        result. """
        failed = self.wait_status(self.start("breaks"), "failed",
                                  "completed")
        self.assertEqual(failed["status"], "failed")
        self.assertEqual(failed["error"], {"code": -32603,
                                           "message": "broken on purpose"})
        self.assertNotIn("result", failed)
        completed = self.wait_status(self.start(
            "get_forecasts", {"cities": ["Nowhere"]}), "completed", "failed")
        self.assertEqual(completed["status"], "completed")
        self.assertIs(completed["result"]["isError"], True)


class TaskInputTests(TaskTestCase):
    """ MRTR inside a task (inputRequests, tasks/update) and before one. """

    def test_input_required_and_partial_answers(self):
        """ Work that asks parks the task in input_required with every
        question in inputRequests; answering one leaves only the other;
        unknown keys are ignored; a malformed answer is -32602; once all
        are answered the work goes on to its result. """
        task_id = self.start("ask_two")
        task = self.wait_status(task_id, "input_required")
        self.assertEqual(sorted(task["inputRequests"]), ["first", "second"])
        self.assertEqual(task["inputRequests"]["first"]["method"],
                         "elicitation/create")
        self.assertEqual(task["inputRequests"]["first"]["params"]["message"],
                         "First?")
        bad = self.modern("tasks/update", {"taskId": task_id,
                                           "inputResponses": {
                                               "first": {"content": {}}}})
        self.error(bad, -32602)
        ack = self.ok(self.modern("tasks/update", {
            "taskId": task_id, "inputResponses": {
                "first": {"action": "accept", "content": {"name": "Ann"}},
                "never-asked": {"action": "accept"}}}))
        self.assertEqual(set(ack) - {"_meta"}, {"resultType"})
        task = self.get(task_id)
        self.assertEqual(task["status"], "input_required")
        self.assertEqual(list(task["inputRequests"]), ["second"])
        self.error(self.modern("tasks/update", {"taskId": task_id,
                                                "inputResponses": []}),
                   -32602)
        self.ok(self.modern("tasks/update", {
            "taskId": task_id, "inputResponses": {
                "second": {"action": "accept", "content": {"name": "Bo"}}}}))
        done = self.wait_status(task_id, "completed")
        self.assertEqual(done["result"]["content"][0]["text"], "Ann and Bo")
        self.assertNotIn("inputRequests", done)

    def test_cancel_wakes_work_that_waits_for_input(self):
        task_id = self.start("ask_two")
        self.wait_status(task_id, "input_required")
        self.ok(self.modern("tasks/cancel", {"taskId": task_id}))
        task = self.get(task_id)
        self.assertEqual(task["status"], "cancelled")
        self.assertNotIn("inputRequests", task)

    def test_multi_round_request_then_task(self):
        """ A defer_task tool asks first by MRTR on tools/call itself
        (InputRequiredResult with requestState, no taskId); the retry with
        the answer gets the task handle (no requestState in it), and the
        task's result uses the answer. """
        first = self.ok(self.modern("tools/call", {"name": "deferred",
                                                   "arguments": {}}))
        self.assertEqual(first["resultType"], "input_required")
        self.assertNotIn("taskId", first)
        self.assertEqual(list(first["inputRequests"]), ["name"])
        created = self.ok(self.modern("tools/call", {
            "name": "deferred", "arguments": {},
            "inputResponses": {"name": {"action": "accept",
                                        "content": {"name": "Alice"}}},
            "requestState": first["requestState"]}))
        self.assertEqual(created["resultType"], "task")
        self.assertNotIn("requestState", created)
        done = self.wait_status(created["taskId"], "completed")
        self.assertEqual(done["result"]["content"][0]["text"],
                         "Hello, Alice!")


class TaskGatingTests(TaskTestCase):
    """ What a client without the extension, or with bad headers, gets. """

    def test_tasks_methods_need_the_extension(self):
        """ tasks/* from a request without the extension: -32021 with
        requiredCapabilities naming it, HTTP 400 (SEP-2575, S62). """
        for method in ("tasks/get", "tasks/update", "tasks/cancel"):
            with self.subTest(method=method):
                error = self.error(self.modern(method, {
                    "taskId": "x", "inputResponses": {}}, capabilities={}),
                    -32021, 400)
                self.assertEqual(error["data"], {"requiredCapabilities": {
                    "extensions": {EXTENSION: {}}}})

    def test_task_only_tool_without_the_extension(self):
        """ A tool that runs only as a task: -32021 for a 2026-07-28 client
        without the extension; -32601 for a 2025-11-25 call without a task
        parameter (the tasks utility says so); an isError result in an
        older session, which has no tasks. """
        error = self.error(self.modern("tools/call", {
            "name": "only_task", "arguments": {}}, capabilities={}),
            -32021, 400)
        self.assertIn(EXTENSION, error["data"]["requiredCapabilities"][
            "extensions"])
        sid = self.initialize()
        self.error(self.call_tool("only_task", {}, sid), -32601)
        sid = self.initialize("2025-06-18")
        result = self.result_of(self.call_tool("only_task", {}, sid))[
            "result"]
        self.assertIs(result["isError"], True)
        self.assertIn("only as a task", result["content"][0]["text"])

    def test_removed_v1_methods_are_32601(self):
        """ tasks/list and tasks/result are not in this version of tasks
        (the result is inlined in tasks/get): -32601, HTTP 404 (S61). """
        for method in ("tasks/list", "tasks/result"):
            with self.subTest(method=method):
                self.error(self.modern(method, {"taskId": "x"}), -32601, 404)

    def test_mcp_name_must_be_the_task_id(self):
        """ Routing headers (SEP-2243, SEP-2663): Mcp-Name carries the
        taskId; missing or different is -32020 with HTTP 400. """
        task_id = self.start("only_task")
        self.get(task_id)
        for name in ("someone-else", None):
            with self.subTest(name=name):
                self.error(self.modern("tasks/get", {"taskId": task_id},
                                       headers={"Mcp-Name": name}),
                           -32020, 400)
        self.error(self.modern("tools/call", {"name": "only_task",
                                              "arguments": {}},
                               headers={"Mcp-Method": "tasks/get"}),
                   -32020, 400)

    def test_tasks_belong_to_their_token(self):
        """ A task made with one bearer token is unknown to another. """
        caps = {mcp_weather.META_VERSION: MODERN,
                mcp_weather.META_CAPABILITIES: WITH_TASKS}
        sent = []
        self.dispatcher.handle({"jsonrpc": "2.0", "id": 1,
                                "method": "tools/call", "params": {
                                    "name": "only_task", "arguments": {},
                                    "_meta": caps}},
                               sent.append, version=MODERN, principal="ann")
        task_id = sent[-1]["result"]["taskId"]
        for principal, expected in (("bo", "error"), ("ann", "result")):
            sent = []
            self.dispatcher.handle({"jsonrpc": "2.0", "id": 2,
                                    "method": "tasks/get", "params": {
                                        "taskId": task_id, "_meta": caps}},
                                   sent.append, version=MODERN,
                                   principal=principal)
            self.assertIn(expected, sent[-1])


class TaskNotificationTests(TaskTestCase):
    """ Status notifications: every change reaches Tasks.listeners with the
    whole DetailedTask, which task_notification turns into the
    notifications/tasks a subscriptions/listen stream carries. """

    def test_every_change_is_heard(self):
        heard = []
        lock = threading.Lock()

        def listener(task_id, detailed, principal):
            with lock:
                heard.append(detailed)
        self.dispatcher.tasks.listeners.append(listener)
        self.addCleanup(self.dispatcher.tasks.listeners.remove, listener)
        task_id = self.start("ask_two")
        self.wait_status(task_id, "input_required")
        for key, name in (("first", "Ann"), ("second", "Bo")):
            self.ok(self.modern("tasks/update", {
                "taskId": task_id, "inputResponses": {key: {
                    "action": "accept", "content": {"name": name}}}}))
        self.wait_status(task_id, "completed")
        wait_for(lambda: heard and heard[-1]["status"] == "completed")
        with lock:
            statuses = [d["status"] for d in heard if d["taskId"] == task_id]
        self.assertEqual(statuses, ["input_required", "input_required",
                                    "working", "completed"])
        message = mcp_weather.task_notification(heard[-1])
        self.assertEqual(message["method"], "notifications/tasks")
        self.assertNotIn("id", message)
        self.assertEqual(message["params"]["result"]["content"][0]["text"],
                         "Ann and Bo")
        self.assertEqual(heard[0]["inputRequests"].keys(),
                         {"first", "second"})


class TaskBoundTests(TaskTestCase):
    """ --max-tasks and --task-ttl: task state is bounded and reaped like
    sessions' (B-5). """

    settings = {"max_tasks": 2, "task_ttl": 60.0, "task_poll_interval": 0.25}

    def setUp(self):
        super(TaskBoundTests, self).setUp()
        self.now = [1000.0]
        self.dispatcher.tasks.clock = lambda: self.now[0]
        self.addCleanup(self.dispatcher.tasks.close_all)

    def test_knobs_show_on_the_wire(self):
        task = self.get(self.start("only_task"))
        self.assertEqual((task["ttlMs"], task["pollIntervalMs"]),
                         (60000, 250))

    def test_full_store_forgets_the_oldest_finished_task(self):
        """ At --max-tasks, a new task pushes out the oldest finished one;
        when every task still runs, an optional tool runs at once instead
        and a task-only tool is refused. """
        finished = self.start("only_task")
        self.wait_status(finished, "completed")
        running = self.start("gated")
        newer = self.start("gated")
        self.error(self.modern("tasks/get", {"taskId": finished}), -32602)
        self.assertEqual(self.get(running)["status"], "working")
        self.assertEqual(len(self.dispatcher.tasks), 2)
        self.error(self.modern("tools/call", {"name": "only_task",
                                              "arguments": {}}), -32603)
        now = self.ok(self.modern("tools/call", {
            "name": "get_forecasts", "arguments": {"cities": ["Hangzhou"]}}))
        self.assertEqual(now["resultType"], "complete")
        self.assertEqual(len(now["structuredContent"]["forecasts"]), 1)
        self.assertEqual(self.get(newer)["status"], "working")

    def test_expired_tasks_are_forgotten_and_stopped(self):
        """ A task is kept for its ttlMs and forgotten after: -32602 then.
        One still running when it expires is cancelled. """
        done = self.start("only_task")
        self.wait_status(done, "completed")
        running = self.start("gated")
        self.wait_status(running, "working")
        self.now[0] += 59.0
        self.assertEqual(self.get(done)["status"], "completed")
        self.now[0] += 2.0
        self.error(self.modern("tasks/get", {"taskId": done}), -32602)
        self.error(self.modern("tasks/get", {"taskId": running}), -32602)
        wait_for(lambda: "cancelled" in self.seen)
        self.assertIs(self.seen["cancelled"], True)
        self.assertEqual(len(self.dispatcher.tasks), 0)


    def test_a_shorter_ttl_asked_in_2025_11_25(self):
        """ A 2025-11-25 client may ask for a shorter ttl: it is shown, and
        the task is gone from tasks/get and tasks/list after it. """
        sid = self.initialize()
        older = self.ok(self.rpc("tools/call", {
            "name": "gated", "arguments": {}, "task": {}}, sid))["task"]
        self.assertEqual(older["ttl"], 60000)
        created = self.ok(self.rpc("tools/call", {
            "name": "only_task", "arguments": {}, "task": {"ttl": 1500}},
            sid))["task"]
        self.assertEqual(created["ttl"], 1500)
        task_id = created["taskId"]
        listed = self.ok(self.rpc("tasks/list", {}, sid))["tasks"]
        self.assertEqual([t["taskId"] for t in listed],
                         [older["taskId"], task_id])
        self.now[0] += 2.0
        listed = self.ok(self.rpc("tasks/list", {}, sid))["tasks"]
        self.assertEqual([t["taskId"] for t in listed], [older["taskId"]])
        self.error(self.rpc("tasks/get", {"taskId": task_id}, sid), -32602)


class StatelessTaskTests(TaskTestCase):
    """ --stateless keeps tasks: they need no session, only this process. """

    settings = {"stateless": True}

    def test_task_round_trip(self):
        task = self.wait_status(self.start("only_task"), "completed")
        self.assertEqual(task["result"]["content"][0]["text"],
                         "ran as a task")


class TaskSettingsTests(unittest.TestCase):
    """ The three knobs are flags and environment variables too. """

    def test_flags_and_environment(self):
        config = mcp_weather.Config.from_env({
            "MCP_TASK_TTL": "90", "MCP_MAX_TASKS": "7",
            "MCP_TASK_POLL_INTERVAL": "0.5"})
        self.assertEqual((config.task_ttl, config.max_tasks,
                          config.task_poll_interval), (90.0, 7, 0.5))
        parsed = mcp_weather.build_parser(mcp_weather.Config()).parse_args(
            ["--task-ttl", "30", "--max-tasks", "2",
             "--task-poll-interval", "2"])
        self.assertEqual((parsed.task_ttl, parsed.max_tasks,
                          parsed.task_poll_interval), (30.0, 2, 2.0))


class WorkersTaskTests(unittest.TestCase):
    """ --workers: a poll may reach another process, so no tasks. """

    def test_extension_is_off_with_workers(self):
        dispatcher = mcp_weather.MCPDispatcher(mcp_weather.Config(
            workers=2, stateless=True))

        @dispatcher.tool("maybe_task", "May run as a task.",
                         {"type": "object"}, task_support="optional")
        def maybe_task(arguments, call):
            return "at once"
        self.assertEqual(dispatcher.tasks.tools, 1)
        capabilities = dispatcher.capabilities(MODERN)
        self.assertNotIn("extensions", capabilities)
        sent = []
        dispatcher.handle({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                           "params": {"name": "maybe_task", "arguments": {
                               }, "_meta": {
                               mcp_weather.META_VERSION: MODERN,
                               mcp_weather.META_CAPABILITIES: WITH_TASKS}}},
                          sent.append, version=MODERN)
        self.assertNotIn("taskId", sent[-1]["result"])


class GetStream(object):
    """ A session's GET stream, read on a thread: ``messages`` fills with
    the JSON-RPC messages as they come. """

    def __init__(self, port, session):
        self.conn = http.client.HTTPConnection("127.0.0.1", port,
                                               timeout=TIMEOUT)
        self.conn.request("GET", "/mcp", headers={
            "Accept": "text/event-stream", "Mcp-Session-Id": session,
            "MCP-Protocol-Version": "2025-11-25"})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.messages = []
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        try:
            for event in iter_sse(self.response):
                if event.get("data"):
                    self.messages.append(json.loads(event["data"]))
        except (OSError, ValueError, AttributeError,
                http.client.HTTPException):
            pass            # closed by close(): the test is over

    def of(self, method):
        return [m for m in list(self.messages) if m.get("method") == method]

    def close(self):
        try:        # wakes the reader first: close() waits for its lock
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass
        self.thread.join(TIMEOUT)
        self.conn.close()


class FirstFormTests(TaskTestCase):
    """ 2025-11-25 sessions: the tasks utility of that revision (the client
    asks with a "task" parameter; tasks/get, tasks/result, tasks/list,
    tasks/cancel; notifications/tasks/status on the GET stream). """

    def session(self, capabilities=None):
        reply = self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                           "params": {"protocolVersion": "2025-11-25",
                                      "capabilities": capabilities or {},
                                      "clientInfo": {"name": "test_tasks",
                                                     "version": "1.0"}}})
        sid = reply.headers["Mcp-Session-Id"]
        self.versions[sid] = "2025-11-25"
        self.notify("notifications/initialized", session=sid)
        return sid

    def listen(self, sid):
        stream = GetStream(self.port, sid)
        self.addCleanup(stream.close)
        self.assertEqual(stream.status, 200)
        return stream

    def call(self, sid, method, params, request_id=1):
        return self.rpc(method, params, sid, request_id)

    def start_v1(self, sid, name, arguments=None, **params):
        params.update(name=name, arguments=arguments or {})
        params.setdefault("task", {})
        created = self.ok(self.call(sid, "tools/call", params))
        self.assertEqual(set(created), {"task"}, created)
        return created["task"]

    def test_task_lifecycle(self):
        """ CreateTaskResult {task} with the ttl asked for (when shorter)
        and pollInterval; tasks/get (a Task: no result); tasks/result (what
        the call returns, with related-task in _meta); tasks/list; progress
        and notifications/tasks/status on the GET stream. """
        sid = self.session()
        stream = self.listen(sid)
        task = self.start_v1(sid, "get_forecasts", {"cities": ["Hangzhou",
                                                               "Berlin"]},
                             task={"ttl": 5000},
                             _meta={"progressToken": "p1"})
        self.assertEqual(task["status"], "working")
        self.assertEqual((task["ttl"], task["pollInterval"]), (5000, 1000))
        self.assertTrue(ISO_8601.match(task["createdAt"]))
        result = self.ok(self.call(sid, "tasks/result",
                                   {"taskId": task["taskId"]}))
        self.assertEqual(result["_meta"][mcp_weather.RELATED_TASK],
                         {"taskId": task["taskId"]})
        self.assertEqual(len(result["structuredContent"]["forecasts"]), 2)
        got = self.ok(self.call(sid, "tasks/get", {"taskId": task["taskId"]}))
        self.assertEqual(got["status"], "completed")
        for field in ("result", "ttlMs", "resultType"):
            self.assertNotIn(field, got)
        listed = self.ok(self.call(sid, "tasks/list", {}))
        self.assertIn(task["taskId"], [t["taskId"] for t in listed["tasks"]])
        self.assertNotIn("nextCursor", listed)
        self.error(self.call(sid, "tasks/list", {"cursor": "bogus"}), -32602)
        wait_for(lambda: [m for m in stream.of("notifications/tasks/status")
                          if m["params"]["status"] == "completed"])
        status = stream.of("notifications/tasks/status")[-1]["params"]
        self.assertEqual(status["taskId"], task["taskId"])
        self.assertNotIn("_meta", status)
        progress = stream.of("notifications/progress")
        self.assertEqual([p["params"]["progress"] for p in progress],
                         [0, 1, 2])
        self.assertEqual(progress[0]["params"]["progressToken"], "p1")
        self.assertEqual(progress[0]["params"]["_meta"][
            mcp_weather.RELATED_TASK], {"taskId": task["taskId"]})

    def test_cancel_and_bad_input(self):
        """ tasks/cancel of a running task: the Task, cancelled; of a
        finished one: -32602; tasks/result of a cancelled task: an error.
        Unknown ids and another session's tasks: -32602. A task asked of a
        tool that forbids it, or none asked of one that requires it:
        -32601. """
        sid = self.session()
        task = self.start_v1(sid, "gated")
        cancelled = self.ok(self.call(sid, "tasks/cancel",
                                      {"taskId": task["taskId"]}))
        self.assertEqual(cancelled["status"], "cancelled")
        self.assertEqual(cancelled["taskId"], task["taskId"])
        error = self.error(self.call(sid, "tasks/cancel",
                                     {"taskId": task["taskId"]}), -32602)
        self.assertEqual(error["data"]["status"], "cancelled")
        error = self.error(self.call(sid, "tasks/result",
                                     {"taskId": task["taskId"]}), -32603)
        self.assertEqual(error["data"]["status"], "cancelled")
        done = self.start_v1(sid, "only_task")
        self.ok(self.call(sid, "tasks/result", {"taskId": done["taskId"]}))
        self.error(self.call(sid, "tasks/cancel", {"taskId": done["taskId"]}),
                   -32602)
        other = self.session()
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            with self.subTest(method=method):
                self.error(self.call(other, method,
                                     {"taskId": done["taskId"]}), -32602)
                self.error(self.call(sid, method, {"taskId": "nope"}),
                           -32602)
        self.assertEqual(self.ok(self.call(other, "tasks/list", {}))["tasks"],
                         [])
        self.error(self.call(sid, "tools/call", {
            "name": "get_weather", "arguments": {"city": "Hangzhou"},
            "task": {}}), -32601)
        self.error(self.call(sid, "tools/call", {
            "name": "only_task", "arguments": {}}), -32601)

    def test_tool_error_fails_the_task(self):
        """ In 2025-11-25 a tool result with isError makes the task failed;
        tasks/result still returns that result. """
        sid = self.session()
        task = self.start_v1(sid, "get_forecasts", {"cities": ["Nowhere"]})
        result = self.ok(self.call(sid, "tasks/result",
                                   {"taskId": task["taskId"]}))
        self.assertIs(result["isError"], True)
        got = self.ok(self.call(sid, "tasks/get", {"taskId": task["taskId"]}))
        self.assertEqual(got["status"], "failed")

    def test_questions_go_on_the_get_stream(self):
        """ Work that asks inside a task: input_required, the request on
        the GET stream with related-task in _meta, the answer POSTed back;
        then working again, and the result. """
        sid = self.session({"elicitation": {}})
        stream = self.listen(sid)
        task = self.start_v1(sid, "ask_two")
        for name in ("Ann", "Bo"):
            wait_for(lambda: len(stream.of("elicitation/create")) >
                     ["Ann", "Bo"].index(name))
            request = stream.of("elicitation/create")[-1]
            self.assertEqual(request["params"]["_meta"][
                mcp_weather.RELATED_TASK], {"taskId": task["taskId"]})
            got = self.ok(self.call(sid, "tasks/get",
                                    {"taskId": task["taskId"]}))
            self.assertEqual(got["status"], "input_required")
            reply = self.post({"jsonrpc": "2.0", "id": request["id"],
                               "result": {"action": "accept",
                                          "content": {"name": name}}},
                              self.headers_for(sid))
            self.assertEqual(reply.status, 202, reply.body)
        result = self.ok(self.call(sid, "tasks/result",
                                   {"taskId": task["taskId"]}))
        self.assertEqual(result["content"][0]["text"], "Ann and Bo")
        def statuses():
            return [m["params"]["status"]
                    for m in stream.of("notifications/tasks/status")]
        # The result can be read before the last notification has crossed
        # the GET stream: wait for it rather than race it.
        wait_for(lambda: statuses()[-1:] == ["completed"])
        self.assertIn("input_required", statuses())

    def test_a_session_s_tasks_end_with_it(self):
        """ DELETE of the session cancels the work of its tasks. """
        sid = self.session()
        task = self.start_v1(sid, "gated")
        got = self.ok(self.call(sid, "tasks/get", {"taskId": task["taskId"]}))
        self.assertEqual(got["status"], "working")
        reply = self.request("DELETE", None, self.headers_for(sid))
        self.assertIn(reply.status, (200, 204), reply.body)
        wait_for(lambda: "cancelled" in self.seen)
        self.assertIs(self.seen["cancelled"], True)

    def test_older_sessions_have_no_tasks(self):
        """ Before 2025-11-25: no capabilities.tasks, the task parameter
        is ignored (the call is answered as usual), tasks/* are -32601. """
        sid = self.initialize("2025-06-18")
        self.assertNotIn("tasks", self.init_result["capabilities"])
        result = self.ok(self.call(sid, "tools/call", {
            "name": "get_forecasts", "arguments": {"cities": ["Hangzhou"]},
            "task": {}}))
        self.assertNotIn("task", result)
        self.assertEqual(len(result["structuredContent"]["forecasts"]), 1)
        self.error(self.call(sid, "tasks/list", {}), -32601)


def mcp_weather_initialize():
    return {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test_tasks", "version": "1.0"}}}
