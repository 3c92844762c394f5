"""Stream scale (issue 18): a stream whose socket lies past FD_SETSIZE.

select.select() takes no descriptor at or past FD_SETSIZE (1024 on Linux).
The server once used it to look for a vanished client before each
keep-alive (MCPRequestHandler.peer_gone); the ValueError it raised read as
"client gone", so with more than about a thousand connections open every
stream above that line was closed at its first keep-alive and its client
reconnected every keep-alive interval (B-13, S30).  These tests hold a GET
stream (S32) and a client's kept-alive connection on descriptors above 1024
in this process, and the client's check of an idle kept-alive connection
(mcp_client.py) on one.  The load test with 10,000 streams is soak/streams.py.
"""

import contextlib
import os
import socket
import sys
import threading
import unittest
import unittest.mock

import mcp_client
import mcp_weather
from tests import support
from tests.support import (ACCEPT_BOTH, LATEST, ServerProcess, ServerTestCase,
                           TIMEOUT, http_request, initialize_message,
                           read_head, read_keepalives, wait_for)

try:
    import resource     # Unix only: elsewhere the tests skip
except ImportError:     # pragma: no cover
    resource = None

HIGH = 1024 + 16        # a descriptor past FD_SETSIZE, with some margin


def open_files_room(needed):
    """ Raise this process's soft RLIMIT_NOFILE to at least needed (never
    past the hard limit); return a function that restores it, or raise
    SkipTest when the hard limit is too low or cannot be read. """
    if resource is None:
        raise unittest.SkipTest("no resource module: cannot see the "
                                "open-files limit")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise unittest.SkipTest("the open-files hard limit (%d) is below "
                                "%d" % (hard, needed))
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return lambda: None
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def descriptors_burned_past(line):
    """ Hold /dev/null open until the next descriptor this process gets is
    above line, so the next sockets made land there (unless another
    thread closes a lower one meanwhile: see high()). """
    burned = []
    try:
        while True:
            fd = os.open(os.devnull, os.O_RDONLY)
            burned.append(fd)
            if fd > line:
                break
        yield
    finally:
        for fd in burned:
            os.close(fd)


def high(make, close):
    """ make() called while the descriptors up to HIGH are held, again if
    what it made is not above HIGH (another test's thread closed one). """
    for _ in range(20):
        with descriptors_burned_past(HIGH):
            made = make()
        if all(fd > HIGH for fd in made[1]):
            return made[0]
        close(made[0])
    raise AssertionError("no descriptor above %d" % HIGH)


# The server of HighDescriptorStreamTests: a subprocess that holds its
# first HIGH descriptors open before it serves, so every connection it
# accepts lands above them (in this process, another test's thread closing
# a descriptor could open a hole below).  It raises its own open-files
# limit first, so that the old code, which did not, is tested alike.
SERVER_PAST_FD_SETSIZE = """\
import os, sys
sys.path.insert(0, %(here)r)
try:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < %(needed)d:
        resource.setrlimit(resource.RLIMIT_NOFILE, (%(needed)d, hard))
except ImportError:
    pass
held = [os.open(os.devnull, os.O_RDONLY) for _ in range(%(high)d)]
import mcp_weather
sys.exit(mcp_weather.main(['--port', '0', '--keepalive', '0.2'],
                          weather=False))
"""


class HighDescriptorStreamTests(unittest.TestCase):
    """ B-13, S30, S32 past FD_SETSIZE: keep-alives on time, stream open. """

    def setUp(self):
        self.addCleanup(open_files_room(HIGH + 256))  # skips if too low
        script = SERVER_PAST_FD_SETSIZE % {
            "here": support.HERE, "needed": HIGH + 256, "high": HIGH}
        self.server = ServerProcess([sys.executable, "-c", script])
        self.addCleanup(self.server.close)

    def initialize(self):
        reply = http_request(self.server.port, "POST", "/mcp",
                             initialize_message(LATEST), {
                                 "Content-Type": "application/json",
                                 "Accept": "application/json"})
        self.assertEqual(reply.status, 200, reply.body)
        sid = reply.headers.get("Mcp-Session-Id")
        reply = http_request(self.server.port, "POST", "/mcp", {
            "jsonrpc": "2.0", "method": "notifications/initialized"}, {
                "Content-Type": "application/json",
                "Accept": ACCEPT_BOTH, "Mcp-Session-Id": sid,
                "MCP-Protocol-Version": LATEST})
        self.assertEqual(reply.status, 202)
        return sid

    def test_get_stream_above_fd_setsize_gets_keepalives(self):
        """ The server's end of the stream is past descriptor 1024: it
        gets 200, then keep-alive comments every 0.2 s, and stays open
        after two of them (the old select()-based check closed it at the
        first, reading ValueError as a vanished client). """
        sid = self.initialize()
        sock = socket.create_connection(("127.0.0.1", self.server.port),
                                        timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "Accept: text/event-stream\r\n"
                      "Mcp-Session-Id: %s\r\n"
                      "MCP-Protocol-Version: %s\r\n\r\n"
                      % (self.server.port, sid, LATEST)).encode())
        head = read_head(sock)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:80])
        data, ended = read_keepalives(sock, 2)
        self.assertFalse(ended, "the server closed the stream: %r"
                         % data[-200:])
        self.assertEqual(data.count(b": keep-alive"), 2)


