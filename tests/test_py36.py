"""Python 3.6 (issue 20): the names that mcp_weather's "Compatibility:
Python 3.6" block defines behave as CPython 3.7's standard library does.
On 3.7 and later they are the standard library's own, so these tests check
the same behaviour on every interpreter; .ci/run runs them on 3.6 too."""

import http.client
import http.server
import shutil
import tempfile
import threading
import unittest

import mcp_weather
from tests.support import TIMEOUT, _make_certificate, loopback_http_server, ssl


class ThreadingHTTPServerTests(unittest.TestCase):
    """ http.server.ThreadingHTTPServer (3.7): one daemon thread per
    connection, so one slow request holds up no other and a server that
    is not shut down never keeps the process alive. """

    def test_it_is_the_standard_librarys_where_there_is_one(self):
        if hasattr(http.server, "ThreadingHTTPServer"):
            self.assertIs(mcp_weather.ThreadingHTTPServer,
                          http.server.ThreadingHTTPServer)
        self.assertTrue(mcp_weather.ThreadingHTTPServer.daemon_threads)
        self.assertTrue(issubclass(mcp_weather.MCPServer,
                                   mcp_weather.ThreadingHTTPServer))

    def test_a_held_request_does_not_stop_the_next_connection(self):
        """ The first connection's request waits until the second one's
        has been answered: only a server with a thread per connection
        gets through.  Both threads are daemons. """
        released = threading.Event()
        daemons = []

        def do_GET(handler):
            daemons.append(threading.current_thread().daemon)
            if handler.path == "/hold":
                released.wait(TIMEOUT)
            else:
                released.set()
            body = handler.path.encode()
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

        server, thread = loopback_http_server("py36-threads", do_GET=do_GET)
        self.addCleanup(thread.join, TIMEOUT)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        port = server.server_address[1]
        held = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        other = http.client.HTTPConnection("127.0.0.1", port,
                                           timeout=TIMEOUT)
        self.addCleanup(held.close)
        self.addCleanup(other.close)
        held.request("GET", "/hold")
        other.request("GET", "/release")
        self.assertEqual(other.getresponse().read(), b"/release")
        self.assertEqual(held.getresponse().read(), b"/hold")
        self.assertTrue(released.is_set())
        self.assertEqual(daemons, [True, True])


class StrIsasciiTests(unittest.TestCase):
    """ str.isascii (3.7), which the JSON Schema string check uses to skip
    the UTF-8 test of plain ASCII text. """

    SAMPLES = [("", True), ("Hangzhou", True), ("\x00\x7f", True),
               ("\x80", False), ("São Paulo", False), ("杭州", False),
               ("a\ud800", False), ("\U0001f600", False)]

    def test_every_character_below_u0080(self):
        for text, expected in self.SAMPLES:
            self.assertIs(mcp_weather.str_isascii(text), expected, text)
            if hasattr(str, "isascii"):
                self.assertIs(text.isascii(), expected, text)

    def test_lone_surrogate_is_still_refused_by_the_schema(self):
        """ The check the shortcut guards: a lone surrogate (from a \\ud800
        escape) is not valid Unicode text. """
        problems = mcp_weather.validate({"type": "string"}, "a\ud800")
        self.assertTrue(any("not valid Unicode" in p for p in problems),
                        problems)
        self.assertEqual(mcp_weather.validate({"type": "string"}, "杭州"), [])


class TLSMinimumVersionTests(unittest.TestCase):
    """ --tls-cert: TLS 1.2 or later, with SSLContext.minimum_version where
    it exists (3.7+) and the OP_NO_* options on 3.6. """

    def test_tls_1_0_and_1_1_are_refused(self):
        if ssl is None:
            self.skipTest("this Python has no ssl module: HTTPS is not "
                          "tested")
        directory = tempfile.mkdtemp(prefix="test_py36_tls_")
        self.addCleanup(shutil.rmtree, directory)
        files = _make_certificate(directory)
        if files is None:
            self.skipTest("no openssl command to make a self-signed "
                          "certificate: HTTPS is not tested")
        context = mcp_weather.make_tls_context(mcp_weather.Config(
            tls_cert=files[0], tls_key=files[1]))
        if hasattr(context, "minimum_version"):
            self.assertGreaterEqual(context.minimum_version,
                                    ssl.TLSVersion.TLSv1_2)
        else:
            for option in (ssl.OP_NO_SSLv3, ssl.OP_NO_TLSv1,
                           ssl.OP_NO_TLSv1_1):
                self.assertTrue(context.options & option, option)
        self.assertFalse(context.options & ssl.OP_NO_TLSv1_2)


if __name__ == "__main__":
    unittest.main()
