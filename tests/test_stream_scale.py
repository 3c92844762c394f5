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
import unittest

import mcp_client
import mcp_weather
from test_mcp import ServerTestCase, TIMEOUT, LATEST

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
    above line, so the next sockets made (and accepted) land there. """
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


def read_head(sock):
    """ Read from sock until the end of an HTTP response head; return what
    came (head and any body bytes after it), or b"" at end of stream. """
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


def read_keepalives(sock, count, marker=b": keep-alive"):
    """ Read body bytes from sock until marker has come count times; return
    (data, ended), ended True when the server closed first. """
    data = b""
    while data.count(marker) < count:
        chunk = sock.recv(65536)
        if not chunk:
            return data, True
        data += chunk
    return data, False


class HighDescriptorStreamTests(ServerTestCase):
    """ B-13, S30, S32 past FD_SETSIZE: keep-alives on time, stream open. """

    settings = {"keepalive": 0.2}

    def setUp(self):
        super(HighDescriptorStreamTests, self).setUp()
        self.addCleanup(open_files_room(HIGH + 256))

    def open_get_stream(self, sid):
        """ A raw socket with a GET stream request sent, connected while
        the lowest free descriptors are above HIGH: the server's accepted
        socket lands there too.  The head is read before the burned
        descriptors go, so the accept has happened by then. """
        with descriptors_burned_past(HIGH):
            sock = socket.create_connection(("127.0.0.1", self.port),
                                            timeout=TIMEOUT)
            self.addCleanup(sock.close)
            self.assertGreater(sock.fileno(), HIGH)
            sock.sendall(("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                          "Accept: text/event-stream\r\n"
                          "Mcp-Session-Id: %s\r\n"
                          "MCP-Protocol-Version: %s\r\n\r\n"
                          % (self.port, sid, LATEST)).encode())
            head = read_head(sock)
        return sock, head

    def test_get_stream_above_fd_setsize_gets_keepalives(self):
        """ The stream's socket (client and server end) is past 1024: it
        gets 200, then keep-alive comments every 0.2 s, and stays open
        after two of them (the old select()-based check closed it at the
        first, reading ValueError as a vanished client). """
        sid = self.initialize()
        sock, head = self.open_get_stream(sid)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head[:80])
        data, ended = read_keepalives(sock, 2)
        self.assertFalse(ended, "the server closed the stream: %r"
                         % data[-200:])
        self.assertEqual(data.count(b": keep-alive"), 2)


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
        with descriptors_burned_past(HIGH):
            connection.connect()
        self.assertGreater(connection.sock.fileno(), HIGH)
        pool.idle.append(connection)        # as give_back() leaves it
        again, reused = pool.take(TIMEOUT)
        self.assertIs(again, connection)
        self.assertTrue(reused)


class ReadableNowTests(unittest.TestCase):
    """ mcp_weather.readable_now() on a descriptor past FD_SETSIZE. """

    def setUp(self):
        self.addCleanup(open_files_room(HIGH + 256))

    def test_idle_then_readable_then_end_of_stream(self):
        with descriptors_burned_past(HIGH):
            left, right = socket.socketpair()
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