class KeepAliveThreadTests(ServerTestCase):
    """ KeepAlives: one thread writes the keep-alives of idle streams
    (B-13, S30) while their own threads sleep; it also notices a client
    that went away, and the stream's thread then ends. """

    settings = {"keepalive": 0.1}

    def open_stream(self):
        sid = self.initialize()
        sock = socket.create_connection(("127.0.0.1", self.port),
                                        timeout=TIMEOUT)
        self.addCleanup(sock.close)
        sock.sendall(("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                      "Accept: text/event-stream\r\nMcp-Session-Id: %s\r\n"
                      "MCP-Protocol-Version: %s\r\n\r\n"
                      % (self.port, sid, LATEST)).encode())
        self.assertTrue(read_head(sock).startswith(b"HTTP/1.1 200 "))
        return sid, sock

    def streams_open(self):
        with self.server.active_cond:
            return self.server.active["streams"]

    def test_keepalives_come_from_one_thread_and_events_still_flow(self):
        """ Three streams, each getting keep-alives, all three watched by
        the server's one KeepAlives thread; an event pushed to a sleeping
        stream goes out at once. """
        socks = [self.open_stream() for _ in range(3)]
        for _, sock in socks:
            data, ended = read_keepalives(sock, 2)
            self.assertFalse(ended)
        keepalives = self.server.keepalives
        self.assertIn(keepalives.thread, threading.enumerate())
        wait_for(lambda: len(keepalives._heap) == 3)    # one per stream
        sid, sock = socks[0]
        self.dispatcher.sessions.get(sid).standalone.push(
            {"jsonrpc": "2.0", "method": "notifications/message",
             "params": {"level": "info", "data": "hello"}})
        data, ended = read_keepalives(sock, 1, marker=b'"hello"')
        self.assertFalse(ended)

    def test_stream_thread_ends_when_its_client_goes(self):
        """ A client that closes its end while its stream is idle: seen at
        a keep-alive by KeepAlives, and the stream's thread lets go (the
        server's count of open streams is back to zero). """
        _, sock = self.open_stream()
        read_keepalives(sock, 1)
        wait_for(lambda: self.streams_open() == 1)
        sock.close()
        wait_for(lambda: self.streams_open() == 0,
                 message="the stream's thread did not end")


class LongLineOfTurnsTests(unittest.TestCase):
    """ Turns with a long line (a notification to thousands of streams
    wakes thousands of threads at once): only the first in line watches
    the holder; the others sleep until they are first, then each gets
    the turn in order. """

    def test_only_the_first_in_line_watches(self):
        turns = mcp_weather.Turns()
        turns.patience = 3600.0                 # no take-over in this test
        turns.take()                            # this thread holds it
        order, lock = [], threading.Lock()

        def wait_turn(number):
            turns.take()
            with lock:
                order.append(number)
            turns.give()
        threads = []
        for number in range(50):
            thread = threading.Thread(target=wait_turn, args=(number,))
            thread.start()
            threads.append(thread)
            wait_for(lambda: len(turns._line) == number + 1)
        with turns._lock:
            told = [ticket[3] for ticket in turns._line]
        self.assertEqual(told, [True] + [False] * 49)
        turns.give()
        for thread in threads:
            thread.join(TIMEOUT)
        self.assertEqual(order, list(range(50)))


