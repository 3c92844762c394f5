"""The server as a process: the stdio transport, graceful shutdown on
SIGTERM, the worker pool and threads that end with their work (B-4), and
--workers, all cores of one host on one port (issue 9, B-1, C-1)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import unittest

import mcp_weather
from tests.support import (ACCEPT_BOTH, ACCEPT_JSON, ACCEPT_SSE, FakeUpstream,
                           LATEST, SERVER_FILE, ServerProcess, TIMEOUT,
                           _EventStream, _PROMPT, _StreamTestCase,
                           _UpstreamTestCase, _is_method, _messages,
                           _progress, _server_env, clean_environment,
                           http_request, spawn_server, wait_for)


###############################################################################
# Issue 3: stdio ##############################################################
###############################################################################

class StdioTransportTests(_UpstreamTestCase):
    """ python mcp_weather.py --stdio: newline-delimited JSON-RPC on stdin
    and stdout, nothing else on stdout, logs on stderr, exit 0 at EOF. """

    def run_stdio(self, lines, **env):
        proc = subprocess.Popen(
            [sys.executable, SERVER_FILE, "--stdio"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=_server_env(self.upstream, **env))
        data = b"".join(json.dumps(line).encode("utf-8") + b"\n"
                        if not isinstance(line, bytes) else line
                        for line in lines)
        try:
            out, err = proc.communicate(data, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            self.fail("the stdio server did not exit at end of input")
        return proc.returncode, out, err

    def test_session_over_stdio(self):
        """ initialize, tools/list, tools/call with a progressToken:
        progress lines then the response; every stdout line is one JSON-RPC
        message; logs on stderr; exit status 0 at EOF. """
        code, out, err = self.run_stdio([
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": LATEST, "capabilities": {},
                "clientInfo": {"name": "stdio-test", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
                "name": "get_weather", "arguments": {"city": "Hangzhou"},
                "_meta": {"progressToken": "p"}}},
        ])
        self.assertEqual(code, 0, err)
        self.assertTrue(out.endswith(b"\n"), out)
        lines = out.decode("utf-8").split("\n")[:-1]
        messages = [json.loads(line) for line in lines]   # each must parse
        for message in messages:
            self.assertEqual(message.get("jsonrpc"), "2.0", message)
        init, listed = messages[0], messages[1]
        self.assertEqual(init["id"], 1)
        self.assertEqual(init["result"]["protocolVersion"], LATEST)
        self.assertEqual(listed["id"], 2)
        self.assertEqual([t["name"] for t in listed["result"]["tools"]],
                         ["get_weather", "get_forecast", "get_forecasts"])
        progress = messages[2:-1]
        self.assertEqual([m["method"] for m in progress],
                         ["notifications/progress"] * 3)
        self.assertEqual([m["params"]["progress"] for m in progress],
                         [1, 2, 3])
        self.assertEqual(set(m["params"]["progressToken"] for m in progress),
                         set(["p"]))
        response = messages[-1]
        self.assertEqual(response["id"], 3)
        self.assertEqual(response["result"]["structuredContent"][
            "temperature"], 4.8)
        self.assertEqual(len(messages), 6)
        self.assertIn(b"initialize", err)           # logs go to stderr
        self.assertEqual(len(self.upstream.of("forecast")), 1)

    def test_bad_line_and_empty_input(self):
        """ A line that is not JSON gets an id-less -32700 on stdout and the
        loop goes on; empty input exits 0 with nothing on stdout. """
        code, out, err = self.run_stdio([
            b"this is not json\n", b"\n",
            {"jsonrpc": "2.0", "id": 1, "method": "ping"}])
        self.assertEqual(code, 0, err)
        messages = [json.loads(line) for line in out.decode().splitlines()]
        self.assertEqual(messages[0]["error"]["code"], -32700)
        self.assertNotIn("id", messages[0])
        self.assertEqual(messages[1], {"jsonrpc": "2.0", "id": 1,
                                       "result": {}})
        self.assertEqual(len(messages), 2)
        code, out, err = self.run_stdio([])
        self.assertEqual((code, out), (0, b""), err)


###############################################################################
# Issue 3: graceful shutdown ##################################################
###############################################################################

@unittest.skipUnless(os.name == "posix" and hasattr(signal, "SIGTERM"),
                     "POSIX signals")
class GracefulShutdownTests(_UpstreamTestCase):
    """ SIGTERM during a call: the call's response is still delivered in
    full, new connections are refused, and the process exits 0. """

    def start_server(self):
        return spawn_server(self, self.upstream, "--log-level", "info")

    def initialize(self, port):
        reply = http_request(port, "POST", "/mcp", {
            "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": LATEST, "capabilities": {},
                "clientInfo": {"name": "shutdown-test", "version": "1"}}},
            {"Content-Type": "application/json", "Accept": ACCEPT_BOTH})
        self.assertEqual(reply.status, 200, reply.body)
        return {"Mcp-Session-Id": reply.headers.get("Mcp-Session-Id"),
                "MCP-Protocol-Version": LATEST}

    def wait_exit(self, proc, lines):
        try:
            code = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("the server did not exit after the signal")
        self.assertEqual(code, 0, "".join(lines))

    def test_sigterm_during_a_call(self):
        """ Issue 3: SIGTERM while a weather call waits for a slow upstream
        (1.5 s): new connections are refused, the call still
        delivers its progress and its full response, the GET stream ends
        cleanly, and the process exits 0. """
        self.upstream.reset()
        self.upstream.delay["geocoding"] = 1.5
        proc, port, lines, reader = self.start_server()
        session = self.initialize(port)
        listen = _EventStream(port, "GET", None,
                              dict(session, Accept=ACCEPT_SSE))
        self.addCleanup(listen.cut)
        listen.until(lambda e: e.get("id"))
        call = _EventStream(port, "POST", {
            "jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
                "name": "get_weather", "arguments": {"city": "Hangzhou"},
                "_meta": {"progressToken": 1}}},
            dict(session, Accept=ACCEPT_BOTH,
                 **{"Content-Type": "application/json"}))
        self.addCleanup(call.cut)
        call.until_message(_is_method("notifications/progress"))
        self.upstream.wait_requests(1, "geocoding")
        proc.send_signal(signal.SIGTERM)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", port), 1.0).close()
            except ConnectionRefusedError:
                return True
            except (ConnectionResetError, ConnectionAbortedError):
                pass            # queued as the listener closed: try again
            return False

        wait_for(refused, message="the server still accepts connections")
        rest = call.rest()
        self.assertTrue(call.ended)
        response = _messages(rest)[-1]
        self.assertEqual(response["id"], 7)
        self.assertNotIn("isError", response["result"])
        self.assertEqual(response["result"]["structuredContent"][
            "temperature"], 4.8)
        self.assertEqual([m["params"]["progress"]
                          for m in _messages(call.events)[:-1]], [1, 2, 3])
        listen.rest()
        self.assertTrue(listen.ended)
        self.wait_exit(proc, lines)
        reader.join(TIMEOUT)
        self.assertIn("stopped", "".join(lines))

    def test_sigint_when_idle(self):
        """ SIGINT is a graceful stop too: exit status 0, no traceback. """
        proc, port, lines, reader = self.start_server()
        self.initialize(port)
        proc.send_signal(signal.SIGINT)
        self.wait_exit(proc, lines)
        reader.join(TIMEOUT)
        self.assertNotIn("Traceback", "".join(lines))
        self.assertNotIn("KeyboardInterrupt", "".join(lines))


###############################################################################
# Issue 3: threads end with their work (B-4) ##################################
###############################################################################

class WorkerPoolTests(unittest.TestCase):
    """ The pool that runs tool calls and upstream requests: a blocked task
    never delays another, and idle threads are reused, then retired. """

    def test_blocked_task_does_not_delay_another(self):
        pool, gate, done = mcp_weather.WorkerPool(), threading.Event(), []
        self.addCleanup(gate.set)
        pool.run(gate.wait)
        pool.run(lambda: done.append(1))
        wait_for(lambda: done == [1], message="second task waited")
        self.assertEqual(pool.busy, 1)

    def test_idle_threads_are_reused_then_retired(self):
        pool = mcp_weather.WorkerPool()
        pool.idle_timeout = 0.5
        names = []
        for _ in range(20):
            finished = threading.Event()
            pool.run(lambda: (names.append(threading.current_thread()),
                              finished.set()))
            self.assertTrue(finished.wait(TIMEOUT))
            wait_for(lambda: pool.busy == 0)
        self.assertEqual(len(set(names)), 1, "sequential tasks share a thread")
        wait_for(lambda: not names[0].is_alive(),
                 message="an idle worker did not retire")


class ThreadLeakTests(_StreamTestCase):
    """ Every per-request and per-stream thread ends when its work ends or
    its client goes away; reused workers end after idle_timeout. """

    settings = {"keepalive": 0.2}

    @classmethod
    def setUpClass(cls):
        super(ThreadLeakTests, cls).setUpClass()
        cls.dispatcher.workers.idle_timeout = 0.3   # default 5 s

    def test_threads_return_to_baseline(self):
        """ 30 calls: plain JSON, SSE read to the end, SSE cut mid-call
        (legacy: the call finishes without its client), cancelled calls,
        and 2026-07-28 calls whose client closed the stream (S29); then the
        thread count returns to where it started. """
        tool = self.gated(steps=2)
        sid = self.initialize()
        start = threading.active_count()
        for i in range(30):
            kind = i % 5
            if kind == 0:
                tool.gate.set()
                reply = self.call_tool(tool.name, {}, sid, request_id=i)
                self.assertEqual(reply.status, 200)
                tool.gate.clear()
            elif kind == 1:
                tool.gate.set()
                call = self.open_call(sid, tool.name, meta=_progress(),
                                      request_id=i)
                call.rest()
                call.cut()              # a client that is done hangs up
                tool.gate.clear()
            elif kind == 2:
                call = self.open_call(sid, tool.name, meta=_progress(),
                                      request_id=i)
                call.until_message(_is_method("notifications/progress"))
                call.cut()
                before = tool.finished_runs
                tool.gate.set()
                tool.wait("finished_runs", before + 1)
                tool.gate.clear()
            elif kind == 3:
                call = self.open_call(sid, tool.name, meta=_progress(),
                                      request_id=i)
                call.until_message(_is_method("notifications/progress"))
                before = tool.cancelled_runs
                self.notify("notifications/cancelled", {"requestId": i}, sid)
                tool.wait("cancelled_runs", before + 1)
                call.rest(_PROMPT)
                call.cut()
            else:
                before, runs = tool.cancelled_runs, tool.runs
                call = self.open_modern("tools/call", {"name": tool.name,
                                                       "arguments": {}},
                                        request_id=i, wait_head=False)
                tool.wait("runs", runs + 1)
                call.cut()                              # S29: a cancel
                tool.wait("cancelled_runs", before + 1)
        self.assertEqual(tool.runs, 30)
        try:
            wait_for(lambda: threading.active_count() <= start)
        except AssertionError:
            self.fail("threads did not end: %d at the start, now %s" % (
                start, ", ".join(t.name for t in threading.enumerate())))


###############################################################################
# Issue 9: --workers, all cores of one host on one port (B-1, C-1) ###########
###############################################################################

WORKER_LINE = re.compile(r"\[(\d+)\] worker (\d+) accepting connections")
ANSWERED_BY = re.compile(r"\[(\d+)\] 127\.0\.0\.1 POST /mcp 200 ")


@unittest.skipUnless(sys.platform.startswith("linux"), "SO_REUSEPORT")
class WorkerProcessTests(unittest.TestCase):
    """ python mcp_weather.py --workers 2 --stateless: two processes share
    one port; each log line carries the pid of the process that wrote it,
    which is how these tests see who answered. """

    def start(self, *flags):
        server = ServerProcess([sys.executable, SERVER_FILE, "--port", "0",
                                "--stateless", "--workers", "2"] +
                               list(flags))
        self.addCleanup(server.close)
        return server

    @staticmethod
    def log(server):
        return "".join(server.lines)

    def workers(self, server, count=2):
        """ {worker number: pid} once count workers have said they accept
        connections (the newest pid per number). """
        def seen():
            found = {}
            for pid, number in WORKER_LINE.findall(self.log(server)):
                found[int(number)] = int(pid)
            return found if len(found) >= count else None
        return wait_for(seen, message="workers did not start: %r"
                        % server.lines)

    def tools_list(self, server):
        """ One stateless tools/list on a new connection (a new source
        port, so the kernel's hash may pick either worker). """
        reply = http_request(server.port, "POST", "/mcp", {
            "jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            {"Content-Type": "application/json", "Accept": ACCEPT_JSON,
             "MCP-Protocol-Version": LATEST})
        self.assertEqual(reply.status, 200, reply.body)
        self.assertIn("get_weather", [t["name"] for t in
                                      reply.json()["result"]["tools"]])

    def answered_by(self, server, pids):
        """ Send requests, each on a new connection, until every pid in
        pids has answered one (seen in its access-log line). """
        def all_answered():
            self.tools_list(server)
            return set(pids) <= set(int(p) for p in
                                    ANSWERED_BY.findall(self.log(server)))
        wait_for(all_answered, message="not every worker answered: %r"
                 % server.lines)

    def assertGone(self, pid):
        with self.assertRaises(ProcessLookupError):
            os.kill(pid, 0)

    def test_workers_share_the_port(self):
        """ Both workers accept connections on the one port the parent
        logged, and both answer. """
        server = self.start()
        self.assertIn("2 workers)", self.log(server))
        pids = self.workers(server)
        self.assertEqual(sorted(pids), [1, 2])
        self.assertEqual(len(set(pids.values())), 2)
        self.assertNotIn(server.proc.pid, pids.values())
        self.answered_by(server, pids.values())
        self.assertEqual(server.stop(), 0)

    def test_a_killed_worker_is_replaced(self):
        """ The parent logs a dead worker and starts another, which then
        answers; the port keeps serving meanwhile. """
        server = self.start()
        pids = self.workers(server)
        os.kill(pids[1], signal.SIGKILL)
        wait_for(lambda: re.search(
            r"WARNING \[%d\] worker 1 \(pid %d\) was killed by SIGKILL "
            r"after [\d.]+ s; starting another in 0\.1 s"
            % (server.proc.pid, pids[1]), self.log(server)),
            message="no restart line: %r" % server.lines)
        self.assertGone(pids[1])            # reaped, not a zombie

        def replaced():
            pid = self.workers(server)[1]
            return pid if pid != pids[1] else None
        new = wait_for(replaced)
        self.assertNotIn(new, pids.values())
        self.answered_by(server, [new, pids[2]])
        self.assertEqual(server.stop(), 0)
        self.assertGone(new)
        self.assertGone(pids[2])

    def test_sigterm_drains_every_worker_and_exits_0(self):
        """ SIGTERM to the parent reaches every worker; a tool call in
        flight still gets its result (graceful shutdown, as in one
        process), then the parent exits 0 and no worker is left. """
        upstream = FakeUpstream().start()
        self.addCleanup(upstream.stop)
        gate = upstream.hold("forecast")
        server = self.start("--geocoding-url", upstream.geocoding_url,
                            "--forecast-url", upstream.forecast_url)
        pids = self.workers(server)
        replies = []
        caller = threading.Thread(target=lambda: replies.append(
            http_request(server.port, "POST", "/mcp", {
                "jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "get_weather",
                           "arguments": {"city": "Hangzhou"}}},
                {"Content-Type": "application/json", "Accept": ACCEPT_JSON,
                 "MCP-Protocol-Version": LATEST})))
        caller.start()
        upstream.wait_requests(1, "forecast")
        server.proc.send_signal(signal.SIGTERM)
        for pid in pids.values():           # the call is still held
            wait_for(lambda: "[%d] shutting down: in-flight" % pid
                     in self.log(server), message=server.lines)
        gate.set()
        caller.join(TIMEOUT)
        self.assertEqual(replies[0].status, 200, replies[0].body)
        self.assertIn("Hangzhou", replies[0].json()["result"]["content"][0]
                      ["text"])
        self.assertEqual(server.proc.wait(TIMEOUT), 0)
        self.assertIn("[%d] stopped" % server.proc.pid, self.log(server))
        for pid in pids.values():
            self.assertGone(pid)

    def test_sessions_refuse_workers(self):
        """ Workers without --stateless would answer a session's requests
        from a process that never saw it (404, B-1): refused with a
        message naming --stateless and the nginx recipe, before any
        process starts.  MCP_WORKERS works like the flag. """
        env = clean_environment()
        env["MCP_WORKERS"] = "2"
        done = subprocess.run([sys.executable, SERVER_FILE, "--port", "0"],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env,
                              timeout=TIMEOUT)
        self.assertEqual(done.returncode, 2)
        text = done.stderr.decode("utf-8")
        self.assertIn("--workers 2 needs --stateless", text)
        self.assertIn("deploy/nginx-sessions.conf", text)
        self.assertNotIn("Traceback", text)
        self.assertNotIn("listening", text)

    def test_a_port_in_use_is_refused(self):
        """ Another copy listening on the port, with SO_REUSEPORT as ours
        do: the kernel would let the two share it silently, so the parent
        checks first and exits 1 with the reason. """
        other = socket.socket()
        self.addCleanup(other.close)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        done = subprocess.run([sys.executable, SERVER_FILE, "--stateless",
                               "--workers", "2", "--port",
                               str(other.getsockname()[1])],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              env=clean_environment(), timeout=TIMEOUT)
        self.assertEqual(done.returncode, 1)
        self.assertIn(b"cannot listen on 127.0.0.1:%d" %
                      other.getsockname()[1], done.stderr)
        self.assertNotIn(b"accepting connections", done.stderr)

    def test_workers_problem(self):
        problem = mcp_weather.workers_problem
        self.assertIsNone(problem(mcp_weather.Config()))
        self.assertIsNone(problem(mcp_weather.Config(workers=4,
                                                     stateless=True)))
        self.assertIn("at least 1", problem(mcp_weather.Config(workers=0)))
        self.assertIn("--stdio", problem(mcp_weather.Config(
            workers=2, stateless=True, stdio=True)))