class HighDescriptorClientTests(ServerTestCase):
    """ The client's pool of kept-alive connections (mcp_client.py) past
    FD_SETSIZE: an idle connection the server still holds is reused, not
    taken for one it closed (nor a ValueError raised). """

    def setUp(self):
        super(HighDescriptorClientTests, self).setUp()
        self.addCleanup(open_files_room(HIGH + 256))

    def test_idle_connection_above_fd_setsize_is_reused(self):
        pool = mcp_client.ConnectionPool("http://127.0.0.1:%d/mcp"
                                         % self.port, TIMEOUT)
        self.addCleanup(pool.close)
        connection, reused = pool.take(TIMEOUT)
        self.assertFalse(reused)
        self.addCleanup(connection.close)

        def connect():
            connection.connect()
            return connection, [connection.sock.fileno()]
        high(connect, lambda c: c.close())
        self.assertGreater(connection.sock.fileno(), HIGH)
        pool.idle.append(connection)        # as give_back() leaves it
        again, reused = pool.take(TIMEOUT)
        self.assertIs(again, connection)
        self.assertTrue(reused)


class ProcessLimitsTests(unittest.TestCase):
    """ At start (serve_http): the open-files soft limit is raised to the
    hard one, the thread stack set, and one 'limits:' line says how many
    open streams the limits leave room for, a warning when that is fewer
    than --max-sessions (issue 18). """

    def test_soft_open_files_limit_is_raised_to_the_hard_one(self):
        if resource is None:
            self.skipTest("no resource module")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard < 1200:
            self.skipTest("hard limit %r: nothing to raise to" % hard)
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE,
                        (soft, hard))
        lowered = max(1100, len(os.listdir("/proc/self/fd")) + 64) \
            if os.path.isdir("/proc/self/fd") else 1100
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
        self.assertEqual(mcp_weather.raise_open_files_limit(),
                         (hard, lowered, hard))
        self.assertEqual(resource.getrlimit(resource.RLIMIT_NOFILE),
                         (hard, hard))

    def fit(self, files, threads, **settings):
        with unittest.mock.patch.object(
                mcp_weather, "raise_open_files_limit", lambda: files), \
                unittest.mock.patch.object(mcp_weather, "thread_limit",
                                           lambda: threads), \
                self.assertLogs("mcp_weather", "INFO") as logs:
            room = mcp_weather.fit_process_limits(
                mcp_weather.Config(**settings))
        return room, logs.output

    def test_the_limit_that_binds_is_named_with_the_room_it_leaves(self):
        room, output = self.fit((1100, 1024, 1100), (None, ""),
                                max_sessions=5000)
        self.assertEqual(room, 1100 - mcp_weather.STREAM_RESERVE)
        self.assertEqual(len(output), 1)
        self.assertTrue(output[0].startswith("WARNING:"), output)
        self.assertIn("open files 1100 (raised from 1024)", output[0])
        self.assertIn("the open-files limit (ulimit -n, LimitNOFILE=) binds "
                      "before --max-sessions 5000: room for about %d open "
                      "streams" % room, output[0])
        room, output = self.fit((65536, 65536, 65536),
                                (4096, "the cgroup's pids.max, TasksMax= "
                                 "under systemd"), max_sessions=10000)
        self.assertEqual(room, 4096 - mcp_weather.STREAM_RESERVE)
        self.assertIn("pids.max, TasksMax= under systemd binds before "
                      "--max-sessions 10000", output[0])

    def test_room_enough_is_said_at_info(self):
        room, output = self.fit((20000, 20000, 20000), (None, ""),
                                max_sessions=10000)
        self.assertTrue(output[0].startswith("INFO:"), output)
        self.assertIn("room for about %d open streams" % room, output[0])

    def test_thread_stack_applies_to_threads_started_after(self):
        self.addCleanup(threading.stack_size, threading.stack_size())
        self.fit(None, (None, ""), thread_stack=512)
        self.assertEqual(threading.stack_size(), 512 * 1024)


class ReadableNowTests(unittest.TestCase):
    """ mcp_weather.readable_now() on a descriptor past FD_SETSIZE. """

    def setUp(self):
        self.addCleanup(open_files_room(HIGH + 256))

    def test_idle_then_readable_then_end_of_stream(self):
        def pair():
            pair = socket.socketpair()
            return pair, [sock.fileno() for sock in pair]

        def close(pair):
            for sock in pair:
                sock.close()
        left, right = high(pair, close)
        self.addCleanup(left.close)
        self.addCleanup(right.close)
        self.assertGreater(left.fileno(), HIGH)
        self.assertFalse(mcp_weather.readable_now(left))
        right.sendall(b"x")
        self.assertTrue(mcp_weather.readable_now(left))
        self.assertEqual(left.recv(1), b"x")
        right.close()
        self.assertTrue(mcp_weather.readable_now(left))
        self.assertEqual(left.recv(1, socket.MSG_PEEK), b"")


if __name__ == "__main__":
    unittest.main()
